/**
 * The echo servers of the two-process ping-pong, in a process of their own:
 * `echo-child.ts socket2|node` listens on an ephemeral port, prints it, and echoes every
 * connection as the in-process ping-pong's servers do, until its stdin ends.
 */
import { createServer } from 'node:net'
import { newthread, tcp } from 'socket2'
import { HOST, listenNode } from './harness'
import { nodeEcho, socket2Echo } from './pingpong'

async function listen(lib: string | undefined): Promise<number> {
  if (lib === 'socket2') {
    const server = tcp()
    await server.listen(HOST, 0)
    newthread(async () => {
      for (;;) newthread(socket2Echo, (await server.accept())[0])
    })
    return server.localAddr().port
  }
  if (lib === 'node') {
    const server = createServer(nodeEcho)
    return listenNode(server)
  }
  throw new Error('usage: echo-child.ts socket2|node')
}

listen(process.argv[2]).then(
  (port) => {
    console.log(port)
    // The parent ends stdin when it is done: then the listener and its connections go at once.
    process.stdin.on('end', () => process.exit(0)).resume()
  },
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
