/**
 * The thread's kernel poller: `epollFd()` (epoll on Linux, kqueue on macOS), `iocp()` (Windows),
 * and their errors where they do not apply.
 */
import { readlinkSync } from 'node:fs'
import { epollFd, iocp, SocketError } from 'socket2'
import { linux, onlyOn, windows } from './util.ts'

onlyOn(linux && process.env.SOCKET2_POLLER !== 'uvpoll', 'Linux only (the descriptor is an epoll instance there), and a backend with a poller descriptor (not uvpoll)')('epollFd() is this thread\'s epoll fd, the same at every call', (t) => {
  const fd = epollFd()
  t.is(epollFd(), fd)
  t.is(readlinkSync(`/proc/self/fd/${fd}`), 'anon_inode:[eventpoll]')
  t.is(epollFd(fd), fd)
})

onlyOn(!windows, 'the call applies on Windows')('iocp() outside Windows throws ERR_SOCKET_UNSUPPORTED_PLATFORM naming the platform', (t) => {
  const e = t.throws(() => iocp(), { instanceOf: SocketError, code: 'ERR_SOCKET_UNSUPPORTED_PLATFORM' })
  t.true(e.message.includes(process.platform))
  t.throws(() => iocp(3), { code: 'ERR_SOCKET_UNSUPPORTED_PLATFORM' })
})

onlyOn(windows, 'Windows only')('epollFd() on Windows throws ERR_SOCKET_UNSUPPORTED_PLATFORM naming the platform; iocp() ENOTSUP', (t) => {
  const e = t.throws(() => epollFd(), { instanceOf: SocketError, code: 'ERR_SOCKET_UNSUPPORTED_PLATFORM' })
  t.true(e.message.includes('win32'))
  t.throws(() => iocp(), { instanceOf: SocketError, code: 'ENOTSUP' })
})

onlyOn(!windows, 'epollFd() throws its platform error first there')('epollFd() with a bad descriptor throws TypeError/RangeError', (t) => {
  t.throws(() => epollFd('3' as unknown as number), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => epollFd(-1), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
})
