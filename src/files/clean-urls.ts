/**
 * Clean URLs (the `cleanUrls` setting, as `serve` and most static hosts have them): pages are
 * asked for without their ".html". Decided over decoded, normalised paths (after
 * resolve.ts's checks); the file system is asked only through `find`, which applies the
 * server's symlink policy and answers null for anything that is not a regular file.
 */

import { encodePathSegments } from '../http/path-encoding';

export type CleanUrl<T> =
  /** 301 to this percent-encoded path, which starts with exactly one "/"; the query is kept by the caller. */
  | { kind: 'redirect'; location: string }
  /** Serve this file, found at `relPath` ("about.html" for "/about"). */
  | { kind: 'page'; relPath: string; found: T }
  /** Answer as without clean URLs. */
  | null;

/**
 * For a request path without a trailing slash, `relPath` non-empty ("docs/about"):
 * - "x" that is a file → null (served as it is);
 * - else "x.html" that is a file → that page; an "x/" directory does not stop it, so
 *   "docs.html" beside "docs/" answers "/docs" (as static-site generators lay them out);
 *   ".../index" → a redirect to its directory ".../";
 * - "x.html" that is a file → a redirect to "x", unless "x" is a file of its own (then
 *   "x.html" keeps its name); ".../index.html" → a redirect to ".../".
 * Anything else → null (a directory redirect, a 404, the SPA fallback, …).
 */
export async function cleanUrl<T>(relPath: string, find: (relPath: string) => Promise<T | null>): Promise<CleanUrl<T>> {
  const slash = relPath.lastIndexOf('/');
  const base = relPath.slice(slash + 1);
  const dir = slash === -1 ? '/' : `/${encodePathSegments(relPath.slice(0, slash))}/`;
  const self = await find(relPath);
  if (base.endsWith('.html')) {
    if (self === null || base === '.html') return null;
    if (base === 'index.html') return { kind: 'redirect', location: dir };
    const bare = relPath.slice(0, -'.html'.length);
    if ((await find(bare)) !== null) return null;
    return { kind: 'redirect', location: `/${encodePathSegments(bare)}` };
  }
  if (self !== null) return null;
  const page = await find(`${relPath}.html`);
  if (page === null) return null;
  if (base === 'index') return { kind: 'redirect', location: dir };
  return { kind: 'page', relPath: `${relPath}.html`, found: page };
}
