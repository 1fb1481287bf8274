/**
 * The plain-HTTP port beside the HTTPS one (httpPort): what to answer, from plain values —
 * the request's path, query and Host, the TLS port, the health path and httpRedirect. Pure:
 * the answer is rendered by respond like every other (redirectReply, errorReply), and no
 * Strict-Transport-Security is ever added here (RFC 6797 §7.2: never over plain HTTP).
 *
 * Every request gets 308 to https://HOST[:PORT]TARGET, except the health path (answered as
 * usual) and /.well-known/acme-challenge/… (an ACME HTTP-01 check: the answer of an order
 * under way, else served from the root as files). With httpRedirect false the whole site is served instead.
 */

/** What the plain port does with one request. */
export type HttpPortDecision =
  | { readonly kind: 'health' }
  /** Answered by the site's handler: a file, the 404 page... */
  | { readonly kind: 'site' }
  | { readonly kind: 'redirect'; readonly location: string }
  /** An ACME HTTP-01 check: the pending answer for `token`, else a file of that name. */
  | { readonly kind: 'acme-challenge'; readonly token: string }
  /** No usable Host to redirect to: 400. */
  | { readonly kind: 'bad-host' };

export interface HttpPortSettings {
  /** The TLS listener's port: left out of the Location when 443. */
  readonly tlsPort: number;
  readonly healthPath: string;
  /** httpRedirect: false serves the site on the plain port as well. */
  readonly redirect: boolean;
}

const HEALTH: HttpPortDecision = Object.freeze({ kind: 'health' });
const SITE: HttpPortDecision = Object.freeze({ kind: 'site' });
const BAD_HOST: HttpPortDecision = Object.freeze({ kind: 'bad-host' });

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/**
 * A Host field's host without its port: a reg-name or IPv4 address (RFC 3986 §3.2.2, no
 * percent-encoding, which no DNS name needs) or an IPv6 literal in brackets, kept in them;
 * an optional port of digits. Anything else (empty, userinfo, a path, spaces): null.
 */
const HOST_FIELD = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=-]+)(?::[0-9]*)?$/;

export function hostWithoutPort(host: string): string | null {
  const m = HOST_FIELD.exec(host);
  if (m === null) return null;
  const name = m[1]!;
  // "[" opens only a literal that holds at least one colon; "::" alone is not an address.
  if (name.startsWith('[') && !name.includes(':')) return null;
  return name.toLowerCase();
}

/** `path`: still percent-encoded, as parse gives it; `query`: "" or with its "?". */
export function decideHttpPort(path: string, query: string, host: string, s: HttpPortSettings): HttpPortDecision {
  if (path === s.healthPath) return HEALTH;
  if (path.startsWith(ACME_CHALLENGE_PREFIX)) return { kind: 'acme-challenge', token: path.slice(ACME_CHALLENGE_PREFIX.length) };
  if (!s.redirect) return SITE;
  // The asterisk-form (OPTIONS *) names no resource to send the client to.
  if (!path.startsWith('/')) return BAD_HOST;
  const name = hostWithoutPort(host);
  if (name === null) return BAD_HOST;
  const port = s.tlsPort === 443 ? '' : `:${s.tlsPort}`;
  return { kind: 'redirect', location: `https://${name}${port}${path}${query}` };
}
