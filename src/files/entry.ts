/**
 * Entry: what the lookup found for a request path, as the cache keeps it — a file with its
 * representations and the header lines built for it once, a redirect, a refusal, or a
 * directory to list. Building a file entry's header lines (type, caching, Vary, configured
 * rules) is here too: it happens once per file version, never per request. The 200 head
 * itself is render's (http/respond.ts), kept on the entry as an opaque value.
 */
import type fs from 'node:fs';
import mime from 'mime-types';
import type { HeaderRuleMatcher } from '../http/cache-policy';
import type { ImmutableMatcher } from '../http/immutable-paths';
import type { Coding } from '../http/negotiate';
import { fieldLine, type FileFieldValues, SERVER_HEADERS, validatorLines } from '../http/fields';
import { FileChangedError } from '../errors';
import { etagOfBytes, etagOfFile, identityOf, readWhole, sameIdentity, type Cached, type Representation } from './cache';

export interface FileEntry extends Cached {
  kind: 'file';
  rep: Representation;
  /** Precompressed siblings, in server preference order. */
  variants: Representation[];
  codings: Coding[];
  contentType: string;
  /** Cache-Control, Accept-Ranges, Vary, nosniff and configured headers. */
  headerLines: string;
  /**
   * The prepared 200 heads render builds for this entry's representations (the file itself
   * first), kept here so they live and die with the entry; nothing in files/ reads them.
   */
  heads: unknown[];
  /** Where the compressed copies of this file version live in the cache; null: not compressed on the fly. */
  compressKey: string | null;
}

export interface RedirectEntry extends Cached {
  kind: 'redirect';
  /** Percent-encoded path with its trailing slash; the query is added per request. */
  location: string;
}

export interface RefusalEntry extends Cached {
  kind: 'refuse';
  status: number;
  /** For a 404: the nosniff line and the fields of matching header rules. */
  ruleLines: string;
  /**
   * A path that does not exist, with the SPA fallback on: a request that prefers HTML gets
   * the SPA's index.html instead (decided per request; `ruleLines` say `Vary: Accept`).
   */
  spaFallback: boolean;
}

export interface ListingEntry extends Cached {
  kind: 'listing';
  /** The directory's real path. */
  dir: string;
  /** The decoded URL path, with leading and trailing "/". */
  urlPath: string;
}

export type Entry = FileEntry | RedirectEntry | RefusalEntry | ListingEntry;

/** Types served as they are although mime-types has no charset for them. */
const UTF8_TYPES = new Set(['application/javascript', 'application/json', 'application/xml', 'image/svg+xml', 'application/manifest+json']);

export function contentTypeOf(filePath: string): string {
  const type = mime.lookup(filePath) || 'application/octet-stream';
  const charset = mime.charset(type);
  return charset || UTF8_TYPES.has(type) ? `${type}; charset=utf-8` : type;
}

export interface FileHeaderPolicy {
  cacheControl: string;
  immutableCacheControl: string;
  /** `immutablePaths`, compiled: which URL paths get `immutableCacheControl`. */
  isImmutable: ImmutableMatcher;
  headersFor: HeaderRuleMatcher;
  /** The CORS lines every response carries whatever the request ("" with CORS off or a list of origins). */
  corsLines: string;
  /** "Origin" with a list of CORS origins, else "". */
  corsVary: string;
}

/** A file's fields at one URL after the configured header rules, before Vary: Accept-Encoding is known. */
export interface FileFields extends FileFieldValues {
  contentType: string;
}

/**
 * A configured field replaces the server's own value rather than adding a second field with
 * the same name (two Cache-Control fields would be combined by a cache into a contradiction);
 * Vary is merged. Fields that describe this very response (ETag, Content-Range, ...) are
 * refused when the configuration is loaded (http/cache-policy.ts). `vary`: what the answer at this
 * URL depends on besides the coding ("Accept" for the SPA's index.html), first in Vary.
 */
export function fileFields(policy: FileHeaderPolicy, filePath: string, urlPath: string, vary = ''): FileFields {
  const f: FileFields = {
    contentType: contentTypeOf(filePath),
    cacheControl: policy.immutableCacheControl && policy.isImmutable(urlPath) ? policy.immutableCacheControl : policy.cacheControl,
    vary: vary === '' || policy.corsVary === '' ? vary + policy.corsVary : `${vary}, ${policy.corsVary}`,
    nosniff: SERVER_HEADERS,
    configured: policy.corsLines,
  };
  for (const [name, value] of policy.headersFor(urlPath)) {
    const lower = name.toLowerCase();
    if (lower === 'cache-control') f.cacheControl = value;
    else if (lower === 'content-type') f.contentType = value;
    else if (lower === 'vary') f.vary = f.vary === '' ? value : `${f.vary}, ${value}`;
    else if (lower === 'x-content-type-options') f.nosniff = fieldLine(name, value);
    else f.configured += fieldLine(name, value);
  }
  return f;
}

/**
 * nosniff and the fields of the header rules matching `urlPath`, for answers that are not a
 * file (404, OPTIONS), so CORS fields reach browsers there too. A rule's Cache-Control and
 * Content-Type describe the file: a 404 must not be cached for a year, nor be called CSS.
 * `vary` ("Accept" for a 404 the SPA fallback may answer) comes first in the one Vary line.
 */
export function ruleLinesFor(headersFor: HeaderRuleMatcher, urlPath: string | null, vary = ''): string {
  let nosniff = SERVER_HEADERS;
  let lines = '';
  let varyValue = vary;
  if (urlPath !== null) {
    for (const [name, value] of headersFor(urlPath)) {
      const lower = name.toLowerCase();
      if (lower === 'cache-control' || lower === 'content-type') continue;
      if (lower === 'x-content-type-options') nosniff = fieldLine(name, value);
      else if (lower === 'vary') varyValue = varyValue === '' ? value : `${varyValue}, ${value}`;
      else lines += fieldLine(name, value);
    }
  }
  return nosniff + (varyValue === '' ? '' : fieldLine('Vary', varyValue)) + lines;
}

/**
 * A file (or a precompressed sibling) as one representation: its identity, validators and —
 * up to `maxBodyBytes` — its bytes. `previous` is reused when the file is the same version,
 * so revalidating an unchanged file reads nothing. FileChangedError when it changed while read.
 */
export async function readRepresentation(filePath: string, st: fs.Stats, coding: Coding | null, previous: Representation | undefined, maxBodyBytes: number): Promise<Representation> {
  const id = identityOf(st);
  if (previous !== undefined && previous.path === filePath && sameIdentity(previous, id)) return previous;
  let body: Buffer | null = null;
  let etag: string;
  if (id.size <= maxBodyBytes) {
    body = await readWhole(filePath, id);
    if (body === null) throw new FileChangedError(`${filePath} changed while it was read`);
    etag = etagOfBytes(id, body);
  } else {
    etag = await etagOfFile(filePath, id);
  }
  const lastModifiedMs = Math.floor(id.mtimeMs / 1000) * 1000;
  return { ...id, path: filePath, coding, etag, lastModifiedMs, validatorLines: validatorLines(etag, lastModifiedMs), body };
}
