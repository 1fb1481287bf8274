/**
 * HTTP Basic authentication (RFC 7617), the pure parts: the configured rules (checked once,
 * when the configuration is loaded), which rule covers a path, the Authorization field's
 * credentials, the challenge, and what caching an authenticated response may have.
 * The file reading is htpasswd.ts's, the bcrypt check password-check.ts's.
 */
import path from 'node:path';
import picomatch from 'picomatch';
import { HtpasswdError, readHtpasswdFile } from './htpasswd';

/** A configured rule: paths matching `glob` need a user of the `htpasswd` file. */
export interface BasicAuthRule {
  /** A picomatch glob over the decoded, normalised path, starting with "/": "/private/**". */
  glob: string;
  /** Shown by the browser's password prompt; "Restricted" when not given. */
  realm?: string;
  /** An Apache htpasswd file of bcrypt hashes (absolute once the configuration is loaded). */
  htpasswd: string;
}

export const DEFAULT_REALM = 'Restricted';
const RULE_FIELDS: ReadonlySet<string> = new Set(['glob', 'realm', 'htpasswd']);

/** A rule that cannot be used: the message names it ("rule #1 (glob "/x/**"): ..."). */
export class BasicAuthRuleError extends Error {}

function describe(index: number, rule: unknown): string {
  const glob = (rule as { glob?: unknown } | null)?.glob;
  return `rule #${index + 1}${typeof glob === 'string' ? ` (glob ${JSON.stringify(glob)})` : ''}`;
}

/** The shape of one rule, with its path made absolute against `baseDir`. */
function checkRule(index: number, rule: unknown, baseDir: string): BasicAuthRule {
  const where = describe(index, rule);
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) {
    throw new BasicAuthRuleError(`${where}: must be {"glob": "/private/**", "realm": "Staff", "htpasswd": "FILE"}`);
  }
  for (const key of Object.keys(rule)) {
    if (!RULE_FIELDS.has(key)) throw new BasicAuthRuleError(`${where}: unknown field ${JSON.stringify(key)} (a rule has "glob", "realm" and "htpasswd")`);
  }
  const { glob, realm, htpasswd } = rule as { glob?: unknown; realm?: unknown; htpasswd?: unknown };
  if (typeof glob !== 'string' || !glob.startsWith('/')) throw new BasicAuthRuleError(`${where}: "glob" must be a path glob starting with "/" ("/private/**")`);
  try {
    picomatch(glob, { dot: true, windows: false });
  } catch (err) {
    throw new BasicAuthRuleError(`${where}: invalid glob: ${(err as Error).message}`);
  }
  if (realm !== undefined && (typeof realm !== 'string' || !/^[ -~]{1,200}$/.test(realm))) {
    throw new BasicAuthRuleError(`${where}: "realm" must be 1 to 200 visible ASCII characters or spaces`);
  }
  if (typeof htpasswd !== 'string' || htpasswd === '') throw new BasicAuthRuleError(`${where}: "htpasswd" is missing (an htpasswd file made with htpasswd -B)`);
  const out: BasicAuthRule = { glob, htpasswd: path.resolve(baseDir, htpasswd) };
  if (realm !== undefined) out.realm = realm as string;
  return out;
}

/**
 * Checks the configured rules and every file they name, and makes the files' paths absolute:
 * relative to `baseDir`, the directory of the JSON file the key came from (or the working
 * directory for env and flags). BasicAuthRuleError names the rule, and for a file the line
 * and the user. The files are read here only to be checked: each worker reads them again.
 */
export function checkBasicAuthRules(rules: readonly unknown[], baseDir: string): BasicAuthRule[] {
  const out = rules.map((rule, i) => checkRule(i, rule, baseDir));
  const checked = new Set<string>();
  out.forEach((rule, i) => {
    if (checked.has(rule.htpasswd)) return;
    checked.add(rule.htpasswd);
    try {
      readHtpasswdFile(rule.htpasswd);
    } catch (err) {
      if (err instanceof HtpasswdError) throw new BasicAuthRuleError(`${describe(i, rule)}: ${err.message}`);
      throw err;
    }
  });
  return out;
}

/** Which rule covers a path: the index of the first whose glob matches one of `candidates`, or -1. */
export type BasicAuthMatcher = (candidates: readonly string[]) => number;

export function compileBasicAuthGlobs(rules: readonly BasicAuthRule[]): BasicAuthMatcher {
  const tests = rules.map((r) => picomatch(r.glob, { dot: true, windows: false }));
  return (candidates) => {
    for (let i = 0; i < tests.length; i++) {
      const test = tests[i]!;
      if (candidates.some((c) => test(c))) return i;
    }
    return -1;
  };
}

/**
 * The URL paths a rule is matched against for one request, from its normalised segments:
 * the path itself, and the URLs the lookup will turn it into, so a rule naming a file also
 * covers the other URLs that serve it — "/dir/" (and "/") for "/dir/index.html", and with
 * clean URLs "/page" for "/page.html". "/private/**" matches "/private" itself as well.
 */
export function authCandidates(segments: readonly string[], trailingSlash: boolean, cleanUrls: boolean): string[] {
  const p = `/${segments.join('/')}`;
  if (segments.length === 0) return ['/', '/index.html'];
  if (trailingSlash) return [p, `${p}/`, `${p}/index.html`];
  return cleanUrls ? [p, `${p}.html`] : [p];
}

/** User and password of a Basic Authorization field. */
export interface BasicCredentials {
  user: string;
  password: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const CONTROL = /[\0-\x1f\x7f]/;

/**
 * The credentials of an Authorization field value, or null when it is not well-formed Basic
 * (RFC 7617 §2): the scheme `Basic` (any case), one or more spaces, base64 with its padding,
 * decoding to UTF-8 `user:password` with no control characters in either part.
 */
export function parseBasicCredentials(value: string): BasicCredentials | null {
  const m = /^basic +([A-Za-z0-9+/]+={0,2})$/i.exec(value);
  if (m === null || m[1]!.length % 4 !== 0) return null;
  let text: string;
  try {
    text = utf8.decode(Buffer.from(m[1]!, 'base64'));
  } catch {
    return null;
  }
  const colon = text.indexOf(':');
  if (colon === -1) return null;
  const user = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (CONTROL.test(user) || CONTROL.test(password)) return null;
  return { user, password };
}

/** The WWW-Authenticate line of a 401: the realm as a quoted-string (RFC 9110 §5.6.4), charset UTF-8 (RFC 7617 §2.1). */
export function challengeLine(realm: string): string {
  return `WWW-Authenticate: Basic realm="${realm.replace(/["\\]/g, '\\$&')}", charset="UTF-8"\r\n`;
}

/** Directives that let a shared cache store a response, or that only shared caches read. */
const SHARED_ONLY = /^(public|private|s-maxage|proxy-revalidate)(=|$)/i;

/**
 * The Cache-Control value of a response to an authenticated request: "private" first, the
 * configured directives kept for the browser, and those that let a shared cache store it
 * (public) or that only shared caches read dropped. RFC 9111 §3.5 lets a shared cache reuse a
 * response to a request with Authorization when it says `public` (the default here does), and
 * §5.2.2.7 forbids it to store a `private` one.
 */
export function privateCacheControl(value: string): string {
  const kept = value
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '' && !SHARED_ONLY.test(d));
  return ['private', ...kept].join(', ');
}

const CACHE_CONTROL = 'Cache-Control: ';

/** Header lines with their Cache-Control made private (one added when there is none). */
export function privateHeaderLines(lines: string): string {
  const at = lines.startsWith(CACHE_CONTROL) ? 0 : lines.indexOf(`\r\n${CACHE_CONTROL}`) + 2;
  if (at === 1) return `${CACHE_CONTROL}private\r\n${lines}`;
  const valueAt = at + CACHE_CONTROL.length;
  const end = lines.indexOf('\r\n', valueAt);
  return lines.slice(0, valueAt) + privateCacheControl(lines.slice(valueAt, end)) + lines.slice(end);
}
