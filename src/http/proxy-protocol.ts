/**
 * The PROXY protocol header (HAProxy's doc/proxy-protocol.txt, versions 1 and 2) that a proxy
 * puts before everything else on a connection (HAProxy's `send-proxy` / `send-proxy-v2`, AWS
 * NLB, nginx's `proxy_protocol on`) to say whom it relays. Pure: the bytes received so far in,
 * a verdict out. The socket side is proxy-header-reader.ts.
 *
 * As the specification asks, anything that does not match exactly is refused, and refused as
 * soon as the bytes show it (an HTTP request sent without a header fails on its first byte),
 * never guessed at. Only a PROXY command over TCP (v1 TCP4/TCP6, v2 INET/INET6 + STREAM)
 * names a client; LOCAL (the proxy's own health checks), v1 UNKNOWN and the families this
 * server has no use for (AF_UNSPEC, AF_UNIX, datagrams) are valid headers that name nobody:
 * the connection's own peer is the client then. v2 TLVs are skipped.
 */
import net from 'node:net';

export type ProxyHeaderResult =
  /** Not a whole header yet, and nothing so far contradicts one: read more. */
  | { kind: 'incomplete' }
  /**
   * One valid header of `consumed` bytes (what follows is the client's data). `source` is the
   * client it names, or null when it names none (LOCAL, UNKNOWN, unsupported family).
   */
  | { kind: 'ok'; source: { address: string; port: number } | null; consumed: number }
  /** Not a valid header: close the connection. `reason` says why, for the log. */
  | { kind: 'invalid'; reason: string };

/** The v1 line's longest form, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses). */
export const V1_MAX_BYTES = 107;
/**
 * The largest v2 header accepted, its 16 fixed bytes included: HAProxy itself takes no header
 * larger than its buffer (16 KiB by default), and it bounds what a connection may make us hold.
 */
export const V2_MAX_BYTES = 16384;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const CR = 0x0d;
const LF = 0x0a;

const INCOMPLETE: ProxyHeaderResult = { kind: 'incomplete' };

function invalid(reason: string): ProxyHeaderResult {
  return { kind: 'invalid', reason };
}

const V1_TOO_LONG = invalid(`v1: no CRLF within ${V1_MAX_BYTES} bytes`);

/** Whether the first bytes of `buf` (as many as it has, up to `sig`'s length) are `sig`'s. */
function startsLike(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.compare(sig, 0, n, 0, n) === 0;
}

/** Reads the PROXY header at the start of `buf` (everything received on the connection so far). */
export function parseProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V2_SIGNATURE[0] && startsLike(buf, V2_SIGNATURE)) return parseV2(buf);
  if (buf[0] === V1_PREFIX[0] && startsLike(buf, V1_PREFIX)) return parseV1(buf);
  return invalid('no PROXY protocol header');
}

function parseV1(buf: Buffer): ProxyHeaderResult {
  const end = Math.min(buf.length, V1_MAX_BYTES);
  let crlf = -1;
  for (let i = V1_PREFIX.length; i < end; i++) {
    const c = buf[i];
    if (c === LF) return invalid('v1: LF without CR');
    if (c !== CR) continue;
    if (i === V1_MAX_BYTES - 1) return V1_TOO_LONG; // its LF would be byte 108
    if (i + 1 >= buf.length) return INCOMPLETE; // the LF may be on its way
    if (buf[i + 1] !== LF) return invalid('v1: CR without LF');
    crlf = i;
    break;
  }
  if (crlf === -1) return buf.length >= V1_MAX_BYTES ? V1_TOO_LONG : INCOMPLETE;
  const consumed = crlf + 2;
  const fields = buf.toString('latin1', V1_PREFIX.length, crlf).split(' ');
  const protocol = fields[0];
  // "the receiver must ignore anything presented before the CRLF" after UNKNOWN.
  if (protocol === 'UNKNOWN') return { kind: 'ok', source: null, consumed };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return invalid('v1: protocol is not TCP4, TCP6 or UNKNOWN');
  if (fields.length !== 5) return invalid('v1: not "PROXY TCPn SOURCE DESTINATION SPORT DPORT"');
  const isAddress = protocol === 'TCP4' ? net.isIPv4 : isPlainIPv6;
  if (!isAddress(fields[1]!)) return invalid(`v1: source is not an ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} address`);
  if (!isAddress(fields[2]!)) return invalid(`v1: destination is not an ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} address`);
  const sourcePort = portOf(fields[3]!);
  if (sourcePort === -1) return invalid('v1: source port is not a number from 0 to 65535');
  if (portOf(fields[4]!) === -1) return invalid('v1: destination port is not a number from 0 to 65535');
  const address = protocol === 'TCP4' ? fields[1]! : canonicalIPv6(fields[1]!);
  return { kind: 'ok', source: { address, port: sourcePort }, consumed };
}

/** An IPv6 address without a zone ("%eth0" names an interface of the sender, not of ours). */
function isPlainIPv6(s: string): boolean {
  return net.isIPv6(s) && !s.includes('%');
}

/** A decimal port without leading zeros (the specification forbids them), or -1. */
function portOf(s: string): number {
  if (!/^(?:0|[1-9]\d{0,4})$/.test(s)) return -1;
  const n = Number(s);
  return n <= 65535 ? n : -1;
}

/** The address as Node writes a socket's remoteAddress ("2001:db8::1", "::ffff:10.0.0.1"), so log lines agree. */
function canonicalIPv6(s: string): string {
  return new net.SocketAddress({ address: s, family: 'ipv6' }).address;
}

const enum V2 {
  FixedBytes = 16,
  CommandLocal = 0x0,
  CommandProxy = 0x1,
  FamilyUnspec = 0x0,
  FamilyInet = 0x1,
  FamilyInet6 = 0x2,
  FamilyUnix = 0x3,
  TransportUnspec = 0x0,
  TransportStream = 0x1,
  TransportDgram = 0x2,
}

/** Address block bytes each family needs at least: two addresses and, for IP, two ports. */
const V2_ADDRESS_BYTES = [0, 12, 36, 216];

function parseV2(buf: Buffer): ProxyHeaderResult {
  if (buf.length > 12) {
    const verCmd = buf[12]!;
    if (verCmd >> 4 !== 2) return invalid('v2: version is not 2');
    if ((verCmd & 0xf) > V2.CommandProxy) return invalid('v2: command is neither LOCAL nor PROXY');
  }
  if (buf.length > 13) {
    const famTrans = buf[13]!;
    if (famTrans >> 4 > V2.FamilyUnix) return invalid('v2: unknown address family');
    if ((famTrans & 0xf) > V2.TransportDgram) return invalid('v2: unknown transport protocol');
  }
  if (buf.length < V2.FixedBytes) return INCOMPLETE;
  const length = buf.readUInt16BE(14);
  const consumed = V2.FixedBytes + length;
  if (consumed > V2_MAX_BYTES) return invalid(`v2: header longer than ${V2_MAX_BYTES} bytes`);
  const command = buf[12]! & 0xf;
  const family = buf[13]! >> 4;
  const transport = buf[13]! & 0xf;
  // LOCAL: "discard the protocol block including the family" — but its length still counts.
  if (command === V2.CommandProxy && length < V2_ADDRESS_BYTES[family]!) return invalid('v2: address block shorter than its family needs');
  if (buf.length < consumed) return INCOMPLETE;
  if (command === V2.CommandLocal || transport !== V2.TransportStream) return { kind: 'ok', source: null, consumed };
  const at = V2.FixedBytes;
  if (family === V2.FamilyInet) {
    const address = `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
    return { kind: 'ok', source: { address, port: buf.readUInt16BE(at + 8) }, consumed };
  }
  if (family === V2.FamilyInet6) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(at + i).toString(16));
    return { kind: 'ok', source: { address: canonicalIPv6(groups.join(':')), port: buf.readUInt16BE(at + 32) }, consumed };
  }
  return { kind: 'ok', source: null, consumed }; // AF_UNSPEC or AF_UNIX: no address of ours to give
}
