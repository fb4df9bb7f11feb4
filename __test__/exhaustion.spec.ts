/** Running out of descriptors: each call fails with EMFILE as documented, and recovers once some are freed. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { childStart, onlyOn, windows } from './util'

const fixture = fileURLToPath(new URL('./fixtures/emfile-recover.mjs', import.meta.url))

onlyOn(!windows, 'needs a POSIX shell for ulimit')('with no descriptor left, tcp() and udp() throw EMFILE and accept rejects EMFILE while a socket made before still connects; once four are freed, accept, a new socket and its connect work and echo', (t) => {
  const r = spawnSync('sh', ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, fixture], {
    encoding: 'utf8',
    timeout: 20_000 + childStart,
  })
  t.is(r.status, 0, `${r.signal ?? ''} ${r.stderr}`)
  t.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), {
    tcp: 'EMFILE socket',
    udp: 'EMFILE socket',
    connect: 'ok',
    accept: 'EMFILE accept',
    acceptAfter: 'ok',
    connectAfter: 'ok',
    echo: 'hi',
  })
})
