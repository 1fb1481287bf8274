/**
 * -L: which responses are redirects, and the request a redirect leads to, as curl -L makes
 * it (pure: a hop in, the next hop out, or a catalogued error).
 */
import { BadUrlError, TooManyRedirectsError, UnsupportedProtocolError } from './errors';

/** Where one path's next request goes; -L changes it, possibly to another host. */
export interface Hop {
  host: string;
  port: number;
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

/** "host:port" of a hop, IPv6 bracketed: the connection it needs, and how messages name it. */
export function originOf(hop: Pick<Hop, 'host' | 'port'>): string {
  return `${hop.host.includes(':') ? `[${hop.host}]` : hop.host}:${hop.port}`;
}

/** The request the redirect `status` + `location` from `from` leads to, and its URL (for -v). */
export function nextHop(from: Hop, status: number, location: string, maxRedirs: number): { hop: Hop; url: string } {
  let url: URL;
  try {
    url = new URL(location, `http://${from.authority}${from.target}`);
  } catch {
    throw new BadUrlError(`bad Location "${location}" in the redirect for ${from.target} from ${originOf(from)} (not a URL)`);
  }
  if (url.protocol !== 'http:') {
    throw new UnsupportedProtocolError(`redirected to ${url.href}: fleetserve-client follows http:// only`);
  }
  if (from.redirects >= maxRedirs) {
    throw new TooManyRedirectsError(`more than ${maxRedirs} redirects (the next to ${url.href}); see --max-redirs`);
  }
  // 303 means "GET the other resource"; 301/302 turn a POST into a GET, as browsers and curl do.
  const toGet = (status === 303 && from.method !== 'HEAD') || ((status === 301 || status === 302) && from.method === 'POST');
  const hop = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 80 : Number(url.port),
    authority: url.host,
    target: url.pathname + url.search,
    method: toGet ? 'GET' : from.method,
    redirects: from.redirects + 1,
  };
  return { hop, url: url.href };
}
