// TLS over socket2: `toDuplex(socket)` makes a connected socket a stream.Duplex, and node:tls
// runs over any duplex. Here both ends are socket2 sockets: the server wraps each accepted
// connection in `new tls.TLSSocket(duplex, { isServer: true })`, the client passes its duplex to
// `tls.connect({ socket })`. The certificate is a throwaway one made with openssl (cert.ts).
//
//   node --import tsx examples/tls.ts
import { once } from 'node:events'
import { connect, createSecureContext, TLSSocket } from 'node:tls'
import { clock, newthread, start, tcp, toDuplex } from 'socket2'
import { selfSigned } from './cert'

async function main(): Promise<void> {
  const { key, cert } = selfSigned()
  const secureContext = createSecureContext({ key, cert })

  const server = tcp()
  await server.listen('127.0.0.1', 0)

  // The server: one connection, TLS on top, echo in upper case until the client ends.
  newthread(async () => {
    const [c] = await server.accept(clock() + 5)
    server.close()
    const tls = new TLSSocket(toDuplex(c), { isServer: true, secureContext })
    // Not `for await`: a loop over a stream destroys it when the loop ends, and the last reply
    // may still be on its way through TLS then. `end()` sends everything written first.
    tls.on('data', (chunk) => tls.write(String(chunk).toUpperCase()))
    await once(tls, 'end')
    tls.end() // then the duplex shuts the socket down and closes it
  })

  // The client: connect with socket2 (a deadline, a signal...), then hand the socket to TLS.
  newthread(async () => {
    const c = tcp()
    await c.connect(server.localAddr(), clock() + 5)
    const tls = connect({ socket: toDuplex(c), servername: 'localhost', ca: cert })
    await once(tls, 'secureConnect')
    console.log(`client: ${tls.getProtocol()}, ${tls.getCipher().name}, certificate verified: ${tls.authorized}`)
    tls.end('hello over tls')
    let reply = ''
    for await (const chunk of tls) reply += chunk
    console.log(`client: the server said "${reply}"`)
  })

  await start()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
