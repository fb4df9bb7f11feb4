// An HTTP/1.1 client with pipelining: every request goes out in one send, then shutdown('w')
// says there are no more (the server answers what it got, then closes), and the responses are
// read back to back from one buffer until end of stream. Without a host it starts a small
// node:http server to ask, so it runs anywhere.
//
//   node --import tsx examples/http-client.ts [host port] [path ...]
import { createServer, type Server } from 'node:http'
import { clock, tcp } from 'socket2'

/** A local server that answers each path with a line naming it. */
async function localServer(): Promise<Server> {
  const server = createServer((req, res) => res.end(`you asked for ${req.url}\n`))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

/** One response: status line, headers, and a body of Content-Length bytes (or chunked). */
interface Response {
  status: string
  body: Buffer
}

/** Splits a stream of back-to-back responses, in request order. */
function parse(data: Buffer): Response[] {
  const out: Response[] = []
  let at = 0
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at)
    if (end < 0) throw new Error('truncated response head')
    const [status, ...fields] = data.subarray(at, end).toString('latin1').split('\r\n')
    const header = (name: string) => fields.find((f) => f.toLowerCase().startsWith(name + ':'))?.slice(name.length + 1).trim()
    at = end + 4
    let body: Buffer
    if (header('transfer-encoding') === 'chunked') {
      const parts: Buffer[] = []
      for (;;) {
        const eol = data.indexOf('\r\n', at)
        const size = parseInt(data.subarray(at, eol).toString('latin1'), 16)
        at = eol + 2
        if (size === 0) break
        parts.push(data.subarray(at, at + size))
        at += size + 2
      }
      at += 2 // the empty trailer
      body = Buffer.concat(parts)
    } else {
      const len = Number(header('content-length') ?? data.length - at)
      body = data.subarray(at, at + len)
      at += len
    }
    out.push({ status: status!, body })
  }
  return out
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const local = args.length === 0 ? await localServer() : undefined
  const [host, port, ...paths] = local ? ['127.0.0.1', String((local.address() as { port: number }).port)] : args
  if (paths.length === 0) paths.push('/', '/a', '/b')

  const deadline = clock() + 10 // for the whole exchange
  await using c = tcp()
  await c.connect(host!, Number(port), deadline)

  // All requests in one send: the server reads them one after another (pipelining).
  const requests = paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: ${host}\r\n\r\n`).join('')
  await c.send(requests, undefined, deadline)
  c.shutdown('w') // no more requests: the server closes once it has answered these

  const chunks: Buffer[] = []
  const buf = new Uint8Array(65536)
  for (let n; (n = await c.recv(buf, undefined, deadline)) > 0; ) chunks.push(Buffer.from(buf.subarray(0, n)))

  for (const [i, r] of parse(Buffer.concat(chunks)).entries()) {
    console.log(`${paths[i]} -> ${r.status}, ${r.body.length} bytes: ${JSON.stringify(r.body.toString().slice(0, 60))}`)
  }
  local?.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
