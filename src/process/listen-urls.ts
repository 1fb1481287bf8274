/**
 * The URLs a person can open once the server listens. A wildcard bind (0.0.0.0, ::) is not
 * an address anyone can type, so it becomes http://localhost:PORT/ plus this machine's
 * network addresses, as `serve` prints them. With TLS on (tlsCert), the main listener speaks
 * HTTPS and every URL of it says https://: a URL a person copies must be one that works.
 */
import type os from 'node:os';
import { countOf } from '../plural';
import { tlsEnabled, type TlsSettings } from '../tls/settings';

type Interfaces = ReturnType<typeof os.networkInterfaces>;

export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0';
}

/** What the main listener speaks: https with tlsCert and tlsKey set, or with acmeDomains. */
export type Scheme = 'http' | 'https';

export function schemeOf(config: Pick<TlsSettings, 'tlsCert' | 'acmeDomains'>): Scheme {
  return tlsEnabled(config) ? 'https' : 'http';
}

export function urlOf(host: string, port: number, scheme: Scheme = 'http'): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

/**
 * The first URL is the one to show first (localhost for a wildcard bind, else the bound
 * host). Network addresses: IPv4 when bound to 0.0.0.0; IPv4 and global IPv6 when bound to ::
 * (Linux binds :: dual-stack). Internal and link-local addresses are left out: a link-local
 * IPv6 address needs a zone id no browser accepts. A host name that resolved to several
 * `addresses` (listen-addresses.ts) is listened on at each: its URL, then one per address.
 */
export function listenUrls(host: string, port: number, interfaces: Interfaces, addresses: readonly string[] = [host], scheme: Scheme = 'http'): string[] {
  const url = (h: string) => urlOf(h, port, scheme);
  if (!isWildcardHost(host)) return addresses.length > 1 ? [url(host), ...addresses.map(url)] : [url(host)];
  const v4: string[] = [];
  const v6: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') v4.push(url(a.address));
      else if (host !== '0.0.0.0' && a.family === 'IPv6' && !/^fe80:/i.test(a.address)) v6.push(url(a.address));
    }
  }
  return [...new Set([url('localhost'), ...v4, ...v6])];
}

/** "a", "a and b", "a, b and c". */
function listOf(items: readonly string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * The one "listening" log line: machine-readable fields (url = the first URL, urls = all of
 * them, host, port) and a message a person can act on. `addresses`: what `host` resolved to.
 */
export function listeningRecord(
  host: string,
  port: number,
  workers: number,
  interfaces: Interfaces,
  addresses: readonly string[] = [host],
  scheme: Scheme = 'http',
): { fields: { url: string; urls: string[]; host: string; port: number; workers: number }; msg: string } {
  const urls = listenUrls(host, port, interfaces, addresses, scheme);
  const how = workers === 0 ? '(single process)' : `with ${countOf(workers, 'worker')}`;
  return { fields: { url: urls[0]!, urls, host, port, workers }, msg: `listening on ${listOf(urls)} ${how}` };
}
