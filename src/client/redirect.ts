/**
 * -L: which responses are redirects, and the request a redirect leads to, as curl -L makes
 * it (pure: a hop in, the next hop out, or a catalogued error).
 */
import { BadUrlError, TooManyRedirectsError, UnsupportedProtocolError } from './errors';

/** Where one path's next request goes; -L changes it, possibly to another host. */
export interface Hop {
  host: string;
  port: number;
  /** https://: the connection speaks TLS. */
  tls: boolean;
  /** The Host field's value. */
  authority: string;
  target: string;
  method: string;
  /** Redirects followed to get here. */
  redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A status -L follows when the response has a Location. */
export function isRedirect(status: number): boolean {
  return REDIRECTS.has(status);
}

/** "host:port" of a hop, IPv6 bracketed: how messages name the connection it needs (with `tls`, which one). */
export function originOf(hop: Pick<Hop, 'host' | 'port'>): string {
  return `${hop.host.includes(':') ? `[${hop.host}]` : hop.host}:${hop.port}`;
}

/** The request the redirect `status` + `location` from `from` leads to, and its URL (for -v). */
export function nextHop(from: Hop, status: number, location: string, maxRedirs: number): { hop: Hop; url: string } {
  let url: URL;
  try {
    url = new URL(location, urlOf(from));
  } catch {
    throw new BadUrlError(`bad Location "${location}" in the redirect for ${from.target} from ${originOf(from)} (not a URL)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsupportedProtocolError(`redirected to ${url.href}: fleetserve-client follows http:// and https:// only`);
  }
  const tls = url.protocol === 'https:';
  if (from.redirects >= maxRedirs) {
    throw new TooManyRedirectsError(`more than ${maxRedirs} redirects (the next to ${url.href}); see --max-redirs`);
  }
  // 303 means "GET the other resource"; 301/302 turn a POST into a GET, as browsers and curl do.
  const toGet = (status === 303 && from.method !== 'HEAD') || ((status === 301 || status === 302) && from.method === 'POST');
  const hop = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
    tls,
    authority: url.host,
    target: url.pathname + url.search,
    method: toGet ? 'GET' : from.method,
    redirects: from.redirects + 1,
  };
  return { hop, url: url.href };
}

/** The URL a hop requests (%{url_effective}, and the base a relative Location is resolved against). */
export function urlOf(hop: Pick<Hop, 'tls' | 'authority' | 'target'>): string {
  return `${hop.tls ? 'https' : 'http'}://${hop.authority}${hop.target}`;
}
