/**
 * The static-file handler: a parsed request in, a Reply out. On a cache hit it answers
 * synchronously from precomputed header strings (and, for small files, a precomputed
 * response buffer refreshed once a second for the Date header); otherwise it looks the path
 * up on disk, fills the cache and answers from the new entry.
 *
 * Order of decisions for a file (RFC 9110): method → path resolution → representation
 * (Accept-Encoding) → preconditions (§13.2.2) → Range / If-Range (§14) → 200.
 */
import fs from 'node:fs';
import path from 'node:path';
import mime from 'mime-types';
import type { Config } from './config';
import type { Logger } from './logger';
import { isOutOfDescriptors, RETRY_AFTER_SECONDS, statusForErrno } from './errors';
import { etagOfBytes, etagOfFile, identityOf, LruCache, readWhole, sameIdentity, type Cached, type Representation } from './files/cache';
import { isCompressibleType } from './files/compress';
import { CompressedStore, type CompressedSet } from './files/compressed-store';
import { cleanUrl, encodePathSegments } from './files/clean-urls';
import { isInsideRoot, resolveRequestPath } from './files/resolve';
import { parseListingQuery, renderListing, readListing } from './files/listing';
import { compileHeaderRules, isContentHashedName } from './http/cache-policy';
import { evaluatePreconditions, isRangeFresh } from './http/conditional';
import { formatHttpDate } from './http/http-date';
import { chooseEncoding, prefersJson, type Coding } from './http/negotiate';
import { contentRange, makeBoundary, multipartByteranges, parseRange, unsatisfiedRange } from './http/range';
import { errorReply } from './http/connection';
import { dateEpoch, dateHeader, errorPage, HTML_TYPE, SERVER_HEADERS, statusLine } from './http/respond';
import type { Reply, Request } from './http/types';

/** A representation's 200 head lines for one URL, built once, and its whole response per second. */
interface Prepared {
  rep: Representation;
  okHeaders: string;
  /** The whole 200 response to a keep-alive HTTP/1.1 GET, for the second `wireEpoch`. */
  wire: Buffer | null;
  wireEpoch: number;
}

interface FileEntry extends Cached {
  kind: 'file';
  rep: Representation;
  /** Precompressed siblings, in server preference order. */
  variants: Representation[];
  codings: Coding[];
  contentType: string;
  /** Cache-Control, Accept-Ranges, Vary, nosniff and configured headers. */
  headerLines: string;
  /** The file itself first, then each other representation once it has been sent. */
  prepared: Prepared[];
  /** Where the compressed copies of this file version live in the cache; null: not compressed on the fly. */
  compressKey: string | null;
}

interface RedirectEntry extends Cached {
  kind: 'redirect';
  /** Percent-encoded path with its trailing slash; the query is added per request. */
  location: string;
}

interface RefusalEntry extends Cached {
  kind: 'refuse';
  status: number;
  reason: string;
  /** For a 404: the nosniff line and the fields of matching header rules. */
  ruleLines: string;
}

interface ListingEntry extends Cached {
  kind: 'listing';
  dir: string;
  urlPath: string;
}

type Entry = FileEntry | RedirectEntry | RefusalEntry | ListingEntry;

const CODING_SUFFIX: Record<Coding, string> = { br: '.br', zstd: '.zst', gzip: '.gz' };
const CODING_ORDER: readonly Coding[] = ['br', 'zstd', 'gzip'];
/** Above this a cached body is written after its head rather than copied into one buffer. */
const WIRE_MAX_BODY = 64 * 1024;
/** The site's own 404 page, looked up and cached like any other path. */
const NOT_FOUND_PAGE = '/404.html';
const ALLOW = 'Allow: GET, HEAD, OPTIONS\r\n';
/**
 * Fields that describe one particular response (its validators, coding, range, date): a
 * configured header rule cannot set them; it would contradict what the server sends.
 */
/** Types served as they are although mime-types has no charset for them. */
const UTF8_TYPES = new Set(['application/javascript', 'application/json', 'application/xml', 'image/svg+xml', 'application/manifest+json']);

export function contentTypeOf(filePath: string): string {
  const type = mime.lookup(filePath) || 'application/octet-stream';
  const charset = mime.charset(type);
  return charset || UTF8_TYPES.has(type) ? `${type}; charset=utf-8` : type;
}

export type StaticConfig = Pick<
  Config,
  | 'root'
  | 'dotfiles'
  | 'symlinks'
  | 'listing'
  | 'spa'
  | 'precompressed'
  | 'compress'
  | 'compressMinBytes'
  | 'compressMaxBytes'
  | 'compressBrotliQuality'
  | 'cleanUrls'
  | 'maxRanges'
  | 'cacheControl'
  | 'immutableCacheControl'
  | 'headers'
  | 'cacheMaxEntries'
  | 'cacheMaxBytes'
  | 'cacheMaxFileBytes'
  | 'cacheValidMs'
>;

export class StaticHandler {
  /** What request paths led to, and (under keys no path has) compressed copies of files. */
  private readonly cache: LruCache<Entry | CompressedSet>;
  private readonly compressed: CompressedStore;
  private readonly inFlight = new Map<string, Promise<Entry>>();
  private readonly headersFor: (urlPath: string) => [string, string][];
  /** GET/HEAD answered from a fresh cache entry, and those that needed the disk (metrics). */
  cacheHits = 0;
  cacheMisses = 0;

  constructor(
    private readonly config: StaticConfig,
    private readonly log: Logger,
    /** Told when a file could not be opened for lack of descriptors (the worker then stops accepting a moment). */
    private readonly onOutOfDescriptors: () => void = () => {},
  ) {
    this.cache = new LruCache<Entry | CompressedSet>({ maxEntries: config.cacheMaxEntries, maxBytes: config.cacheMaxBytes });
    this.compressed = new CompressedStore(this.cache, { brotliQuality: config.compressBrotliQuality }, log);
    this.headersFor = compileHeaderRules(config.headers);
  }

  /** Decides the reply: synchronously when the path is cached and fresh. */
  handle(req: Request): Reply | Promise<Reply> {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      if (method === 'OPTIONS') {
        // A CORS preflight asks here first: the header rules of the path answer it.
        return { status: 204, headers: ALLOW + this.ruleLinesFor(req.path === '*' ? null : this.rulePath(req.path)), body: null };
      }
      return withHeader(errorReply(405, `method ${method} not allowed`), ALLOW, false);
    }
    if (req.path === '*') return errorReply(400, 'asterisk-form is for OPTIONS only');
    const entry = this.cached(req.path);
    if (entry !== undefined && performance.now() - entry.checkedAt < this.config.cacheValidMs) {
      this.cacheHits++;
      return this.answer(req, entry);
    }
    this.cacheMisses++;
    return this.lookupCached(req.path, entry).then((e) => this.answer(req, e), (err) => this.busy(err));
  }

  /** Entries and body bytes held in the file cache now. */
  get cacheSize(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.totalBytes };
  }

  /** One disk lookup per path at a time, however many requests wait for it. */
  private lookupCached(rawPath: string, previous: Entry | undefined): Promise<Entry> {
    let p = this.inFlight.get(rawPath);
    if (p === undefined) {
      p = this.lookup(rawPath, previous).then(
        (e) => {
          this.inFlight.delete(rawPath);
          this.cache.set(rawPath, e);
          return e;
        },
        (err) => {
          this.inFlight.delete(rawPath);
          throw err;
        },
      );
      this.inFlight.set(rawPath, p);
    }
    return p;
  }

  /** The entry a request path led to, if cached. */
  private cached(key: string): Entry | undefined {
    const e = this.cache.get(key);
    return e?.kind === 'compressed' ? undefined : e;
  }

  /** `urlPath`: the decoded path, whose header rules a 404 carries (null: none). */
  private refusal(status: number, reason: string, urlPath: string | null): RefusalEntry {
    const ruleLines = status === 404 ? this.ruleLinesFor(urlPath) : SERVER_HEADERS;
    return { kind: 'refuse', status, reason, ruleLines, checkedAt: performance.now(), bytes: 0 };
  }

  /**
   * The decoded, normalised path header rules are matched against ("/api/../x" is "/x"), also
   * for a dotfile; null when the path does not decode or leaves the root.
   */
  private rulePath(rawPath: string): string | null {
    const r = resolveRequestPath(this.config.root, rawPath, { dotfiles: 'allow' });
    return r.kind === 'ok' ? `/${r.relPath}` : null;
  }

  /**
   * nosniff and the fields of the header rules matching `urlPath`, for answers that are not a
   * file (404, OPTIONS), so CORS fields reach browsers there too. A rule's Cache-Control and
   * Content-Type describe the file: a 404 must not be cached for a year, nor be called CSS.
   */
  private ruleLinesFor(urlPath: string | null): string {
    if (urlPath === null) return SERVER_HEADERS;
    let nosniff = SERVER_HEADERS;
    let lines = '';
    for (const [name, value] of this.headersFor(urlPath)) {
      const lower = name.toLowerCase();
      if (lower === 'cache-control' || lower === 'content-type') continue;
      if (lower === 'x-content-type-options') nosniff = `${name}: ${value}\r\n`;
      else lines += `${name}: ${value}\r\n`;
    }
    return nosniff + lines;
  }

  /** Where a path leads on disk now. */
  private async lookup(rawPath: string, previous: Entry | undefined): Promise<Entry> {
    const { config } = this;
    const resolved = resolveRequestPath(config.root, rawPath, { dotfiles: config.dotfiles });
    if (resolved.kind === 'refuse') return this.refusal(resolved.status, resolved.reason, this.rulePath(rawPath));
    const urlPath = `/${resolved.relPath}`;
    if (config.cleanUrls && !resolved.trailingSlash && resolved.relPath !== '') {
      const clean = await cleanUrl(resolved.relPath, (rel) => this.regularFile(path.join(config.root, rel)));
      if (clean?.kind === 'redirect') return this.redirect(clean.location);
      if (clean?.kind === 'page') return this.fileEntryOrRefusal(clean.found.real, clean.found.st, `/${clean.relPath}`, previous);
    }

    let target: { real: string; st: fs.Stats };
    try {
      target = await this.statInsideRoot(resolved.filePath);
    } catch (err) {
      // Out of descriptors is not an answer about this path: nothing is cached, the request gets a 503.
      if (isOutOfDescriptors(err)) throw err;
      const status = statusForErrno(err);
      if (status === 404 && config.spa && !path.posix.basename(resolved.relPath).includes('.')) {
        return this.spaFallback(urlPath);
      }
      if (status === 500) this.log.error({ err, path: resolved.filePath }, 'file lookup failed');
      return this.refusal(status, (err as Error).message, urlPath);
    }

    if (target.st.isDirectory()) {
      if (!resolved.trailingSlash) {
        // Built from the decoded segments, so the Location always starts with exactly one "/"
        // and "//evil.example" can never become a protocol-relative open redirect.
        const enc = resolved.relPath === '' ? '' : encodePathSegments(resolved.relPath);
        return { kind: 'redirect', location: `/${enc}/`, checkedAt: performance.now(), bytes: 0 };
      }
      // index.html goes through the symlink policy like any file: a link named index.html
      // must not lead out of the root when the file itself could not be asked for.
      let index: { real: string; st: fs.Stats } | null = null;
      try {
        index = await this.statInsideRoot(path.join(target.real, 'index.html'));
      } catch (err) {
        if (isOutOfDescriptors(err)) throw err;
        const status = statusForErrno(err);
        if (status !== 404) return this.refusal(status, (err as Error).message, urlPath);
      }
      if (index !== null && index.st.isFile()) {
        return this.fileEntryOrRefusal(index.real, index.st, resolved.relPath ? `/${resolved.relPath}/index.html` : '/index.html', previous);
      }
      if (config.listing) return { kind: 'listing', dir: target.real, urlPath: `/${resolved.relPath}${resolved.relPath ? '/' : ''}`, checkedAt: performance.now(), bytes: 0 };
      return this.refusal(404, 'directory without index.html', urlPath);
    }
    if (!target.st.isFile()) return this.refusal(404, 'not a regular file', urlPath);
    // "/file.txt/" names a child of a file: nothing (as stat("file.txt/") says, ENOTDIR). Serving
    // the file there would give it a second URL whose relative links resolve elsewhere.
    if (resolved.trailingSlash) return this.refusal(404, 'a file has no children', urlPath);
    return this.fileEntryOrRefusal(target.real, target.st, urlPath, previous);
  }

  /** `location`: percent-encoded, starting with exactly one "/"; the query is added per request. */
  private redirect(location: string): RedirectEntry {
    return { kind: 'redirect', location, checkedAt: performance.now(), bytes: 0 };
  }

  /** The path as a regular file allowed by the symlink policy, or null. */
  private async regularFile(filePath: string): Promise<{ real: string; st: fs.Stats } | null> {
    try {
      const found = await this.statInsideRoot(filePath);
      return found.st.isFile() ? found : null;
    } catch {
      return null;
    }
  }

  private async spaFallback(urlPath: string): Promise<Entry> {
    try {
      const index = await this.statInsideRoot(path.join(this.config.root, 'index.html'));
      if (index.st.isFile()) return await this.fileEntryOrRefusal(index.real, index.st, '/index.html', undefined);
    } catch (err) {
      if (isOutOfDescriptors(err)) throw err;
      // no index.html (or one the symlink policy refuses): a plain 404
    }
    return this.refusal(404, 'not found', urlPath);
  }

  /** A file that cannot be read (EACCES, or gone between stat and open) is a refusal with its status, not a 500. */
  private async fileEntryOrRefusal(filePath: string, st: fs.Stats, urlPath: string, previous: Entry | undefined): Promise<Entry> {
    try {
      return await this.fileEntry(filePath, st, urlPath, previous);
    } catch (err) {
      // Anything else (a file that keeps changing while read, an I/O error) is not cached: the
      // connection answers it with a 500 and the next request looks again.
      const status = statusForErrno(err);
      if (status !== 403 && status !== 404) throw err;
      return this.refusal(status, (err as Error).message, urlPath);
    }
  }

  /** stat() under the symlink policy: targets outside the root are "not found", never served. */
  private async statInsideRoot(filePath: string): Promise<{ real: string; st: fs.Stats }> {
    const policy = this.config.symlinks;
    if (policy === 'follow') return { real: filePath, st: await fs.promises.stat(filePath) };
    const real = await fs.promises.realpath(filePath);
    const notFound = () => Object.assign(new Error('symbolic link refused by policy'), { code: 'ENOENT' });
    if (policy === 'deny') {
      if (real !== filePath) throw notFound();
    } else if (!isInsideRoot(this.config.root, real)) {
      throw notFound();
    }
    return { real, st: await fs.promises.stat(real) };
  }

  private async representation(filePath: string, st: fs.Stats, coding: Coding | null, previous: Representation | undefined): Promise<Representation> {
    const id = identityOf(st);
    if (previous !== undefined && previous.path === filePath && sameIdentity(previous, id)) return previous;
    let body: Buffer | null = null;
    let etag: string;
    if (id.size <= this.config.cacheMaxFileBytes) {
      body = await readWhole(filePath, id);
      if (body === null) throw Object.assign(new Error(`${filePath} changed while it was read`), { code: 'ECHANGED' });
      etag = etagOfBytes(id, body);
    } else {
      etag = await etagOfFile(filePath, id);
    }
    const lastModifiedMs = Math.floor(id.mtimeMs / 1000) * 1000;
    return {
      ...id,
      path: filePath,
      coding,
      etag,
      lastModifiedMs,
      validatorLines: `ETag: ${etag}\r\nLast-Modified: ${formatHttpDate(lastModifiedMs)}\r\n`,
      body,
    };
  }

  private async fileEntry(filePath: string, st: fs.Stats, urlPath: string, previous: Entry | undefined, attempt = 0): Promise<FileEntry> {
    const prev = previous?.kind === 'file' ? previous : undefined;
    try {
      const rep = await this.representation(filePath, st, null, prev?.rep);
      const variants: Representation[] = [];
      if (this.config.precompressed) {
        for (const coding of CODING_ORDER) {
          // A sibling is a file like any other: the symlink policy decides whether it may be
          // read (x.gz linking out of the root must not be served to gzip clients).
          let sib: { real: string; st: fs.Stats };
          try {
            sib = await this.statInsideRoot(filePath + CODING_SUFFIX[coding]);
          } catch {
            continue;
          }
          if (!sib.st.isFile()) continue;
          variants.push(await this.representation(sib.real, sib.st, coding, prev?.variants.find((v) => v.path === sib.real)));
        }
      }
      const base = path.posix.basename(urlPath);
      let cacheControl = this.config.immutableCacheControl && isContentHashedName(base) ? this.config.immutableCacheControl : this.config.cacheControl;
      let contentType = contentTypeOf(filePath);
      let vary = '';
      let nosniff = SERVER_HEADERS;
      let configured = '';
      // A configured field replaces the server's own value rather than adding a second field
      // with the same name (two Cache-Control fields would be combined by a cache into a
      // contradiction); Vary is merged. Fields that describe this very response (ETag,
      // Content-Range, ...) are refused when the configuration is loaded (cache-policy.ts).
      for (const [name, value] of this.headersFor(urlPath)) {
        const lower = name.toLowerCase();
        if (lower === 'cache-control') cacheControl = value;
        else if (lower === 'content-type') contentType = value;
        else if (lower === 'vary') vary = vary === '' ? value : `${vary}, ${value}`;
        else if (lower === 'x-content-type-options') nosniff = `${name}: ${value}\r\n`;
        else configured += `${name}: ${value}\r\n`;
      }
      // A ready-made sibling wins: a file that has one is served as the site ships it.
      const { config } = this;
      const compressKey =
        config.compress && variants.length === 0 && rep.size >= config.compressMinBytes && rep.size <= config.compressMaxBytes && isCompressibleType(contentType)
          ? CompressedStore.keyOf(rep)
          : null;
      // Every answer for a file that has (or will have) other codings says so, the
      // uncompressed one included, or a shared cache would hand it to every client.
      if (variants.length > 0 || compressKey !== null) vary = vary === '' ? 'Accept-Encoding' : `Accept-Encoding, ${vary}`;
      let headerLines = `Cache-Control: ${cacheControl}\r\nAccept-Ranges: bytes\r\n`;
      if (vary !== '') headerLines += `Vary: ${vary}\r\n`;
      headerLines += nosniff + configured;
      const bytes = (rep.body?.length ?? 0) + variants.reduce((n, v) => n + (v.body?.length ?? 0), 0);
      return {
        kind: 'file',
        rep,
        variants,
        codings: variants.map((v) => v.coding as Coding),
        contentType,
        headerLines,
        prepared: [{ rep, okHeaders: okHeaders(contentType, headerLines, rep), wire: null, wireEpoch: -1 }],
        compressKey,
        checkedAt: performance.now(),
        bytes,
      };
    } catch (err) {
      // The file changed under us between stat and read: look again, then give up (503, see busy).
      if ((err as NodeJS.ErrnoException).code === 'ECHANGED' && attempt < 2) {
        return this.fileEntry(filePath, await fs.promises.stat(filePath), urlPath, undefined, attempt + 1);
      }
      throw err;
    }
  }

  private answer(req: Request, entry: Entry): Reply | Promise<Reply> {
    switch (entry.kind) {
      case 'file':
        return this.answerFile(req, entry);
      case 'redirect': {
        const location = entry.location + req.query;
        const body = errorPage(301, `Moved to ${location}`);
        return {
          status: 301,
          headers: `Location: ${location}\r\nContent-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\n${SERVER_HEADERS}`,
          body,
        };
      }
      case 'listing':
        return this.answerListing(req, entry);
      case 'refuse':
        if (entry.status === 404) return this.notFound(req, entry.ruleLines);
        return entry.status === 400 ? errorReply(400, entry.reason) : keepAlive(errorReply(entry.status, entry.reason));
    }
  }

  /** 404 with the site's 404.html when it has one; `ruleLines` from the header rules of the path asked for. */
  private notFound(req: Request, ruleLines: string): Reply | Promise<Reply> {
    const page = this.cached(NOT_FOUND_PAGE);
    const fresh = page !== undefined && performance.now() - page.checkedAt < this.config.cacheValidMs;
    const build = (p: Entry): Reply => {
      const body = p.kind === 'file' && p.rep.body !== null ? p.rep.body : errorPage(404);
      return {
        status: 404,
        headers: `Content-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\nCache-Control: no-cache\r\n${ruleLines}`,
        body: req.method === 'HEAD' ? null : body,
      };
    };
    if (fresh) return build(page);
    return this.lookupCached(NOT_FOUND_PAGE, page).then(build);
  }

  /**
   * The representation for this Accept-Encoding: a precompressed sibling, else a compressed
   * copy once one is ready (asking for one starts making them), else the file itself.
   */
  private choose(entry: FileEntry, acceptEncoding: string | undefined): Representation {
    if (acceptEncoding === undefined) return entry.rep;
    if (entry.variants.length > 0) {
      const coding = chooseEncoding(acceptEncoding, entry.codings);
      return coding === null ? entry.rep : entry.variants[entry.codings.indexOf(coding)]!;
    }
    if (entry.compressKey === null) return entry.rep;
    const set = this.compressed.ready(entry.compressKey, entry.rep);
    if (set === null) return entry.rep;
    const coding = chooseEncoding(acceptEncoding, set.codings);
    return coding === null ? entry.rep : set.reps[set.codings.indexOf(coding)]!;
  }

  private answerFile(req: Request, entry: FileEntry): Reply | Promise<Reply> {
    const h = req.headers;
    const rep = this.choose(entry, h['accept-encoding']);
    // The fast path: a plain GET of a representation held in memory.
    if (
      req.method === 'GET' &&
      rep.body !== null &&
      h.range === undefined &&
      h['if-none-match'] === undefined &&
      h['if-modified-since'] === undefined &&
      h['if-match'] === undefined &&
      h['if-unmodified-since'] === undefined
    ) {
      const body = rep.body;
      const p = prepared(entry, rep);
      const headers = p.okHeaders;
      if (body.length > WIRE_MAX_BODY) return { status: 200, headers, body };
      dateHeader();
      if (p.wireEpoch !== dateEpoch() || p.wire === null) {
        p.wire = Buffer.concat([Buffer.from(statusLine(200) + dateHeader() + headers + '\r\n', 'latin1'), body]);
        p.wireEpoch = dateEpoch();
      }
      return { status: 200, headers, body, wire: p.wire };
    }

    const outcome = evaluatePreconditions(
      req.method,
      { ifMatch: h['if-match'], ifNoneMatch: h['if-none-match'], ifModifiedSince: h['if-modified-since'], ifUnmodifiedSince: h['if-unmodified-since'] },
      { etag: rep.etag, lastModifiedMs: rep.lastModifiedMs },
    );
    if (outcome === 304) {
      // RFC 9110 §15.4.5: the fields a 200 would have carried that describe caching.
      return { status: 304, headers: entry.headerLines + rep.validatorLines, body: null };
    }
    if (outcome === 'proceed' && rep === entry.rep && entry.compressKey !== null && h['if-none-match'] !== undefined && h['accept-encoding'] !== undefined) {
      // No copy here yet (a new worker) but the client may hold one from another worker: it is
      // still current when its tag is the one this file version's copy gets.
      const coming = this.compressed.expectedValidator(entry.rep, h['accept-encoding']);
      if (coming !== null && evaluatePreconditions(req.method, { ifNoneMatch: h['if-none-match'] }, { etag: coming.etag, lastModifiedMs: rep.lastModifiedMs }) === 304) {
        return { status: 304, headers: entry.headerLines + coming.validatorLines, body: null };
      }
    }
    if (outcome === 412) {
      const body = errorPage(412);
      return { status: 412, headers: `Content-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\n${SERVER_HEADERS}`, body };
    }

    const size = rep.size;
    if (h.range !== undefined && isRangeFresh(h['if-range'], { etag: rep.etag, lastModifiedMs: rep.lastModifiedMs })) {
      const range = parseRange(h.range, size, { maxRanges: this.config.maxRanges });
      if (range.kind === 'unsatisfiable') {
        return {
          status: 416,
          headers: `Content-Range: ${unsatisfiedRange(size)}\r\nContent-Length: 0\r\n${entry.headerLines}${rep.validatorLines}`,
          body: null,
        };
      }
      if (range.kind === 'ranges' && range.ranges.length === 1) {
        const { start, end } = range.ranges[0]!;
        const length = end - start + 1;
        const headers =
          `Content-Type: ${entry.contentType}\r\n${entry.headerLines}${rep.validatorLines}` +
          encodingLine(rep) +
          `Content-Range: ${contentRange(start, end, size)}\r\nContent-Length: ${length}\r\n`;
        return this.body(req, rep, 206, headers, start, end + 1);
      }
      if (range.kind === 'ranges') {
        const mp = multipartByteranges(range.ranges, size, entry.contentType, makeBoundary());
        const headers =
          `Content-Type: ${mp.contentType}\r\n${entry.headerLines}${rep.validatorLines}` + encodingLine(rep) + `Content-Length: ${mp.length}\r\n`;
        if (req.method === 'HEAD') return { status: 206, headers, body: null };
        // Part ends from range.ts are inclusive; bodies here are [start, end).
        if (rep.body !== null) {
          const chunks: Buffer[] = [];
          for (const part of mp.parts) chunks.push(part.head, rep.body.subarray(part.start, part.end + 1));
          chunks.push(mp.tail);
          return { status: 206, headers, body: Buffer.concat(chunks, mp.length) };
        }
        return this.openOrRetry(req, rep, (fd) => ({
          status: 206,
          headers,
          body: { kind: 'multipart', fd, parts: mp.parts.map((p) => ({ head: p.head, start: p.start, end: p.end + 1 })), tail: mp.tail },
        }));
      }
    }
    return this.body(req, rep, 200, prepared(entry, rep).okHeaders, 0, size);
  }

  /** A body from memory when the file is cached, else from an opened and re-checked descriptor. */
  private body(req: Request, rep: Representation, status: number, headers: string, start: number, end: number): Reply | Promise<Reply> {
    if (req.method === 'HEAD') return { status, headers, body: null };
    if (rep.body !== null) return { status, headers, body: start === 0 && end === rep.body.length ? rep.body : rep.body.subarray(start, end) };
    return this.openOrRetry(req, rep, (fd) => ({ status, headers, body: { kind: 'file', fd, start, end } }));
  }

  /**
   * Opens a large file and checks it is still the one whose length and ETag we are about to
   * send. If it changed or vanished since it was cached, the entry is dropped and the request
   * answered once more from a fresh lookup; a file that keeps changing gets a 503.
   */
  private openOrRetry(req: Request, rep: Representation, reply: (fd: number) => Reply): Promise<Reply> {
    return openChecked(rep).then(reply, (err: NodeJS.ErrnoException) => {
      if (isOutOfDescriptors(err)) return this.busy(err);
      if (req.retried) {
        return err.code === 'ECHANGED' ? fileChanging(err.message) : keepAlive(errorReply(statusForErrno(err), err.message));
      }
      this.cache.delete(req.path);
      return this.lookupCached(req.path, undefined).then((e) => this.answer({ ...req, retried: true }, e), (err) => this.busy(err));
    });
  }

  /**
   * A file that kept changing while it was read (ECHANGED after the retries), or no descriptor
   * to open it with, is a transient 503, not cached; anything else goes on to the connection's 500.
   */
  private busy(err: unknown): Reply {
    if ((err as NodeJS.ErrnoException | null)?.code === 'ECHANGED') return fileChanging((err as Error).message);
    if (isOutOfDescriptors(err)) {
      this.onOutOfDescriptors();
      return outOfDescriptors(err);
    }
    throw err;
  }

  private async answerListing(req: Request, entry: ListingEntry): Promise<Reply> {
    const by = parseListingQuery(req.query);
    if ('error' in by) {
      // A sort link the server never wrote: say what is wrong (escaped), keep the connection.
      const body = errorPage(400, `Bad listing query: ${by.error}. Use ?sort=name|size|date&order=asc|desc.`);
      return {
        status: 400,
        headers: `Content-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n${SERVER_HEADERS}`,
        body: req.method === 'HEAD' ? null : body,
      };
    }
    let items;
    try {
      items = await readListing(entry.dir, { showDotfiles: this.config.dotfiles === 'allow', symlinks: this.config.symlinks, root: this.config.root }, by);
    } catch (err) {
      if (isOutOfDescriptors(err)) return this.busy(err);
      const status = statusForErrno(err);
      return keepAlive(errorReply(status, (err as Error).message));
    }
    const json = prefersJson(req.headers.accept);
    const body = renderListing(entry.urlPath, items, json ? 'json' : 'html', by);
    const type = json ? 'application/json; charset=utf-8' : HTML_TYPE;
    return {
      status: 200,
      headers: `Content-Type: ${type}\r\nContent-Length: ${body.length}\r\nCache-Control: no-cache\r\nVary: Accept\r\n${SERVER_HEADERS}`,
      body: req.method === 'HEAD' ? null : body,
    };
  }
}

function openChecked(rep: Representation): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(rep.path, 'r', (err, fd) => {
      if (err) return reject(err);
      fs.fstat(fd, (err2, st) => {
        if (err2 || !sameIdentity(identityOf(st), rep)) {
          fs.close(fd, () => {});
          return reject(err2 ?? Object.assign(new Error(`${rep.path} changed since it was cached`), { code: 'ECHANGED' }));
        }
        resolve(fd); // the connection owns it now and closes it when the body ends
      });
    });
  });
}

/** The 200 head lines of `rep` for a URL whose type and other fields are given. */
function okHeaders(contentType: string, headerLines: string, rep: Representation): string {
  return `Content-Type: ${contentType}\r\n${headerLines}${rep.validatorLines}${encodingLine(rep)}Content-Length: ${rep.size}\r\n`;
}

/** Most representations one entry prepares heads for: copies evicted and made again add more. */
const MAX_PREPARED = 8;

function prepared(entry: FileEntry, rep: Representation): Prepared {
  const list = entry.prepared;
  for (let i = 0; i < list.length; i++) if (list[i]!.rep === rep) return list[i]!;
  if (list.length >= MAX_PREPARED) list.length = 1; // keep the file itself
  const p: Prepared = { rep, okHeaders: okHeaders(entry.contentType, entry.headerLines, rep), wire: null, wireEpoch: -1 };
  list.push(p);
  return p;
}

function encodingLine(rep: Representation): string {
  return rep.coding === null ? '' : `Content-Encoding: ${rep.coding}\r\n`;
}

/** EMFILE / ENFILE while opening or reading a file: 503, try again in a moment (as nginx answers). */
function outOfDescriptors(err: unknown): Reply {
  return withHeader(errorReply(503, (err as Error).message), `Retry-After: ${RETRY_AFTER_SECONDS}\r\n`, false);
}

/** 503 for a file that is being rewritten while we read it: worth asking again in a moment. */
function fileChanging(note: string): Reply {
  return withHeader(errorReply(503, note), `Retry-After: ${RETRY_AFTER_SECONDS}\r\n`, false);
}

/** Errors that are not about the request's framing keep the connection open. */
function keepAlive(reply: Reply): Reply {
  return { ...reply, close: false };
}

function withHeader(reply: Reply, line: string, close: boolean): Reply {
  return { ...reply, headers: line + reply.headers, close };
}
