/**
 * socket2: portable async sockets for Node.js over epoll, kqueue and IOCP, with threads and
 * absolute deadlines, after luapower's socket2 for LuaJIT.
 */
export { addr, addrSync, Address, AddrInfo } from './src/addr'
export type { AddressLike, AddrFlag, Family, Protocol, SocketType } from './src/addr'
export { codes, SocketError } from './src/errors'
export { optionNames } from './src/options'
export type { Membership, OptionValue } from './src/options'
export { newthread, poll, start, stop, Thread } from './src/scheduler'
export { Socket } from './src/socket'
export { Datagram, type Message, type Received } from './src/dgram'
export { raw, Raw } from './src/raw'
export { tcp, Tcp } from './src/tcp'
export { udp, Udp } from './src/udp'
export { clock, sleep, sleepUntil } from './src/timers'
