/**
 * CORS (the Fetch standard's CORS protocol) for a static server: which origins may read its
 * responses, the fields that say so on every response, and the answer to a preflight.
 *
 * With every origin allowed (`corsOrigins: []`) the fields are the same for every request,
 * so they are built once into each file's head lines (and the precomputed plain-GET
 * response). With a list, `Access-Control-Allow-Origin` echoes the request's Origin when it
 * is listed, which depends on the request: every response then says `Vary: Origin`, and a
 * request that sends an Origin does not take the precomputed response.
 *
 * Pure functions and data; no credentials mode (a static server has no cookies to guard, and
 * `*` would not allow them anyway).
 */
import type { HeaderRule } from './cache-policy';
import { isAllDigits, isOws, isTchar } from './token';

/** How long a browser may reuse a preflight's answer (Firefox caps it at 24 h, Chromium at 2 h). */
export const PREFLIGHT_MAX_AGE_SECONDS = 86400;

/**
 * Response fields a script may read beyond the CORS-safelisted ones (Cache-Control,
 * Content-Language, Content-Length, Content-Type, Expires, Last-Modified, Pragma): what a
 * range download (Content-Range, Accept-Ranges), a cache of its own (ETag) or a progress bar
 * (Content-Length, Content-Encoding; older browsers do not safelist Content-Length) needs.
 */
const EXPOSE_LINE = 'Access-Control-Expose-Headers: Accept-Ranges, Content-Encoding, Content-Length, Content-Range, ETag\r\n';

const PREFLIGHT_LINES = `Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Max-Age: ${PREFLIGHT_MAX_AGE_SECONDS}\r\n`;

export class CorsPolicy {
  /**
   * Lines every response carries whatever the request: `Access-Control-Allow-Origin: *` and
   * Expose-Headers when every origin is allowed; none with a list.
   */
  readonly fixedLines: string;
  /** What every response varies on because of CORS: "Origin" with a list, "" otherwise. */
  readonly vary: string;
  /** The allowed origins, lower-cased; null: every origin. */
  private readonly origins: ReadonlySet<string> | null;

  constructor(origins: readonly string[]) {
    this.origins = origins.length === 0 ? null : new Set(origins.map((o) => o.toLowerCase()));
    this.fixedLines = this.origins === null ? `Access-Control-Allow-Origin: *\r\n${EXPOSE_LINE}` : '';
    this.vary = this.origins === null ? '' : 'Origin';
  }

  /** Whether the answer depends on the request's Origin (a list of origins). */
  get echoesOrigin(): boolean {
    return this.origins !== null;
  }

  /**
   * The lines this request's Origin adds: with a list, `Access-Control-Allow-Origin` echoing
   * it and Expose-Headers when it is listed (browsers send it lower-case, without a default
   * port or a trailing "/"); "" otherwise, and always "" with every origin allowed (those
   * lines are fixed).
   */
  originLines(origin: string | undefined): string {
    if (this.origins === null || origin === undefined || !this.origins.has(origin)) return '';
    return `Access-Control-Allow-Origin: ${origin}\r\n${EXPOSE_LINE}`;
  }

  /**
   * `headers` (a reply's lines) with the CORS fields it lacks: the fixed lines or the Origin
   * echo when it has no Access-Control-Allow-Origin, and "Origin" in its Vary (merged into
   * the one Vary line) with a list. A file's lines already carry what does not depend on the
   * request, so only the echo is added to them.
   */
  addTo(headers: string, origin: string | undefined): string {
    let out = headers;
    if (fieldAt(out, 'access-control-allow-origin') < 0) out = this.fixedLines + this.originLines(origin) + out;
    if (this.vary !== '') out = withVaryMember(out, this.vary);
    return out;
  }
}

/** The policy for `cors` / `corsOrigins`, or null when CORS is off. */
export function corsPolicy(config: { cors: boolean; corsOrigins: readonly string[] }): CorsPolicy | null {
  return config.cors ? new CorsPolicy(config.corsOrigins) : null;
}

/**
 * The fields a preflight (OPTIONS with Access-Control-Request-Method) gets besides the
 * origin: the methods, the requested headers echoed when they are a valid token list (else
 * left out, and the browser refuses the request), and how long to remember the answer.
 * "" when the request is no preflight.
 */
export function preflightLines(requestHeaders: Readonly<Record<string, string>>): string {
  if (requestHeaders['access-control-request-method'] === undefined) return '';
  const asked = requestHeaders['access-control-request-headers'];
  const allowHeaders = asked !== undefined && isTokenList(asked) ? `Access-Control-Allow-Headers: ${asked.trim()}\r\n` : '';
  return PREFLIGHT_LINES + allowHeaders;
}

/** `1#token` with OWS around the commas (RFC 9110 §5.6.1); empty elements are allowed, as there. */
export function isTokenList(s: string): boolean {
  let tokens = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x2c || isOws(c)) {
      i++;
      continue;
    }
    if (!isTchar(c)) return false;
    while (i < s.length && isTchar(s.charCodeAt(i))) i++;
    tokens++;
    while (i < s.length && isOws(s.charCodeAt(i))) i++;
    if (i < s.length && s.charCodeAt(i) !== 0x2c) return false; // two tokens without a comma
  }
  return tokens > 0;
}

/** Whether `headers` has the field name `lowerName` followed by ":" at `i`, ignoring case. */
function isFieldNameAt(headers: string, i: number, lowerName: string): boolean {
  if (headers.charCodeAt(i + lowerName.length) !== 0x3a) return false;
  for (let k = 0; k < lowerName.length; k++) {
    let c = headers.charCodeAt(i + k);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lowerName.charCodeAt(k)) return false;
  }
  return true;
}

/** Index of the line of `headers` (lines ending CRLF) holding field `lowerName`, or -1. */
function fieldAt(headers: string, lowerName: string): number {
  for (let i = 0; i < headers.length; ) {
    if (isFieldNameAt(headers, i, lowerName)) return i;
    const nl = headers.indexOf('\n', i);
    if (nl < 0) break;
    i = nl + 1;
  }
  return -1;
}

/** `headers` with `member` in its Vary field: added to the one Vary line, or a new line; unchanged when listed or `*`. */
export function withVaryMember(headers: string, member: string): string {
  const at = fieldAt(headers, 'vary');
  if (at < 0) return `${headers}Vary: ${member}\r\n`;
  const end = headers.indexOf('\r\n', at);
  const value = headers.slice(at + 5, end);
  const lower = member.toLowerCase();
  for (const m of value.split(',')) {
    const v = m.trim().toLowerCase();
    if (v === lower || v === '*') return headers;
  }
  return `${headers.slice(0, end)}, ${member}${headers.slice(end)}`;
}

/**
 * Why `value` is not an origin as a browser sends it in `Origin` (RFC 6454 §6.2:
 * `scheme "://" host [ ":" port ]`, ASCII, no default port, nothing after), or null when it
 * is one. Case does not matter (it is lower-cased when compared).
 */
export function originProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `${JSON.stringify(value)} is not a string`;
  const shown = JSON.stringify(value);
  if (value === '*') return `"*" is not an origin: leave corsOrigins empty ([]) to allow every origin`;
  if (value.toLowerCase() === 'null') return `"null" is not allowed: it is the origin of sandboxed frames and local files, which any page can make`;
  const m = /^([a-z][a-z0-9+.-]*):\/\/((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::([0-9]*))?(.*)$/s.exec(value.toLowerCase());
  if (m === null || /[^\x21-\x7e]/.test(value)) return `${shown} is not an origin: write scheme://host[:port] with an ASCII host (punycode for other scripts), e.g. "https://example.com"`;
  const [, scheme, host, port, rest] = m as unknown as [string, string, string, string | undefined, string];
  const origin = `${scheme}://${host}${port ? `:${port}` : ''}`;
  if (rest !== '') {
    // A path, query or fragment after an origin is a URL: say which origin it has.
    const hint = /^[/?#]/.test(rest) ? `, as browsers send it: "${origin}"` : ', e.g. "https://example.com"';
    return `${shown} is not an origin: write scheme://host[:port] with nothing after it${hint}`;
  }
  if (port !== undefined) {
    if (!isAllDigits(port) || port.length > 5 || Number(port) < 1 || Number(port) > 65535) return `${shown}: the port must be a number from 1 to 65535`;
    if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')) {
      return `${shown}: browsers send this origin without its default port: "${scheme}://${host}"`;
    }
  }
  return null;
}

/** The first problem of a corsOrigins list, naming the entry (1-based), or null. */
export function corsOriginsProblem(origins: unknown): string | null {
  if (!Array.isArray(origins)) return 'must be an array of origins, e.g. ["https://example.com", "http://localhost:5173"] ([]: every origin)';
  for (let i = 0; i < origins.length; i++) {
    const problem = originProblem(origins[i]);
    if (problem !== null) return `entry #${i + 1}: ${problem}`;
  }
  return null;
}

/**
 * With `cors` on, the server sets the Access-Control-* fields itself: a header rule that
 * sets one too would send it twice, which browsers refuse. The first such rule and field,
 * as a message, or null.
 */
export function corsRuleConflict(rules: readonly HeaderRule[]): string | null {
  for (let i = 0; i < rules.length; i++) {
    for (const name of Object.keys(rules[i]!.headers)) {
      if (name.toLowerCase().startsWith('access-control-')) {
        return `header rule #${i + 1} (glob ${JSON.stringify(rules[i]!.glob)}) sets ${name}, which cors sets itself: remove it from the rule (corsOrigins lists the allowed origins)`;
      }
    }
  }
  return null;
}
