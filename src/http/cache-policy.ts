/**
 * Caching policy helpers: recognising content-hashed (fingerprinted) file names, and
 * compiling the configured per-path response header rules.
 *
 * Pure functions. isContentHashedName scans by index (no regular expressions); the compiled
 * header matcher runs one precompiled picomatch test per rule and allocates only its result.
 */

import picomatch from 'picomatch';
import { isDigit, isFieldValue, isToken, trimOws } from './token';

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

function isLowerHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

/**
 * A lower-case hex hash of ≥ 8 characters starting at `i` and ending at `end`, a "." or a
 * "-" (webpack `[contenthash]`, Parcel, Angular, Next.js), with at least one digit and one
 * letter — so words (`deadbeef`) and numbers (`20240101`, a date) are not taken for hashes.
 */
function isHexHashAt(s: string, i: number, end: number): boolean {
  let digits = 0;
  let letters = 0;
  let j = i;
  for (; j < end; j++) {
    const c = s.charCodeAt(j);
    if (!isLowerHex(c)) break;
    if (isDigit(c)) digits++;
    else letters++;
  }
  if (j - i < 8 || digits === 0 || letters === 0) return false;
  const next = s.charCodeAt(j);
  return j === end || next === 0x2e || next === 0x2d;
}

/**
 * An 8-character base64url hash starting at `i` and ending at `end` or a "." (Rollup/Vite
 * `[hash]`, esbuild): [A-Za-z0-9_-] with at least one digit and one upper-case letter.
 * The upper-case requirement keeps lower-case words with a digit (`version2`, `chapter1`)
 * out; a real 8-character base64url hash lacks one only ~1.5% of the time, and lacks a digit
 * ~26% of the time — those names are simply not recognised (they get the ordinary,
 * revalidated caching, which is safe).
 */
function isBase64HashAt(s: string, i: number, end: number): boolean {
  const j = i + 8;
  if (j > end || (j !== end && s.charCodeAt(j) !== 0x2e)) return false;
  let digit = false;
  let upper = false;
  for (let k = i; k < j; k++) {
    const c = s.charCodeAt(k);
    if (isDigit(c)) digit = true;
    else if (c >= 0x41 && c <= 0x5a) upper = true;
    else if (!((c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f)) return false;
  }
  return digit && upper;
}

/**
 * Whether a file name carries a content hash between its name and its extension, so its
 * content can never change under that name and it may be cached as immutable
 * (RFC 9111 §5.2.2.1 max-age; RFC 8246 immutable).
 *
 * Recognised: a segment after a "." or "-" and before the extension that is
 * - lower-case hex, ≥ 8 chars, with a digit and a letter: `app.3f9a1c2e.js`,
 *   `main-5d41402abc4b.css`, `chunk.a1b2c3d4e5f6a7b8.js`, `main.3f9a1c2e.chunk.js`;
 * - or exactly 8 base64url chars with a digit and an upper-case letter, followed by the
 *   extension or another ".": `index-BQ3x9Kd1.js`, `index-B-x9Kd_1.js`, `main-ABCD2EFG.js`.
 *
 * Not recognised: `index.html`, `jquery.min.js`, `style.css`, `v1.2.3.js`, `report-2024.pdf`,
 * `photo-20240101.jpg` (digits only), names without an extension, and a name that is only a
 * hash (`deadbeef.txt`, `3f9a1c2e.js`): a hash needs a non-empty prefix before its separator,
 * since a bare hex name is as likely a user's file as a build artifact.
 *
 * A path is accepted: only the part after the last "/" is examined. Mistakes are biased
 * towards false (a missed hash only costs revalidation; a false hit would pin stale content).
 */
export function isContentHashedName(fileName: string): boolean {
  const base = fileName.lastIndexOf('/') + 1;
  const dot = fileName.lastIndexOf('.');
  if (dot <= base || dot === fileName.length - 1) return false;
  // Separators inside the stem [base, dot); the first stem character can't start a hash.
  for (let p = base + 1; p < dot; p++) {
    const c = fileName.charCodeAt(p);
    if (c !== 0x2e && c !== 0x2d) continue;
    if (isHexHashAt(fileName, p + 1, dot) || isBase64HashAt(fileName, p + 1, dot)) return true;
  }
  return false;
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
  test: (path: string) => boolean;
  names: readonly string[];
  lowerNames: readonly string[];
  values: readonly string[];
}

/**
 * Compiles the configured header rules into a matcher (run per request).
 *
 * Globs use picomatch with `dot: true` (dotfiles and dot-directories match) and POSIX
 * separators. A rule matches when its glob matches the decoded URL path either without its
 * leading "/" or with it, so `"**\/*.js"`, `"*.html"` (top level only), `"assets/**"` and
 * `"/assets/**"` all work as written.
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
    let test: (path: string) => boolean;
    try {
      test = picomatch(glob, { dot: true, windows: false });
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
      if (rule.names.length === 0 || !(rule.test(withoutSlash) || rule.test(withSlash))) continue;
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
