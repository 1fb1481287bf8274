/**
 * X-Forwarded-For and X-Forwarded-Proto, believed only from a trusted proxy (trustedProxies),
 * the way nginx's realip module (`set_real_ip_from`, `real_ip_recursive on`) and Caddy's
 * `trusted_proxies` read them. Each proxy appends the address it received the request from,
 * so the list reads, left to right, from the client towards us; only its right end was
 * written by proxies we trust, and anything to the left of the first untrusted address is
 * whatever that client chose to send. So the list is walked from the right, trusted
 * addresses are skipped, and the first untrusted one is the client.
 *
 * An entry that is not an address stops the walk, as in nginx: the client is then the last
 * address read (the trusted hop to its right), or the connection's remote address when the
 * rightmost entry is already unreadable. A list of nothing but trusted addresses names its
 * leftmost one. Entries may carry a port as some proxies append it (192.0.2.7:4711,
 * [2001:db8::7]:4711); the address alone is kept.
 */
import net from 'node:net';
import type { TrustedProxies } from './trusted-proxies';
import type { Forwarded, Request } from './types';

/** Reads the forwarding fields of requests that came from one trusted proxy (see connection.ts). */
export class ForwardedFields {
  constructor(private readonly trusted: Pick<TrustedProxies, 'has'>) {}

  /** Sets `req.forwarded` when the request carries either field; `remote` is the trusted proxy it came from. */
  apply(req: Request, remote: string): void {
    const forwardedFor = req.headers['x-forwarded-for'];
    const forwardedProto = req.headers['x-forwarded-proto'];
    if (forwardedFor === undefined && forwardedProto === undefined) return;
    const forwarded: Forwarded = {
      for: forwardedFor === undefined ? remote : clientFromForwardedFor(forwardedFor, remote, this.trusted),
      proto: forwardedProto === undefined ? undefined : protoFromForwardedProto(forwardedProto),
    };
    req.forwarded = forwarded;
  }
}

/** The client an X-Forwarded-For value names, for a request from the trusted proxy `remote`. */
export function clientFromForwardedFor(value: string, remote: string, trusted: Pick<TrustedProxies, 'has'>): string {
  let client = remote;
  let end = value.length;
  while (end > 0) {
    const comma = value.lastIndexOf(',', end - 1);
    const entry = value.slice(comma + 1, end).trim();
    end = comma;
    if (entry === '') continue; // empty list elements are allowed and mean nothing (RFC 9110 §5.6.1)
    const address = addressOf(entry);
    if (address === null) return client;
    client = address;
    if (!trusted.has(address)) return address;
  }
  return client;
}

/**
 * The address in one X-Forwarded-For entry: IPv4 or IPv6, optionally with a port
 * (IPv4:port, [IPv6], [IPv6]:port); null for anything else ("unknown", host names, garbage).
 * IPv6 comes out in Node's canonical form, as a socket's remoteAddress does.
 */
export function addressOf(entry: string): string | null {
  if (net.isIPv4(entry)) return entry;
  if (entry.charCodeAt(0) === 0x5b /* [ */) {
    const close = entry.indexOf(']');
    if (close === -1 || (close !== entry.length - 1 && !isPortSuffix(entry, close + 1))) return null;
    return ipv6(entry.slice(1, close));
  }
  if (entry.includes('.')) {
    // IPv4:port (an IPv6 address with a dot is IPv4-mapped, and has no port without brackets)
    const colon = entry.lastIndexOf(':');
    if (colon !== -1 && entry.indexOf(':') === colon && net.isIPv4(entry.slice(0, colon)) && isPortSuffix(entry, colon)) return entry.slice(0, colon);
  }
  return ipv6(entry);
}

/** Whether `entry` from `at` on is ":PORT" (1 to 5 digits). */
function isPortSuffix(entry: string, at: number): boolean {
  return entry.charCodeAt(at) === 0x3a /* : */ && /^\d{1,5}$/.test(entry.slice(at + 1));
}

function ipv6(s: string): string | null {
  if (!net.isIPv6(s) || s.includes('%')) return null;
  return new net.SocketAddress({ address: s, family: 'ipv6' }).address;
}

/** "http" or "https" from an X-Forwarded-Proto value (its last element, case-insensitive), else undefined. */
export function protoFromForwardedProto(value: string): 'http' | 'https' | undefined {
  const last = value.slice(value.lastIndexOf(',') + 1).trim().toLowerCase();
  return last === 'https' || last === 'http' ? last : undefined;
}
