/**
 * The native binding's per-operation calls (plain Node-API callbacks, not napi-rs glue) refuse
 * bad arguments with a TypeError, and a byte range their buffer does not hold with EFAULT,
 * instead of reading memory they were not given. The public API
 * validates first, so only direct use of the binding reaches these checks.
 */
import test from 'ava'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { constants } from 'node:os'
import { udp } from 'socket2'
import { detach, within } from './util.ts'

type Native = typeof import('../binding')
const native = createRequire(import.meta.url)(join(import.meta.dirname, '..', 'binding.js')) as Native

const badType = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }
const UNKNOWN_ID = 0x7fffffff
// The binding returns the OS's socket error numbers: WSAE* on Windows.
const errno = constants.errno as Record<string, number>
const EBADF = -(errno.WSAEBADF ?? errno.EBADF)
const EFAULT = -(errno.WSAEFAULT ?? errno.EFAULT)

/** The native id of a public socket (an internal method). */
function idOf(s: object): number {
  return (s as { id(syscall: string): number }).id('test')
}

test('each hot call throws TypeError ERR_INVALID_ARG_TYPE for a missing or mistyped argument', (t) => {
  const buf = Buffer.alloc(8)
  const meta = new Uint8Array(130)
  const calls: [string, () => unknown][] = [
    ['send without arguments', () => (native.send as () => number)()],
    ['send with a string for the buffer', () => native.send(UNKNOWN_ID, 'data' as unknown as Uint8Array, 0, 4)],
    ['recv with a Float64Array', () => native.recv(UNKNOWN_ID, new Float64Array(2) as unknown as Uint8Array, 0, 8)],
    ['recv with a string for the id', () => native.recv('1' as unknown as number, buf, 0, 8)],
    ['sendTo without the address', () => (native.sendTo as (...a: unknown[]) => number)(UNKNOWN_ID, buf, 0, 8)],
    ['recvFrom with an object for meta', () => native.recvFrom(UNKNOWN_ID, buf, 0, 8, {} as Uint8Array)],
    ['recvFrom with a number for the buffer', () => native.recvFrom(UNKNOWN_ID, 8 as unknown as Uint8Array, 0, 8, meta)],
    ['sendText with a Buffer for the text', () => native.sendText(UNKNOWN_ID, buf as unknown as string, 8)],
    ['sendText with a number for the address', () => native.sendText(UNKNOWN_ID, 'x', 1, 5 as unknown as Uint8Array)],
  ]
  for (const [what, call] of calls) t.throws(call, badType, what)
})

test('recvFrom refuses a meta array that overlaps the buffer (two writers of one memory)', (t) => {
  const whole = new Uint8Array(256)
  t.throws(() => native.recvFrom(UNKNOWN_ID, whole.subarray(0, 100), 0, 100, whole.subarray(50, 180)), {
    ...badType,
    message: /overlap/,
  })
  // Side by side is fine: the unknown id is what fails.
  t.is(native.recvFrom(UNKNOWN_ID, whole.subarray(0, 100), 0, 100, whole.subarray(100, 230)), EBADF)
})

test('an unknown id is EBADF, and a range past a detached buffer is EFAULT, never a crash', (t) => {
  t.is(native.send(UNKNOWN_ID, Buffer.alloc(4), 0, 4), EBADF)
  t.is(native.recv(UNKNOWN_ID, new Uint8Array(0), 0, 0), EBADF)
  const detached = new Uint8Array(new ArrayBuffer(16))
  detach(detached)
  t.is(detached.byteLength, 0)
  t.is(native.recv(UNKNOWN_ID, detached, 0, 16), EFAULT)
  t.is(native.recv(UNKNOWN_ID, detached, 0, 0), EBADF)
})

test('a range the buffer does not hold is refused with EFAULT and nothing is sent; so is a text length past the text', async (t) => {
  const a = udp()
  const b = udp()
  try {
    await a.bind('127.0.0.1', 0)
    await b.bind('127.0.0.1', 0)
    const wire = new Uint8Array(128)
    const to = wire.subarray(0, native.encodeAddress('inet', '127.0.0.1', a.localAddr().port, 0, wire))
    const data = Buffer.from('abcdefgh')
    t.is(native.sendTo(idOf(b), data, 6, 100, to), EFAULT) // 100 bytes from offset 6 of 8
    t.is(native.sendTo(idOf(b), data, 100, 0, to), EFAULT) // an offset past the end
    t.is(native.sendTo(idOf(b), data, 0xffffffff, 0xffffffff, to), EFAULT) // no overflow
    t.is(native.sendText(idOf(b), 'abc', 100, to), EFAULT)
    t.is(native.sendText(idOf(b), 'xyz', 0xffffffff, to), EFAULT)
    // The ranges the buffer holds, up to its very end, go.
    t.is(native.sendTo(idOf(b), data, 8, 0, to), 0)
    t.is(native.sendTo(idOf(b), data, 6, 2, to), 2)
    t.is(native.sendText(idOf(b), 'abc', 3, to), 3)
    for (const expected of ['', 'gh', 'abc']) {
      const got = Buffer.alloc(16)
      const [n] = await within(a.recv(got))
      t.is(got.subarray(0, n).toString(), expected)
    }
  } finally {
    a.close()
    b.close()
  }
})
