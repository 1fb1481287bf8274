/**
 * lookup: a request path → an Entry, with all the file-system work that takes — the path
 * policy (decode, dotfiles, containment, symlinks, clean URLs, the SPA's index.html, index.html,
 * listing, the directory redirect), stat, reading and hashing small files, precompressed
 * siblings and compressed copies — behind a per-worker cache and one disk lookup per path at
 * a time however many requests wait for it.
 *
 * Nothing here knows about sockets or builds a response: an Entry is data, and what to
 * answer with it is decided in http/decide.ts.
 */
import path from 'node:path';
import type { Config } from '../config/config';
import type { Logger } from '../logs/logger';
import { FileChangedError, isOutOfDescriptors, statusForError } from '../errors';
import { compileHeaderRules, type HeaderRuleMatcher } from '../http/cache-policy';
import { corsPolicy } from '../http/cors';
import { compileImmutablePaths } from '../http/immutable-paths';
import { codingWeights, CODING_EXTENSION, CODING_PREFERENCE, pickCoding, type Coding } from '../http/negotiate';
import { fileHeaderLines } from '../http/fields';
import { LruCache, type Representation } from './cache';
import { cleanUrl } from './clean-urls';
import { encodePathSegments } from '../http/path-encoding';
import { isCompressibleType } from './compress';
import { CompressedStore, type CompressedSet, type ExpectedCopy } from './compressed-store';
import { fileFields, type FileHeaderPolicy, readRepresentation, ruleLinesFor, type Entry, type FileEntry, type ListingEntry, type RefusalEntry } from './entry';
import { builtInFavicon, FAVICON_PATH } from './favicon';
import { readListing, type ListingItem, type ListingSort } from './listing';
import { resolveRequestPath } from './resolve';
import { statUnderPolicy, type FoundPath } from './symlink-policy';

/** The site's own 404 page, looked up and cached like any other path. */
const NOT_FOUND_PAGE = '/404.html';

/**
 * The cache key of the root index.html as the SPA fallback serves it (with `Vary: Accept`),
 * one entry for every missing path: no request path contains a NUL (the parser refuses it).
 */
const SPA_INDEX = '\0spa-index';

export type LookupConfig = Pick<
  Config,
  | 'root'
  | 'dotfiles'
  | 'symlinks'
  | 'listing'
  | 'spa'
  | 'cors'
  | 'corsOrigins'
  | 'precompressed'
  | 'compress'
  | 'compressMinBytes'
  | 'compressMaxBytes'
  | 'compressBrotliQuality'
  | 'cleanUrls'
  | 'cacheControl'
  | 'immutableCacheControl'
  | 'immutablePaths'
  | 'headers'
  | 'cacheMaxEntries'
  | 'cacheMaxBytes'
  | 'cacheMaxFileBytes'
  | 'cacheValidMs'
>;

/** What one request is answered with, chosen once (FileLookup.choose) and used by decide and render. */
export interface ChosenRepresentation {
  rep: Representation;
  /** With If-None-Match: the copy a client may hold from another worker (null: none to expect). */
  expectedCopy: ExpectedCopy | null;
  /** The client accepts a coding the file may be compressed to and no copies exist yet. */
  copiesWanted: boolean;
}

export class FileLookup {
  /** What request paths led to, and (under keys no path has) compressed copies of files. */
  private readonly cache: LruCache<Entry | CompressedSet>;
  private readonly compressed: CompressedStore;
  private readonly inFlight = new Map<string, Promise<Entry>>();
  private readonly headersFor: HeaderRuleMatcher;
  private readonly fieldPolicy: FileHeaderPolicy;

  constructor(
    private readonly config: LookupConfig,
    private readonly log: Logger,
    /** Render's: builds a new file entry's own 200 head into `entry.heads` (the lookup keeps, never reads, it). */
    private readonly prepareHead: (entry: FileEntry) => void,
  ) {
    this.cache = new LruCache<Entry | CompressedSet>({ maxEntries: config.cacheMaxEntries, maxBytes: config.cacheMaxBytes });
    this.compressed = new CompressedStore(this.cache, { brotliQuality: config.compressBrotliQuality }, log);
    this.headersFor = compileHeaderRules(config.headers);
    const cors = corsPolicy(config);
    this.fieldPolicy = {
      cacheControl: config.cacheControl,
      immutableCacheControl: config.immutableCacheControl,
      isImmutable: compileImmutablePaths(config.immutablePaths),
      headersFor: this.headersFor,
      // The CORS fields that never depend on the request go into every file's head lines, so
      // the precomputed plain-GET response carries them; the handler adds the rest per reply.
      corsLines: cors?.fixedLines ?? '',
      corsVary: cors?.vary ?? '',
    };
  }

  /** Entries and body bytes held in the file cache now. */
  get cacheSize(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.totalBytes };
  }

  /** The entry a request path led to, if cached (fresh or not). */
  cached(rawPath: string): Entry | undefined {
    const e = this.cache.get(rawPath);
    return e?.kind === 'compressed' ? undefined : e;
  }

  /** Whether a cached entry may be used without asking the disk again. */
  isFresh(entry: Entry | undefined): entry is Entry {
    return entry !== undefined && performance.now() - entry.checkedAt < this.config.cacheValidMs;
  }

  /** Where a path leads now: one disk lookup per path at a time, stored in the cache. `previous` spares reading unchanged files. */
  lookup(rawPath: string, previous: Entry | undefined): Promise<Entry> {
    return this.load(rawPath, () => this.lookupOnDisk(rawPath, previous));
  }

  /** Reads what `key` leads to, once at a time however many ask, and caches it. */
  private load(key: string, read: () => Promise<Entry>): Promise<Entry> {
    let p = this.inFlight.get(key);
    if (p === undefined) {
      p = read().then(
        (e) => {
          this.inFlight.delete(key);
          this.cache.set(key, e);
          return e;
        },
        (err) => {
          this.inFlight.delete(key);
          throw err;
        },
      );
      this.inFlight.set(key, p);
    }
    return p;
  }

  /**
   * Forgets what a path led to (its file changed under a request), and the SPA's index.html,
   * which the answer for a missing path may have been.
   */
  forget(rawPath: string): void {
    this.cache.delete(rawPath);
    this.cache.delete(SPA_INDEX);
  }

  /**
   * The root index.html as the SPA fallback answers a missing path with it: a file entry
   * whose answers say `Vary: Accept` (the same path gets a 404 without HTML in Accept), or a
   * 404 when there is none (or the symlink policy refuses it).
   */
  spaIndex(): Entry | Promise<Entry> {
    const e = this.cached(SPA_INDEX);
    if (this.isFresh(e)) return e;
    return this.load(SPA_INDEX, () => this.spaIndexOnDisk(e));
  }

  /**
   * The representation this request gets, negotiated once: Accept-Encoding is read into its
   * weights one time, and those choose a precompressed sibling, else a ready compressed copy,
   * else the file itself. `conditional` (an If-None-Match came): when the file itself is
   * chosen because no copy is ready here yet, also the validators of the copy the client would
   * get (it may hold one from another worker). Reads only: `startCompression` makes copies.
   */
  choose(entry: FileEntry, acceptEncoding: string | undefined, conditional: boolean): ChosenRepresentation {
    if (acceptEncoding === undefined || (entry.variants.length === 0 && entry.compressKey === null)) return { rep: entry.rep, expectedCopy: null, copiesWanted: false };
    const accepted = codingWeights(acceptEncoding);
    if (entry.variants.length > 0) {
      const coding = pickCoding(accepted, entry.codings);
      return { rep: coding === null ? entry.rep : entry.variants[entry.codings.indexOf(coding)]!, expectedCopy: null, copiesWanted: false };
    }
    const set = this.compressed.ready(entry.compressKey!);
    const coding = set === null ? null : pickCoding(accepted, set.codings);
    if (coding !== null) return { rep: set!.reps[set!.codings.indexOf(coding)]!, expectedCopy: null, copiesWanted: false };
    const expectedCopy = conditional ? this.compressed.expectedValidator(entry.rep, accepted) : null;
    return { rep: entry.rep, expectedCopy, copiesWanted: set === null };
  }

  /**
   * Starts making the compressed copies of `entry`'s file version in the background (when
   * `choose` said they are wanted); the request goes on with what `choose` gave it.
   */
  startCompression(entry: FileEntry): void {
    if (entry.compressKey !== null) this.compressed.startMaking(entry.compressKey, entry.rep);
  }

  /** The body of the site's 404.html, or null when it has none (render has the built-in page). */
  notFoundPage(): Buffer | null | Promise<Buffer | null> {
    const page = this.cached(NOT_FOUND_PAGE);
    if (this.isFresh(page)) return notFoundBody(page);
    return this.lookup(NOT_FOUND_PAGE, page).then(notFoundBody);
  }

  /** nosniff and the header rules of a raw request path, for OPTIONS (`*`: the server itself). */
  ruleLinesOfPath(rawPath: string): string {
    return ruleLinesFor(this.headersFor, rawPath === '*' ? null : this.rulePath(rawPath));
  }

  /** The names of a listed directory, as its listing shows them. */
  listItems(entry: ListingEntry, by: ListingSort): Promise<ListingItem[]> {
    const { config } = this;
    return readListing(entry.dir, { showDotfiles: config.dotfiles === 'allow', symlinks: config.symlinks, root: config.root }, by);
  }

  /**
   * `urlPath`: the decoded path, whose header rules a 404 carries (null: none).
   * `spaFallback`: a missing path the SPA fallback may answer (see RefusalEntry).
   */
  private refusal(status: number, urlPath: string | null, spaFallback = false): RefusalEntry {
    const ruleLines = status === 404 ? ruleLinesFor(this.headersFor, urlPath, spaFallback ? 'Accept' : '') : '';
    return { kind: 'refuse', status, ruleLines, spaFallback, checkedAt: performance.now(), bytes: 0 };
  }

  /**
   * The decoded, normalised path header rules are matched against ("/api/../x" is "/x"), also
   * for a dotfile; null when the path does not decode or leaves the root.
   */
  private rulePath(rawPath: string): string | null {
    const r = resolveRequestPath(this.config.root, rawPath, { dotfiles: 'allow' });
    return r.kind === 'ok' ? `/${r.relPath}` : null;
  }

  private found(filePath: string): Promise<FoundPath> {
    return statUnderPolicy(this.config.root, this.config.symlinks, filePath);
  }

  private async lookupOnDisk(rawPath: string, previous: Entry | undefined): Promise<Entry> {
    const { config } = this;
    const resolved = resolveRequestPath(config.root, rawPath, { dotfiles: config.dotfiles });
    if (resolved.kind === 'refuse') return this.refusal(resolved.status, this.rulePath(rawPath));
    const urlPath = `/${resolved.relPath}`;
    if (config.cleanUrls && !resolved.trailingSlash && resolved.relPath !== '') {
      const clean = await cleanUrl(resolved.relPath, (rel) => this.regularFile(path.join(config.root, rel)));
      if (clean?.kind === 'redirect') return redirect(clean.location);
      if (clean?.kind === 'page') return this.fileEntryOrRefusal(clean.found, `/${clean.relPath}`, previous);
    }

    let target: FoundPath;
    try {
      target = await this.found(resolved.filePath);
    } catch (err) {
      // Out of descriptors is not an answer about this path: nothing is cached, the request gets a 503.
      if (isOutOfDescriptors(err)) throw err;
      const status = statusForError(err);
      if (status === 500) this.log.error({ err, path: resolved.filePath }, 'file lookup failed');
      // No favicon.ico in the root: the built-in icon rather than a 404 on every page view.
      if (status === 404 && urlPath === FAVICON_PATH) return this.prepared(builtInFavicon(this.fieldPolicy));
      return this.refusal(status, urlPath, status === 404 && config.spa);
    }

    if (target.st.isDirectory()) {
      // Built from the decoded segments, so the Location always starts with exactly one "/"
      // and "//evil.example" can never become a protocol-relative open redirect.
      if (!resolved.trailingSlash) return redirect(`/${resolved.relPath === '' ? '' : encodePathSegments(resolved.relPath)}/`);
      // index.html goes through the symlink policy like any file: a link named index.html
      // must not lead out of the root when the file itself could not be asked for.
      let index: FoundPath | null = null;
      try {
        index = await this.found(path.join(target.real, 'index.html'));
      } catch (err) {
        if (isOutOfDescriptors(err)) throw err;
        const status = statusForError(err);
        if (status !== 404) return this.refusal(status, urlPath);
      }
      if (index !== null && index.st.isFile()) return this.fileEntryOrRefusal(index, resolved.relPath ? `/${resolved.relPath}/index.html` : '/index.html', previous);
      if (config.listing) return { kind: 'listing', dir: target.real, urlPath: `/${resolved.relPath}${resolved.relPath ? '/' : ''}`, checkedAt: performance.now(), bytes: 0 };
      return this.refusal(404, urlPath);
    }
    if (!target.st.isFile()) return this.refusal(404, urlPath);
    // "/file.txt/" names a child of a file: nothing (as stat("file.txt/") says, ENOTDIR). Serving
    // the file there would give it a second URL whose relative links resolve elsewhere.
    if (resolved.trailingSlash) return this.refusal(404, urlPath);
    return this.fileEntryOrRefusal(target, urlPath, previous);
  }

  /** The path as a regular file allowed by the symlink policy, or null. */
  private async regularFile(filePath: string): Promise<FoundPath | null> {
    try {
      const found = await this.found(filePath);
      return found.st.isFile() ? found : null;
    } catch {
      return null;
    }
  }

  private async spaIndexOnDisk(previous: Entry | undefined): Promise<Entry> {
    try {
      const index = await this.found(path.join(this.config.root, 'index.html'));
      if (index.st.isFile()) return await this.fileEntryOrRefusal(index, '/index.html', previous, 'Accept');
    } catch (err) {
      if (isOutOfDescriptors(err)) throw err;
      // no index.html (or one the symlink policy refuses): the missing path's own 404
    }
    return this.refusal(404, null);
  }

  /**
   * A file that cannot be read (EACCES, or gone between stat and open) is a refusal with its
   * status. Anything else (a file that keeps changing while read, no descriptors, an I/O
   * error) is not cached: it rejects, and the next request looks again.
   */
  private async fileEntryOrRefusal(found: FoundPath, urlPath: string, previous: Entry | undefined, vary = ''): Promise<Entry> {
    try {
      return await this.fileEntry(found, urlPath, previous?.kind === 'file' ? previous : undefined, vary);
    } catch (err) {
      const status = statusForError(err);
      if (status !== 403 && status !== 404) throw err;
      return this.refusal(status, urlPath);
    }
  }

  /** `entry` with its own 200 head built now rather than on the first request. */
  private prepared(entry: FileEntry): FileEntry {
    this.prepareHead(entry);
    return entry;
  }

  /** `vary`: what the answer depends on besides the coding ("Accept": the SPA's index.html). */
  private async fileEntry(found: FoundPath, urlPath: string, prev: FileEntry | undefined, vary: string, attempt = 0): Promise<FileEntry> {
    const { config } = this;
    const filePath = found.real;
    try {
      const rep = await readRepresentation(filePath, found.st, null, prev?.rep, config.cacheMaxFileBytes);
      const variants: Representation[] = [];
      if (config.precompressed) {
        for (const coding of CODING_PREFERENCE) {
          // A sibling is a file like any other: the symlink policy decides whether it may be
          // read (x.gz linking out of the root must not be served to gzip clients).
          const sib = await this.regularFile(`${filePath}.${CODING_EXTENSION[coding]}`);
          if (sib !== null) variants.push(await readRepresentation(sib.real, sib.st, coding, prev?.variants.find((v) => v.path === sib.real), config.cacheMaxFileBytes));
        }
      }
      const fields = fileFields(this.fieldPolicy, filePath, urlPath, vary);
      // A ready-made sibling wins: a file that has one is served as the site ships it.
      const compressKey =
        config.compress && variants.length === 0 && rep.size >= config.compressMinBytes && rep.size <= config.compressMaxBytes && isCompressibleType(fields.contentType)
          ? CompressedStore.keyOf(rep)
          : null;
      const headerLines = fileHeaderLines(fields, variants.length > 0 || compressKey !== null);
      const entry: FileEntry = {
        kind: 'file',
        rep,
        variants,
        codings: variants.map((v) => v.coding as Coding),
        contentType: fields.contentType,
        headerLines,
        heads: [],
        compressKey,
        checkedAt: performance.now(),
        bytes: (rep.body?.length ?? 0) + variants.reduce((n, v) => n + (v.body?.length ?? 0), 0),
      };
      return this.prepared(entry);
    } catch (err) {
      // The file changed under us between stat and read: look again, then give up (a 503).
      // Again under the symlink policy: the change may be a link put in the file's place.
      if (err instanceof FileChangedError && attempt < 2) {
        return this.fileEntry(await this.found(filePath), urlPath, undefined, vary, attempt + 1);
      }
      throw err;
    }
  }
}

/** `location`: percent-encoded, starting with exactly one "/"; the query is added per request. */
function redirect(location: string): Entry {
  return { kind: 'redirect', location, checkedAt: performance.now(), bytes: 0 };
}

function notFoundBody(page: Entry): Buffer | null {
  return page.kind === 'file' && page.rep.body !== null ? page.rep.body : null;
}
