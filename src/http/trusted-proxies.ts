/**
 * The `trustedProxies` setting: addresses and CIDR ranges (IPv4 and IPv6) of the proxies in
 * front of this server, whose word about the client is believed (X-Forwarded-For and
 * X-Forwarded-Proto, and who may send a PROXY protocol header). Matching is node:net's
 * BlockList, which also matches an IPv4-mapped IPv6 peer (::ffff:10.0.0.1, what a socket
 * listening on :: reports for an IPv4 client) against IPv4 ranges.
 */
import net from 'node:net';

export interface TrustedRange {
  address: string;
  /** The prefix length; the whole address (32 or 128) for a single address. */
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** One entry ("10.0.0.0/8", "::1", "2001:db8::/32"), or a sentence saying what is wrong with it. */
export function parseTrustedProxy(entry: string): TrustedRange | string {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = address.includes('%') ? 0 : net.isIP(address);
  if (version === 0) return `"${entry}" is not an IP address or CIDR range (like 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32)`;
  const bits = version === 4 ? 32 : 128;
  if (slash === -1) return { address, prefix: bits, family: version === 4 ? 'ipv4' : 'ipv6' };
  const digits = entry.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(digits) ? Number(digits) : -1;
  if (prefix < 0 || prefix > bits) return `"${entry}": the prefix length must be a number from 0 to ${bits}`;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * The setting as given in an environment variable or a flag: a JSON array, or a comma-separated
 * list ("127.0.0.1, 10.0.0.0/8"). Anything else is returned as is for validation to name.
 */
export function trustedProxiesFromText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const text = v.trim();
  if (text.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch {
      return v;
    }
  }
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Throws an Error naming the first entry that is not an address or a range. */
export function checkTrustedProxies(v: unknown): void {
  if (typeof v === 'string' && v.trim().startsWith('[')) throw new Error('starts with "[" but is not a JSON array of strings');
  if (!Array.isArray(v)) throw new Error('must be a list of IP addresses and CIDR ranges: a JSON array, or a comma-separated list in env and flag');
  for (const entry of v) {
    if (typeof entry !== 'string') throw new Error(`${JSON.stringify(entry)} is not an IP address or CIDR range (entries are strings)`);
    const range = parseTrustedProxy(entry);
    if (typeof range === 'string') throw new Error(range);
  }
}

/** The configured proxies, ready for matching. Entries are the validated configuration's. */
export class TrustedProxies {
  private readonly list = new net.BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const range = parseTrustedProxy(entry);
      if (typeof range === 'string') throw new Error(`trustedProxies: ${range}`); // validated at start-up: cannot happen
      this.list.addSubnet(range.address, range.prefix, range.family);
    }
  }

  /** Whether `address` (an IP address as a socket or a validated header gives it) is one of them. */
  has(address: string): boolean {
    return this.list.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
  }
}
