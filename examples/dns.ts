// A DNS query over UDP: the A (IPv4) records of a name, asked of a resolver directly, one
// datagram each way. The query is built and the answer parsed by hand (RFC 1035), which is all
// a stub resolver does; a deadline bounds the wait, as a lost datagram is never resent here.
//
//   node --import tsx examples/dns.ts [name=example.com] [server=first nameserver in /etc/resolv.conf] [port=53]
import { readFileSync } from 'node:fs'
import { clock, udp } from 'socket2'

/** The first `nameserver` of /etc/resolv.conf, else a public resolver. */
function systemResolver(): string {
  try {
    const m = /^\s*nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))
    if (m) return m[1]!
  } catch {}
  return '1.1.1.1'
}

/** A query for the A records of `name`, with id `id` and recursion desired. */
function query(id: number, name: string): Buffer {
  const labels = name.split('.').filter((l) => l !== '')
  const q = Buffer.alloc(12 + labels.reduce((n, l) => n + 1 + Buffer.byteLength(l), 1) + 4)
  q.writeUInt16BE(id, 0)
  q.writeUInt16BE(0x0100, 2) // RD
  q.writeUInt16BE(1, 4) // one question
  let at = 12
  for (const l of labels) {
    q[at] = Buffer.byteLength(l) // each label: its length, then its bytes
    at += 1 + q.write(l, at + 1)
  }
  q[at++] = 0
  q.writeUInt16BE(1, at) // type A
  q.writeUInt16BE(1, at + 2) // class IN
  return q
}

/** Skips a (possibly compressed) name at `at`; returns the offset after it. */
function skipName(m: Buffer, at: number): number {
  while (m[at]! !== 0) {
    if ((m[at]! & 0xc0) === 0xc0) return at + 2 // a pointer ends the name
    at += m[at]! + 1
  }
  return at + 1
}

/** The IPv4 addresses in the answer section of response `m`. */
function answers(m: Buffer): string[] {
  const rcode = m.readUInt16BE(2) & 0xf
  if (rcode !== 0) throw new Error(`the server answered rcode ${rcode}${rcode === 3 ? ' (no such name)' : ''}`)
  let at = 12
  for (let q = m.readUInt16BE(4); q > 0; q--) at = skipName(m, at) + 4
  const ips: string[] = []
  for (let a = m.readUInt16BE(6); a > 0; a--) {
    at = skipName(m, at)
    const type = m.readUInt16BE(at)
    const len = m.readUInt16BE(at + 8)
    if (type === 1 && len === 4) ips.push([...m.subarray(at + 10, at + 14)].join('.'))
    at += 10 + len
  }
  return ips
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? 'example.com'
  const server = process.argv[3] ?? systemResolver()
  const port = Number(process.argv[4] ?? 53)

  await using u = udp(server.includes(':') ? 'inet6' : 'inet')
  await u.connect(server, port) // replies from anyone else are filtered out by the kernel
  const id = Math.floor(Math.random() * 0x10000)
  await u.send(query(id, name))

  const buf = Buffer.alloc(512) // the classic UDP DNS limit
  const deadline = clock() + 3
  for (;;) {
    const [n] = await u.recv(buf, undefined, deadline) // ETIMEDOUT after 3 s
    const reply = buf.subarray(0, n)
    if (reply.readUInt16BE(0) !== id) continue // a stale answer to someone else's query
    console.log(`${name} A ${answers(reply).join(' ') || '(none)'}  (from ${server})`)
    return
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
