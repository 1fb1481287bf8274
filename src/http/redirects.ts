/**
 * Redirect rules (the `redirects` setting, as serve.json's `redirects`, nginx's `return 301`
 * and Caddy's `redir`): compiled once when the configuration is loaded, matched per path.
 * Pure: no I/O, no request objects.
 *
 * A rule is matched against the decoded, normalised path (files/resolve.ts's
 * normaliseRequestPath), the very path the file lookup would serve: "/%6Fld", "//old" and
 * "/x/../old" all meet the rule for "/old", and "/old/../secret" is "/secret", which no rule
 * for "/old/**" covers. The rest of a prefix match (`:splat`) is made of those normalised
 * segments, so it never holds "..", an empty segment or a backslash, and it is percent-encoded
 * again for the Location: a local `to` cannot be turned into "//evil.example" or "/\evil".
 */
import { encodePathSegments } from './path-encoding';

/** A configured rule, as written in the configuration. */
export interface RedirectRule {
  /** An exact path ("/old") or a prefix glob ending in "/**" ("/blog/**"). */
  from: string;
  /** A local path ("/new") or an http(s) URL; may reuse the rest of a prefix match as ":splat". */
  to: string;
  /** 301 (the default), 302, 307 or 308. */
  status?: number;
}

export type RedirectStatus = 301 | 302 | 307 | 308;
const STATUSES: ReadonlySet<number> = new Set([301, 302, 307, 308]);
const RULE_FIELDS: ReadonlySet<string> = new Set(['from', 'to', 'status']);
const SPLAT = ':splat';

/** Where ":splat" stands in `to`: the path (segments keep their "/") or the query/fragment (all encoded). */
type SplatContext = 'path' | 'component';

interface CompiledRedirect {
  /** The normalised `from` without "/**": "/old", "/blog", or "" for "/**". */
  path: string;
  prefix: boolean;
  status: RedirectStatus;
  /** `to` cut at each ":splat": parts.length === contexts.length + 1. */
  parts: string[];
  contexts: SplatContext[];
  local: boolean;
  /** Whether `to` has a fragment ("#"): the request's query goes before it. */
  hasFragment: boolean;
  /** Whether `to` has a query of its own: the request's is appended to it with "&". */
  hasQuery: boolean;
}

/** What a path is redirected to: the Location without the request's query, which `withQuery` adds. */
export interface RedirectTarget {
  status: RedirectStatus;
  location: string;
  /** Where the request's query goes in `location` (before its fragment), and how it joins. */
  queryAt: number;
  joinWithAmpersand: boolean;
}

export type RedirectMatcher = (segments: readonly string[], trailingSlash: boolean) => RedirectTarget | null;

/** A rule that cannot be used: the message names it ("rule #2 (from "/x"): ..."). */
export class RedirectRuleError extends Error {}

/** Decoded segments of a rule's `from`, with the same decoding as request paths, or a reason it is not one. */
function fromSegments(where: string, from: string): { path: string; prefix: boolean } {
  let text = from;
  const prefix = text.endsWith('/**');
  if (prefix) text = text.slice(0, -3);
  if (text.includes('*')) throw new RedirectRuleError(`${where}: "from" may only end in "/**" (a prefix); no other glob is supported`);
  if (/[?#]/.test(text)) throw new RedirectRuleError(`${where}: "from" is a path: no "?" or "#"`);
  if (/[\0-\x20\x7f]/.test(text)) throw new RedirectRuleError(`${where}: "from" holds a space or a control character (percent-encode it)`);
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    throw new RedirectRuleError(`${where}: "from" has a malformed percent-encoding`);
  }
  if (decoded.includes('\\') || decoded.includes('\0')) throw new RedirectRuleError(`${where}: "from" holds a backslash or NUL, which no request path can`);
  const segments = decoded.split('/').slice(1);
  // One trailing "/" is allowed ("/old/" is "/old": rules match with or without it).
  if (segments.length > 0 && segments[segments.length - 1] === '' && !prefix) segments.pop();
  for (const seg of segments) {
    if (seg === '' || seg === '.' || seg === '..') throw new RedirectRuleError(`${where}: "from" must be a normalised path (no "//", "." or ".." segments)`);
  }
  return { path: segments.length === 0 ? '' : `/${segments.join('/')}`, prefix };
}

/** Checks `to` and cuts it at each ":splat". */
function compileTo(where: string, to: string, prefix: boolean): Pick<CompiledRedirect, 'parts' | 'contexts' | 'local' | 'hasFragment' | 'hasQuery'> {
  if (!/^[!-~]+$/.test(to)) {
    throw new RedirectRuleError(`${where}: "to" must be visible ASCII without spaces: percent-encode other characters (é as %C3%A9)`);
  }
  if (to.includes('\\')) throw new RedirectRuleError(`${where}: "to" may not hold a backslash (browsers read it as "/")`);
  const local = to.startsWith('/');
  if (local && to.startsWith('//')) throw new RedirectRuleError(`${where}: "to" starting with "//" leaves the site (write https://host/... for that)`);
  if (!local) {
    const m = /^https?:\/\/[^/?#]*/i.exec(to);
    let valid = m !== null && !m[0].includes(SPLAT);
    try {
      valid &&= new URL(to.split(SPLAT).join('x')).host !== '';
    } catch {
      valid = false;
    }
    if (!valid) throw new RedirectRuleError(`${where}: "to" must be a path starting with "/" or an http:// or https:// URL (":splat" only after the host)`);
  }
  const parts = to.split(SPLAT);
  if (parts.length > 1 && !prefix) throw new RedirectRuleError(`${where}: "to" uses ":splat" but "from" is not a prefix ending in "/**"`);
  const queryAt = to.indexOf('?');
  const fragmentAt = to.indexOf('#');
  const componentFrom = Math.min(queryAt === -1 ? Infinity : queryAt, fragmentAt === -1 ? Infinity : fragmentAt);
  const contexts: SplatContext[] = [];
  let at = 0;
  for (let i = 0; i < parts.length - 1; i++) {
    at += parts[i]!.length;
    contexts.push(at < componentFrom ? 'path' : 'component');
    at += SPLAT.length;
  }
  return { parts, contexts, local, hasFragment: fragmentAt !== -1, hasQuery: queryAt !== -1 && (fragmentAt === -1 || queryAt < fragmentAt) };
}

function describe(index: number, rule: unknown): string {
  const from = (rule as { from?: unknown } | null)?.from;
  return `rule #${index + 1}${typeof from === 'string' ? ` (from ${JSON.stringify(from)})` : ''}`;
}

function compileRule(index: number, rule: unknown): CompiledRedirect {
  const where = describe(index, rule);
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) throw new RedirectRuleError(`${where}: must be {"from": "/old", "to": "/new", "status": 301}`);
  for (const key of Object.keys(rule)) {
    if (!RULE_FIELDS.has(key)) throw new RedirectRuleError(`${where}: unknown field ${JSON.stringify(key)} (a rule has "from", "to" and "status")`);
  }
  const { from, to, status } = rule as { from?: unknown; to?: unknown; status?: unknown };
  if (typeof from !== 'string' || from === '') throw new RedirectRuleError(`${where}: "from" is missing (a path starting with "/")`);
  if (!from.startsWith('/')) throw new RedirectRuleError(`${where}: "from" must start with "/"`);
  if (typeof to !== 'string' || to === '') throw new RedirectRuleError(`${where}: "to" is missing (a path starting with "/" or an http(s) URL)`);
  if (status !== undefined && (typeof status !== 'number' || !STATUSES.has(status))) {
    throw new RedirectRuleError(`${where}: "status" must be 301, 302, 307 or 308: got ${JSON.stringify(status)}`);
  }
  const f = fromSegments(where, from);
  return { ...f, status: (status ?? 301) as RedirectStatus, ...compileTo(where, to, f.prefix) };
}

/** The percent-encoded rest of a prefix match, for where it stands in `to`. */
function encodeSplat(rest: readonly string[], trailingSlash: boolean, context: SplatContext): string {
  if (rest.length === 0) return '';
  const joined = rest.join('/') + (trailingSlash ? '/' : '');
  return context === 'path' ? encodePathSegments(joined) : encodeURIComponent(joined);
}

function targetOf(rule: CompiledRedirect, rest: readonly string[], trailingSlash: boolean): RedirectTarget {
  let location = rule.parts[0]!;
  for (let i = 0; i < rule.contexts.length; i++) location += encodeSplat(rest, trailingSlash, rule.contexts[i]!) + rule.parts[i + 1]!;
  // "/:splat/:splat/x" with nothing to splat would start "//": never a protocol-relative
  // Location from a local rule, whatever its shape.
  if (rule.local && location.charCodeAt(1) === 0x2f) location = '/' + location.replace(/^\/+/, '');
  // A splat never holds a raw "#" (both encodings escape it): the first one starts the fragment.
  const fragment = rule.hasFragment ? location.indexOf('#') : -1;
  return { status: rule.status, location, queryAt: fragment === -1 ? location.length : fragment, joinWithAmpersand: rule.hasQuery };
}

/**
 * Compiles the configured rules, checking each: `from` present, starting with "/", exact or
 * ending in "/**" and nothing else glob-like, normalised; `to` a local path (not "//") or an
 * http(s) URL, ":splat" only with a prefix `from` and only after the host; `status` one of
 * 301, 302, 307, 308; no `from` twice (after normalising). RedirectRuleError names the rule.
 *
 * The matcher takes a normalised path's segments; the first rule that matches wins, in the
 * order written. An exact rule matches its path with or without a trailing "/"; a prefix rule
 * "/blog/**" matches "/blog", "/blog/" and everything below, ":splat" being the rest
 * ("a/b", with the request's trailing "/" kept).
 */
export function compileRedirectRules(rules: readonly unknown[]): RedirectMatcher {
  const compiled: CompiledRedirect[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < rules.length; i++) {
    const rule = compileRule(i, rules[i]);
    const key = `${rule.prefix ? 'prefix' : 'exact'} ${rule.path}`;
    const first = seen.get(key);
    if (first !== undefined) throw new RedirectRuleError(`${describe(i, rules[i])}: the same "from" as rule #${first + 1}`);
    seen.set(key, i);
    compiled.push(rule);
  }
  return (segments, trailingSlash) => {
    if (compiled.length === 0) return null;
    const path = segments.length === 0 ? '' : `/${segments.join('/')}`;
    for (const rule of compiled) {
      if (!rule.prefix) {
        if (path === rule.path) return targetOf(rule, [], false);
        continue;
      }
      if (path === rule.path || rule.path === '' || path.startsWith(rule.path + '/')) {
        const depth = rule.path === '' ? 0 : rule.path.split('/').length - 1;
        return targetOf(rule, segments.slice(depth), trailingSlash);
      }
    }
    return null;
  };
}

/**
 * The Location with the request's query kept: appended to the target's own query with "&"
 * ("/new?a=1" and "?b=2" → "/new?a=1&b=2"), and before the target's fragment.
 * `query` is "" or starts with "?" (as parse.ts hands it over); a lone "?" adds nothing.
 */
export function withQuery(target: RedirectTarget, query: string): string {
  if (query.length <= 1) return target.location;
  const q = target.joinWithAmpersand ? `&${query.slice(1)}` : query;
  const { location, queryAt } = target;
  return queryAt === location.length ? location + q : location.slice(0, queryAt) + q + location.slice(queryAt);
}
