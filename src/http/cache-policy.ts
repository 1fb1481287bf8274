/**
 * Caching policy helpers: path globs as the configuration writes them, and the configured
 * per-path response header rules (which paths are immutable: immutable-paths.ts).
 *
 * Pure functions. The compiled header matcher runs one precompiled picomatch test per rule
 * and allocates only its result.
 */

import picomatch from 'picomatch';
import { isFieldValue, isToken, trimOws } from './token';

/** A configured rule: response header fields to add for URL paths matching `glob`. */
export interface HeaderRule {
  /** A picomatch glob (dotfiles matched), e.g. `"**\/*.js"`, `"/assets/**"`, `"*.html"`. */
  glob: string;
  /** Field name → field value, e.g. `{ "Cache-Control": "public, max-age=31536000, immutable" }`. */
  headers: Record<string, string>;
}

/**
 * Given a decoded URL path ("/assets/app.js"), the header fields every matching rule adds, as
 * [name, value] pairs in order. Each call returns a new array the caller owns.
 */
export type HeaderRuleMatcher = (urlPath: string) => [string, string][];

/** A compiled path glob: given a decoded URL path with and without its leading "/". */
export type PathGlobTest = (withSlash: string, withoutSlash: string) => boolean;

/**
 * Compiles a picomatch glob over decoded URL paths, with `dot: true` (dotfiles and
 * dot-directories match) and POSIX separators. It matches a path written either without its
 * leading "/" or with it, so `"**\/*.js"`, `"*.html"` (top level only), `"assets/**"` and
 * `"/assets/**"` all work as written. Throws picomatch's error for a glob it rejects.
 */
export function compilePathGlob(glob: string): PathGlobTest {
  const test = picomatch(glob, { dot: true, windows: false });
  return (withSlash, withoutSlash) => test(withoutSlash) || test(withSlash);
}

/**
 * Fields the server itself must control: message framing (RFC 9112 §6) and
 * connection-specific fields (RFC 9110 §7.6.1), which would corrupt the stream, and the
 * fields it computes per response (validators, ranges, encoding, Date, Allow, Location),
 * which a fixed value would make lie. A rule naming one is a configuration error.
 */
const RESERVED_FIELDS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'etag',
  'last-modified',
  'content-encoding',
  'content-range',
  'accept-ranges',
  'date',
  'allow',
  'location',
]);

interface CompiledRule {
  test: PathGlobTest;
  names: readonly string[];
  lowerNames: readonly string[];
  values: readonly string[];
}

/**
 * Compiles the configured header rules into a matcher (run per request).
 *
 * Globs are compiled by compilePathGlob: a rule matches when its glob matches the decoded URL
 * path either without its leading "/" or with it.
 *
 * The result merges the headers of every matching rule in rule order: a later rule's field
 * with the same name (case-insensitive) replaces the earlier value and name spelling, in the
 * earlier position. Each call returns a fresh array (the caller may keep or mutate it).
 *
 * Validation, at compile time — an Error naming the rule (1-based index and glob) for:
 * a glob that is not a non-empty string or that picomatch rejects; `headers` not an object;
 * a field name that is not a token (§5.1); a value that is not a string or contains control
 * characters (CR, LF, NUL, … §5.5); the same name twice in one rule (differing only in case);
 * and framing/connection fields the server owns (Content-Length, Transfer-Encoding,
 * Connection, Keep-Alive, Proxy-Connection, Upgrade, TE, Trailer) or that it computes per
 * response (ETag, Last-Modified, Content-Encoding, Content-Range, Accept-Ranges, Date, Allow,
 * Location). Values are trimmed of
 * leading/trailing SP/HTAB (not part of a field value, §5.5).
 */
export function compileHeaderRules(rules: readonly HeaderRule[]): HeaderRuleMatcher {
  const compiled: CompiledRule[] = [];
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index]!;
    const glob: unknown = rule?.glob;
    const where = `header rule #${index + 1}${typeof glob === 'string' ? ` (glob ${JSON.stringify(glob)})` : ''}`;
    if (typeof glob !== 'string' || glob.length === 0) {
      throw new Error(`${where}: "glob" must be a non-empty string`);
    }
    let test: PathGlobTest;
    try {
      test = compilePathGlob(glob);
    } catch (err) {
      throw new Error(`${where}: invalid glob: ${(err as Error).message}`);
    }
    const headers: unknown = rule.headers;
    if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
      throw new Error(`${where}: "headers" must be an object of header name → value`);
    }
    const names: string[] = [];
    const lowerNames: string[] = [];
    const values: string[] = [];
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (!isToken(name)) {
        throw new Error(`${where}: invalid header name ${JSON.stringify(name)} (must be an RFC 9110 token)`);
      }
      const lower = name.toLowerCase();
      if (RESERVED_FIELDS.has(lower)) {
        throw new Error(`${where}: header ${JSON.stringify(name)} is managed by the server and cannot be set`);
      }
      if (lowerNames.includes(lower)) {
        throw new Error(`${where}: header ${JSON.stringify(name)} is given twice (names are case-insensitive)`);
      }
      if (typeof value !== 'string') {
        throw new Error(`${where}: value of header ${JSON.stringify(name)} must be a string`);
      }
      if (!isFieldValue(value)) {
        throw new Error(
          `${where}: value of header ${JSON.stringify(name)} contains a control character (CR, LF, NUL, …) or a character above U+00FF`,
        );
      }
      names.push(name);
      lowerNames.push(lower);
      values.push(trimOws(value));
    }
    compiled.push({ test, names, lowerNames, values });
  }

  return (urlPath: string): [string, string][] => {
    const out: [string, string][] = [];
    if (compiled.length === 0) return out;
    const withSlash = urlPath.charCodeAt(0) === 0x2f ? urlPath : '/' + urlPath;
    const withoutSlash = withSlash.slice(1);
    let outLower: string[] | null = null;
    for (let r = 0; r < compiled.length; r++) {
      const rule = compiled[r]!;
      if (rule.names.length === 0 || !rule.test(withSlash, withoutSlash)) continue;
      for (let k = 0; k < rule.names.length; k++) {
        const at = outLower === null ? -1 : outLower.indexOf(rule.lowerNames[k]!);
        if (at >= 0) {
          out[at] = [rule.names[k]!, rule.values[k]!];
        } else {
          out.push([rule.names[k]!, rule.values[k]!]);
          (outLower ??= []).push(rule.lowerNames[k]!);
        }
      }
    }
    return out;
  };
}
