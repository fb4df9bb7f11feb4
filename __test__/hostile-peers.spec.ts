/**
 * Peers that misbehave: a reset in the middle of a transfer (either way), a peer that never
 * reads, one that sends a byte at a time, a listener whose backlog is full, and a close that the
 * kernel would make wait. Each ends in the documented outcome, without a hang or a leak.
 */
import test from 'ava'
import { clock, SocketError } from 'socket2'
import { closing, pair, readAll, within } from './util'

/** A transfer big enough that the sender waits for room in the peer's window. */
const pattern = (n: number): Buffer => Buffer.alloc(n, 'socket2 reliability ')

test('close() with so_linger set returns at once while unsent data waits for a peer that does not read, and the data still arrives, then a clean end', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  // A blocking close would take the whole linger time: 30 s, against a bound of 10 s.
  c.setopt('so_linger', 30)
  const data = pattern(8 << 20)
  const sending = c.send(data)
  const closed = t.throwsAsync(sending, { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' })
  // Let the send fill both buffers first, so the close has data to linger on.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const before = clock()
  c.close()
  t.true(clock() - before < 10, `close() took ${(clock() - before).toFixed(1)} s`)
  await closed
  // The kernel lingers as asked: what it took goes out, then FIN (not a reset).
  const got = await within(readAll(s), 20_000)
  t.true(got.length > 0)
  t.true(got.equals(data.subarray(0, got.length)))
})
