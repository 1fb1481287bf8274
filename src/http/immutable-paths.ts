/**
 * Which URL paths name content that can never change, so a file there may be sent with
 * `immutableCacheControl` (RFC 9111 §5.2.2.1 max-age; RFC 8246 immutable): the names build
 * tools give their output (`@build-tools`) and the configured globs (`immutablePaths`).
 *
 * A wrong "yes" pins a stale file in every visitor's cache for a year, and nothing but a
 * rename fixes it; a wrong "no" costs a revalidation (a 304). So the built-in rule only takes
 * the shapes bundlers emit, never a name a person could plausibly have typed
 * (`cv-JohnDoe1.pdf`, `report-Q3Final1.pdf`, `photo-DSC01234.jpg`, `minutes-12feb2024.pdf`),
 * and accepts missing some real hashes for it.
 *
 * Pure functions; the built-in rule scans by index (no regular expressions, no allocation).
 */
import { compilePathGlob, type PathGlobTest } from './cache-policy';
import { isDigit } from './token';

/** The `immutablePaths` entry that stands for the built-in build-tool rule. */
export const BUILD_TOOLS_ENTRY = '@build-tools';

/** Given a decoded URL path ("/assets/index-BQ3x9Kd1.js"): whether its content is immutable. */
export type ImmutableMatcher = (urlPath: string) => boolean;

/** Directories whose every file is a build output under a content-addressed name. */
const BUILD_DIRECTORIES: readonly string[] = [
  '/_next/static/', // Next.js: chunks, CSS, media, and <buildId>/ manifests
  '/_app/immutable/', // SvelteKit: the directory's name is the framework's promise
];

function isLowerHex(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66);
}

function isUpper(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}

function isLower(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}

/** s[i] is a "." with at least one character after it (a hash is followed by an extension). */
function isDotBeforeExtension(s: string, i: number): boolean {
  return s.charCodeAt(i) === 0x2e && i + 1 < s.length;
}

/**
 * webpack / Rollup / Parcel `[contenthash]`: lower-case hex, with at least one digit and one
 * letter, from `i` to a "." before an extension; at least 8 characters after a "."
 * (`main.3f9a1c2e.js`), at least 16 after a "-" (Gatsby's `app-3f9a1c2e8b7d6a5f4e3d.js`).
 *
 * A digit and a letter: hex-looking words (`deadbeef`, `facade`) and numbers (`20240101`, a
 * date) are not hashes; a random 8-character hash lacks one 2.3% of the time, and is then
 * revalidated. The longer run after "-": people put dates and words there
 * (`minutes-12feb2024.pdf`, `menu-cafe2024.pdf` are all hex), rarely after a ".".
 */
function isHexHashAt(s: string, i: number, minLength: number): boolean {
  let digit = false;
  let letter = false;
  let j = i;
  for (; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (!isLowerHex(c)) break;
    if (isDigit(c)) digit = true;
    else letter = true;
  }
  return j - i >= minLength && digit && letter && isDotBeforeExtension(s, j);
}

/**
 * esbuild `[hash]` (Angular's application builder): 8 characters of base32 (A–Z, 2–7) with a
 * digit and a letter, from `i` to ".js", ".mjs" or ".css" (and ".map" after it). Upper-case
 * names a person types go on documents, not on scripts and style sheets.
 */
function isEsbuildHashAt(s: string, i: number): boolean {
  const end = i + 8;
  if (end >= s.length) return false;
  let digit = false;
  let letter = false;
  for (let k = i; k < end; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x32 && c <= 0x37) digit = true;
    else if (isUpper(c)) letter = true;
    else return false;
  }
  if (!digit || !letter || s.charCodeAt(end) !== 0x2e) return false;
  const ext = s.slice(end + 1);
  return ext === 'js' || ext === 'mjs' || ext === 'css' || ext === 'js.map' || ext === 'mjs.map' || ext === 'css.map';
}

/**
 * Vite / Rollup `[hash]`: 8 base64url characters (A–Z a–z 0–9 _ -) from `i` to a "." before
 * an extension, with at least one digit, one upper-case and one lower-case letter, and no
 * upper-case letter followed by two lower-case ones. That last test keeps out capitalised
 * words (`JohnDoe1`, `Q3Final1`, `Week12ab`, `Mar2024b`), the lower-case one camera and
 * invoice codes (`DSC01234`). About half of real hashes pass; the rest are revalidated (a
 * site whose /assets/ holds nothing but Vite's output can say "/assets/**").
 */
function isViteHashAt(s: string, i: number): boolean {
  const end = i + 8;
  if (end >= s.length || !isDotBeforeExtension(s, end)) return false;
  let digit = false;
  let upper = false;
  let lower = false;
  let lowerAfterUpper = -1; // lower-case letters since the last upper-case one (-1: none yet)
  for (let k = i; k < end; k++) {
    const c = s.charCodeAt(k);
    if (isDigit(c)) {
      digit = true;
      lowerAfterUpper = -1;
    } else if (isUpper(c)) {
      upper = true;
      lowerAfterUpper = 0;
    } else if (isLower(c)) {
      lower = true;
      if (lowerAfterUpper >= 0 && ++lowerAfterUpper === 2) return false;
    } else if (c === 0x2d || c === 0x5f) {
      lowerAfterUpper = -1;
    } else {
      return false;
    }
  }
  return digit && upper && lower;
}

/**
 * Whether a decoded URL path is a build tool's output under a content-hashed name:
 *
 * - anything under `/_next/static/` (Next.js) or `/_app/immutable/` (SvelteKit);
 * - a file name with, after a "." and before an extension, 8 or more lower-case hex characters
 *   with a digit and a letter (`main.3f9a1c2e.js`, `main.8a7d0f3c.chunk.js`), or 16 or more
 *   after a "-" (`framework-3f9a1c2e8b7d6a5f4e3d.js`);
 * - `NAME-HASH.js` / `.mjs` / `.css` (and `.map`) with HASH 8 base32 characters (A–Z, 2–7)
 *   with a digit and a letter (`chunk-5ZQ2KOVD.js`, esbuild and Angular);
 * - a file directly in the top-level `/assets/` (Vite's `assetsDir`) named `NAME-HASH.EXT`,
 *   HASH 8 base64url characters as isViteHashAt says (`/assets/index-BQ3x9Kd1.js`).
 *
 * NAME is never empty: a name that is only a hash (`3f9a1c2e.js`) is as likely a user's file.
 */
export function isBuildToolOutput(urlPath: string): boolean {
  for (const dir of BUILD_DIRECTORIES) if (urlPath.startsWith(dir)) return true;
  const base = urlPath.lastIndexOf('/') + 1;
  const name = base === 0 ? urlPath : urlPath.slice(base);
  const inAssets = base === 8 && urlPath.startsWith('/assets/');
  for (let p = 1; p < name.length; p++) {
    const c = name.charCodeAt(p);
    if (c === 0x2e) {
      if (isHexHashAt(name, p + 1, 8)) return true;
    } else if (c === 0x2d) {
      if (isHexHashAt(name, p + 1, 16) || isEsbuildHashAt(name, p + 1) || (inAssets && isViteHashAt(name, p + 1))) return true;
    }
  }
  return false;
}

/**
 * Compiles `immutablePaths`: `@build-tools` for isBuildToolOutput, and picomatch globs over
 * the decoded URL path (compilePathGlob: with or without the leading "/"). `[]` matches
 * nothing. Throws an Error naming the entry (1-based) for anything that is not a non-empty
 * string, an unknown `@` word, or a glob picomatch rejects.
 */
export function compileImmutablePaths(entries: readonly unknown[]): ImmutableMatcher {
  let buildTools = false;
  const globs: PathGlobTest[] = [];
  entries.forEach((entry, index) => {
    const where = `entry #${index + 1}${typeof entry === 'string' ? ` (${JSON.stringify(entry)})` : ''}`;
    if (typeof entry !== 'string' || entry.length === 0) throw new Error(`${where}: must be a non-empty string (a glob, or "${BUILD_TOOLS_ENTRY}")`);
    if (entry.startsWith('@')) {
      if (entry !== BUILD_TOOLS_ENTRY) throw new Error(`${where}: unknown built-in rule (the one there is: "${BUILD_TOOLS_ENTRY}")`);
      buildTools = true;
      return;
    }
    try {
      globs.push(compilePathGlob(entry));
    } catch (err) {
      throw new Error(`${where}: invalid glob: ${(err as Error).message}`);
    }
  });
  if (globs.length === 0) return buildTools ? isBuildToolOutput : () => false;
  return (urlPath) => {
    if (buildTools && isBuildToolOutput(urlPath)) return true;
    const withSlash = urlPath.charCodeAt(0) === 0x2f ? urlPath : '/' + urlPath;
    const withoutSlash = withSlash.slice(1);
    for (const test of globs) if (test(withSlash, withoutSlash)) return true;
    return false;
  };
}
