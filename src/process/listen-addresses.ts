/**
 * The addresses `host` means, each one a listener: resolved once at start, as nginx resolves
 * a `listen` name. A literal address and the wildcards (0.0.0.0, ::) are themselves; a host
 * name that resolves to several addresses is served on every one of them.
 *
 * In a cluster the primary resolves and hands the list to every worker (worker-env.ts):
 * node:cluster shares a listening socket among the workers that ask for the same address,
 * so they must all ask for the same ones, whatever the resolver answers a moment later.
 */
import dns from 'node:dns';
import net from 'node:net';
import os from 'node:os';
import { describeListenError, ListenError } from '../errors';

type Interfaces = ReturnType<typeof os.networkInterfaces>;
type LookupAll = (host: string, options: { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

export interface ResolveDeps {
  lookup: LookupAll;
  interfaces: () => Interfaces;
}

const SYSTEM: ResolveDeps = { lookup: dns.lookup, interfaces: os.networkInterfaces };

/** `localhost` and the names under it (RFC 6761 §6.3), with or without the root's dot. */
export function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * The loopback addresses this machine has: 127.0.0.1, and ::1 where the loopback interface
 * carries it. RFC 6761 makes localhost the loopback whatever /etc/hosts says, and browsers
 * resolve it to both themselves (Chrome tries ::1 first): a server on 127.0.0.1 alone is then
 * a refused connection or a fallback delay for half the clients.
 */
export function loopbackAddresses(interfaces: Interfaces): string[] {
  let v4 = false;
  let v6 = false;
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (!a.internal) continue;
      if (a.family === 'IPv4' && a.address === '127.0.0.1') v4 = true;
      else if (a.family === 'IPv6' && a.address === '::1') v6 = true;
    }
  }
  const found: string[] = [];
  // No IPv4 loopback listed (no interfaces readable, an odd sandbox): 127.0.0.1 all the same,
  // as a plain listen on the name would have; only an IPv6-only machine goes without it.
  if (v4 || !v6) found.push('127.0.0.1');
  if (v6) found.push('::1');
  return found;
}

/**
 * Every address to listen on for `host`, in the resolver's order, without repeats. Rejects
 * with a ListenError saying what a plain listen on the name would have said (`port` is only
 * for that message).
 */
export function resolveListenAddresses(host: string, port: number, deps: ResolveDeps = SYSTEM): Promise<string[]> {
  if (net.isIP(host) !== 0) return Promise.resolve([host]);
  if (isLocalhostName(host)) return Promise.resolve(loopbackAddresses(deps.interfaces()));
  return new Promise((resolve, reject) => {
    deps.lookup(host, { all: true }, (err, found) => {
      if (err !== null) reject(new ListenError(describeListenError(err, host, port)));
      else if (found.length === 0) reject(new ListenError(describeListenError(Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), host, port)));
      else resolve([...new Set(found.map((a) => a.address))]);
    });
  });
}
