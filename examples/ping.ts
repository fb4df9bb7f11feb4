// ping, like `ping -c 3 127.0.0.1`: ICMP echo requests one second apart, and the round-trip time
// of each reply. A raw socket is used when the process may open one (root or CAP_NET_RAW);
// otherwise the unprivileged ICMP datagram socket (Linux: net.ipv4.ping_group_range must include
// your group; macOS: always), for which the kernel picks the echo id and hides the IP header.
//
//   node --import tsx examples/ping.ts [host=127.0.0.1] [count=3] [interval=1]
import { isIP } from 'node:net'
import { addr, type Address, clock, type Datagram, newthread, raw, sleep, SocketError, start, udp } from 'socket2'

const host = process.argv[2] ?? '127.0.0.1'
const count = Number(process.argv[3] ?? 3)
const interval = Number(process.argv[4] ?? 1)
const DATA = 56 // payload bytes, as ping sends: 64 bytes of ICMP in all

/** The Internet checksum (RFC 1071). */
function checksum(b: Uint8Array): number {
  let sum = 0
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) + (i + 1 < b.length ? b[i + 1]! : 0)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/** Whether an error says "not allowed" (no privilege, or a ping socket the OS refuses). */
function denied(e: unknown): e is SocketError {
  return e instanceof SocketError && (e.code === 'EPERM' || e.code === 'EACCES')
}

/** A raw ICMP socket if allowed, else a ping socket, else null with the reasons. */
function open(family: 'inet' | 'inet6'): { sock: Datagram; kind: 'raw' | 'ping' } | { reasons: string[] } {
  const reasons: string[] = []
  try {
    return { sock: raw(family), kind: 'raw' }
  } catch (e) {
    if (!denied(e)) throw e
    reasons.push(`raw socket: ${e.code} (needs root or CAP_NET_RAW)`)
  }
  try {
    return { sock: udp(family, family === 'inet' ? 'icmp' : 'icmpv6'), kind: 'ping' }
  } catch (e) {
    if (!denied(e)) throw e
    const gid = process.getgid?.()
    reasons.push(`ICMP datagram socket: ${e.code} (net.ipv4.ping_group_range does not include gid ${gid})`)
  }
  return { reasons }
}

/** ping's way of writing milliseconds: three significant digits. */
function ms(seconds: number): string {
  const v = seconds * 1000
  return v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)
}

async function main(): Promise<void> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`count must be a positive integer, got ${process.argv[3]}`)
  const family = isIP(host) === 6 ? 'inet6' : 'inet'
  // Looked up as for UDP: only the address matters to an ICMP socket.
  const target = (await addr(host, 0, 'udp', family)).toAddress()
  const opened = open(family)
  if ('reasons' in opened) {
    console.error(`ping: cannot open an ICMP socket:\n  ${opened.reasons.join('\n  ')}`)
    console.error("Run as root, or allow unprivileged ping: sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'")
    process.exitCode = 2
    return
  }
  const { sock, kind } = opened
  const v6 = family === 'inet6'
  const [request, reply] = v6 ? [128, 129] : [8, 0]
  let id = process.pid & 0xffff // a ping socket's id is its port, set by the kernel
  const sentAt = new Map<number, number>()
  const rtts: number[] = []
  console.log(`PING ${host}${host === target.address ? '' : ` (${target.address})`}: ${count} packets (${kind === 'raw' ? 'raw socket' : 'ICMP datagram socket'})`)
  const t0 = clock()

  newthread(async () => {
    const buf = Buffer.alloc(65536)
    for (;;) {
      let n: number
      let from: Address
      try {
        ;[n, from] = await sock.recv(buf)
      } catch (e) {
        if (e instanceof SocketError && e.code === 'ERR_SOCKET_CLOSED') return // done
        throw e
      }
      const now = clock()
      // Linux gives an IPv4 raw socket the IP header too; the TTL is in it.
      const off = kind === 'raw' && !v6 ? (buf[0]! & 0x0f) * 4 : 0
      const icmp = buf.subarray(off, n)
      if (icmp.length < 8 || icmp[0] !== reply || icmp.readUInt16BE(4) !== id) continue // not ours
      const seq = icmp.readUInt16BE(6)
      const t = sentAt.get(seq)
      if (t === undefined) continue
      sentAt.delete(seq)
      rtts.push(now - t)
      const ttl = off > 0 ? ` ttl=${buf[8]}` : ''
      const bad = !v6 && checksum(icmp) !== 0 ? ' (BAD CHECKSUM)' : ''
      console.log(`${icmp.length} bytes from ${from.address}: icmp_seq=${seq}${ttl} time=${ms(now - t)} ms${bad}`)
    }
  })

  newthread(async () => {
    for (let seq = 1; seq <= count; seq++) {
      const pkt = Buffer.alloc(8 + DATA)
      pkt[0] = request
      pkt.writeUInt16BE(id, 4)
      pkt.writeUInt16BE(seq, 6)
      for (let i = 0; i < DATA; i++) pkt[8 + i] = i
      if (!v6) pkt.writeUInt16BE(checksum(pkt), 2) // the kernel fills in ICMPv6 checksums
      sentAt.set(seq, clock())
      await sock.send(pkt, undefined, target, clock() + 1)
      if (kind === 'ping') id = sock.localAddr().port
      if (seq < count) await sleep(interval)
    }
    const deadline = clock() + 1 // wait up to a second for the last replies
    while (rtts.length < count && clock() < deadline) await sleep(0.01)
    sock.close() // ends the receiving thread
  })

  await start()
  const elapsed = Math.round((clock() - t0) * 1000)
  const received = rtts.length
  console.log(`\n--- ${host} ping statistics ---`)
  console.log(`${count} packets transmitted, ${received} received, ${Math.round(((count - received) / count) * 100)}% packet loss, time ${elapsed}ms`)
  if (received > 0) {
    const avg = rtts.reduce((a, b) => a + b, 0) / received
    const mdev = Math.sqrt(rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / received)
    console.log(`rtt min/avg/max/mdev = ${ms(Math.min(...rtts))}/${ms(avg)}/${ms(Math.max(...rtts))}/${ms(mdev)} ms`)
  }
  process.exitCode = received > 0 ? 0 : 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
