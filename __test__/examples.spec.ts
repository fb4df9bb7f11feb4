/**
 * The examples run as users run them (`node --import tsx examples/<name>.ts`), each checked by
 * what it prints. They talk only to loopback: the DNS example asks a resolver this spec runs.
 */
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { udp } from 'socket2'
import { childStart, linuxOnly, onlyOn, rawAllowed, windows, withOpenssl } from './util.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const exec = promisify(execFile)

/** The example running now: they run one at a time, as a node started under an emulator takes
 * a core to itself for seconds, and seven at once would starve each other past any bound. */
let running: Promise<unknown> = Promise.resolve()

/** Runs an example to its end, after the one before it; its stdout. */
async function example(name: string, ...args: string[]): Promise<string> {
  const run = running.then(() =>
    exec(process.execPath, ['--import', 'tsx', `examples/${name}.ts`, ...args], {
      cwd: root,
      timeout: 30_000 + childStart,
    }),
  )
  running = run.catch(() => {})
  return (await run).stdout
}

test('demo: echo clients are answered and the impatient one times out', async (t) => {
  const out = await example('demo')
  for (let i = 1; i <= 4; i++) t.regex(out, new RegExp(`client ${i}: echoed "hello from client ${i}"`))
  t.regex(out, /impatient client: ETIMEDOUT \(timeout\); socket closed: true/)
  t.regex(out, /all threads finished/)
})

test('echo: three clients get their line back and closing the server ends its for await', async (t) => {
  const out = await example('echo')
  t.regex(out, /^echo server on 127\.0\.0\.1:\d+$/m)
  t.is(out.match(/^server: connection from 127\.0\.0\.1:\d+$/gm)?.length, 3)
  for (const i of [0, 1, 2]) t.regex(out, new RegExp(`^client ${i}: "hello ${i}"$`, 'm'))
  t.regex(out, /server: closed\n$/)
})

test('http-client: three pipelined requests, each response in order', async (t) => {
  const out = await example('http-client')
  t.is(
    out,
    [
      '/ -> HTTP/1.1 200 OK, 16 bytes: "you asked for /\\n"',
      '/a -> HTTP/1.1 200 OK, 17 bytes: "you asked for /a\\n"',
      '/b -> HTTP/1.1 200 OK, 17 bytes: "you asked for /b\\n"',
      '',
    ].join('\n'),
  )
})

test('dns: the A record a resolver on loopback answers is printed', async (t) => {
  // A resolver that answers every A question with 192.0.2.7, echoing the query's id and question.
  const resolver = createSocket('udp4')
  t.teardown(() => resolver.close())
  const questions: string[] = []
  resolver.on('message', (q, from) => {
    let at = 12
    const labels: string[] = []
    while (q[at] !== 0) {
      labels.push(q.subarray(at + 1, at + 1 + q[at]!).toString())
      at += q[at]! + 1
    }
    questions.push(labels.join('.'))
    const head = Buffer.from(q.subarray(0, at + 5))
    head.writeUInt16BE(0x8180, 2) // a response, recursion available, no error
    head.writeUInt16BE(1, 6) // one answer
    const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7])
    resolver.send(Buffer.concat([head, answer]), from.port, from.address)
  })
  resolver.bind(0, '127.0.0.1')
  await once(resolver, 'listening')
  const out = await example('dns', 'socket2.example', '127.0.0.1', String((resolver.address() as AddressInfo).port))
  t.is(out, 'socket2.example A 192.0.2.7  (from 127.0.0.1)\n')
  t.deepEqual(questions, ['socket2.example'])
})

/** Runs the workers example with four workers and 64 clients, sharing the port as `mode` says
 * (and the main thread's poller with `shared`). */
async function workers(t: ExecutionContext, mode: 'reuseport' | 'handover', shared = false): Promise<void> {
  const out = await example('workers', '4', '64', mode, ...(shared ? ['shared'] : []))
  t.regex(out, /^4 workers (listening|served by one listener) on 127\.0\.0\.1:\d+(, sharing poller \d+)?$/m)
  t.is(/, sharing poller \d+$/m.test(out), shared)
  const served = out.match(/^client \d+: served by worker \d+$/gm) ?? []
  t.is(served.length, 64)
  // 64 connections hashed over 4 listeners miss one with a chance of 4 * (3/4)^64, about 1e-7.
  t.regex(out, /^4 of 4 workers served clients$/m)
  t.regex(out, /workers exited\n$/)
}

linuxOnly('so_reuseport balances connections there')('workers: four worker threads listen on one port with so_reuseport, every one serves clients, then they exit', (t) => workers(t, 'reuseport'))

test('workers: one listener hands connections over to four worker threads in turn, every one serves clients, then they exit', (t) => workers(t, 'handover'))

onlyOn(!windows && (process.env.SOCKET2_POLLER ?? 'uv') === 'uv', 'a kernel poller to share (the default backend, off Windows)')('workers: four worker threads sharing the main thread\'s kernel poller each get connections handed over and serve them', (t) => workers(t, 'handover', true))

withOpenssl()('tls: a socket2 client and server speak TLS 1.3 over toDuplex', async (t) => {
  const out = await example('tls')
  t.regex(out, /^client: TLSv1\.3, \S+, certificate verified: true$/m)
  t.regex(out, /^client: the server said "HELLO OVER TLS"$/m)
})

/** Whether this process may ping: a raw socket, or the unprivileged ICMP datagram socket. */
function mayPing(): boolean {
  if (rawAllowed()) return true
  try {
    udp('inet', 'icmp').close()
    return true
  } catch {
    return false
  }
}

onlyOn(mayPing(), 'neither a raw nor an ICMP datagram socket may be opened here')('ping: one echo request to 127.0.0.1 is answered', async (t) => {
  const out = await example('ping', '127.0.0.1', '1', '0')
  t.regex(out, /1 packets transmitted, 1 received, 0% packet loss/)
})
