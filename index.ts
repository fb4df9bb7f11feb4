/**
 * socket2: portable async sockets for Node.js over epoll, kqueue and IOCP, with threads and
 * absolute deadlines, after luapower's socket2 for LuaJIT.
 *
 * Each export is an alias (`export import`), so the CommonJS entry assigns it once
 * (`exports.tcp = ...`) instead of defining a getter that every `socket2.tcp` would call, and
 * editors show the documentation written beside the code in `src/`.
 */
import * as abort from './src/abort'
import * as address from './src/addr'
import * as dgram from './src/dgram'
import * as duplex from './src/duplex'
import * as errors from './src/errors'
import * as handover from './src/handover'
import * as options from './src/options'
import * as poller from './src/poller'
import * as rawSockets from './src/raw'
import * as scheduler from './src/scheduler'
import * as socket from './src/socket'
import * as stats_ from './src/stats'
import * as tcpSockets from './src/tcp'
import * as timers from './src/timers'
import * as udpSockets from './src/udp'

export import addr = address.addr
export import addrSync = address.addrSync
export import Address = address.Address
export import AddrInfo = address.AddrInfo
export type { AddressLike, AddrFlag, Family, Protocol, SocketType } from './src/addr'

export import AbortError = abort.AbortError
export type { Expires, WaitOptions } from './src/abort'
export import codes = errors.codes
export import SocketError = errors.SocketError

export import optionNames = options.optionNames
export type { Membership, OptionValue } from './src/options'

export import epollFd = poller.epollFd
export import iocp = poller.iocp
export import newthread = scheduler.newthread
export import poll = scheduler.poll
export import start = scheduler.start
export import stop = scheduler.stop
export import Thread = scheduler.Thread
export type { RunOptions } from './src/scheduler'

export import Socket = socket.Socket
export import adopt = handover.adopt
export import Datagram = dgram.Datagram
export type { Message, Received } from './src/dgram'
export import raw = rawSockets.raw
export import Raw = rawSockets.Raw
export import tcp = tcpSockets.tcp
export import Tcp = tcpSockets.Tcp
export import udp = udpSockets.udp
export import Udp = udpSockets.Udp

export import toDuplex = duplex.toDuplex
export type { DuplexOptions } from './src/duplex'

export import stats = stats_.stats
export type { Stats } from './src/stats'

export import clock = timers.clock
export import sleep = timers.sleep
export import sleepUntil = timers.sleepUntil
export type { SleepOptions } from './src/timers'
