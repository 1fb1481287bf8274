/**
 * Compressed copies of files, made once per file version in the background and kept in the
 * file cache (their bytes count against cacheMaxBytes, and they are evicted like any entry).
 *
 * One cache entry per file version (device, inode, size, mtime), under a key no request path
 * can have, so every URL that leads to the same file — "/", "/index.html", every SPA route —
 * shares one set of copies, and a changed file (a new version) never sees the old copies.
 * Until a copy is ready the caller serves the file as it is: no request waits for a
 * compressor.
 */
import type { Logger } from '../logs/logger';
import { validatorLines } from '../http/fields';
import { pickCoding, type Coding, type CodingWeights } from '../http/negotiate';
import { identityKey, readWhole, type Cached, type FileIdentity, type LruCache, type Representation } from './cache';
import { BackgroundQueue, compress, compressionLevel, GENERATED_CODINGS, generatedEtag, worthKeeping } from './compress';

/** The compressed copies of one file version made so far. */
export interface CompressedSet extends Cached {
  kind: 'compressed';
  /** Ready copies; `reps[i]` has coding `codings[i]`. */
  reps: Representation[];
  codings: Coding[];
}

/** The validators of a compressed copy a client may hold before this worker made it. */
export interface ExpectedCopy {
  etag: string;
  validatorLines: string;
}

export interface CompressionOptions {
  brotliQuality: number;
}

/** What a job needs of its source; the bytes only weakly, so a waiting job pins no memory. */
interface Source extends FileIdentity {
  path: string;
  etag: string;
  lastModifiedMs: number;
  body: WeakRef<Buffer> | null;
}

/** One job compresses at a time per worker (it uses one libuv thread); more wait, up to a bound. */
const CONCURRENT_JOBS = 1;
const MAX_WAITING_JOBS = 256;

export class CompressedStore {
  private readonly queue: BackgroundQueue;

  constructor(
    private readonly cache: LruCache<Cached & { kind: string }>,
    private readonly options: CompressionOptions,
    private readonly log: Logger,
  ) {
    this.queue = new BackgroundQueue(CONCURRENT_JOBS, MAX_WAITING_JOBS, (err, key) =>
      log.warn({ err, version: key.slice(1) }, 'compression failed'),
    );
  }

  /** The cache key of a file version's copies: "\n" never occurs in a request path. */
  static keyOf(id: FileIdentity): string {
    return '\n' + identityKey(id);
  }

  /** The copies of a file version ready now, or null when none is (none made yet, or being made). */
  ready(key: string): CompressedSet | null {
    const found = this.cache.get(key);
    return found !== undefined && found.kind === 'compressed' && (found as CompressedSet).reps.length > 0 ? (found as CompressedSet) : null;
  }

  /**
   * Schedules making the copies of `source` (the file as it is) in the background, unless
   * they exist or are being made: the first request for a version starts them, later ones
   * find them in the cache.
   */
  startMaking(key: string, source: Representation): void {
    if (this.cache.peek(key) !== undefined) return;
    const set: CompressedSet = { kind: 'compressed', reps: [], codings: [], checkedAt: 0, bytes: 0 };
    this.cache.set(key, set);
    if (this.cache.peek(key) !== set) return; // the cache is off: nowhere to keep copies
    const src: Source = {
      path: source.path,
      dev: source.dev,
      ino: source.ino,
      size: source.size,
      mtimeMs: source.mtimeMs,
      etag: source.etag,
      lastModifiedMs: source.lastModifiedMs,
      body: source.body === null ? null : new WeakRef(source.body),
    };
    // A full queue: forget the set so a later request tries again.
    if (!this.queue.add(key, () => this.make(key, set, src))) this.cache.delete(key);
  }

  /**
   * The validator of the copy `acceptEncoding` would get once copies of `source` exist, before
   * they do (a new worker). Copies are a pure function of the file, so a client holding that
   * ETag holds exactly those bytes, and a 304 for it is true.
   */
  expectedValidator(source: Representation, accepted: CodingWeights): ExpectedCopy | null {
    const coding = pickCoding(accepted, GENERATED_CODINGS);
    if (coding === null) return null;
    const etag = generatedEtag(source.etag, coding, compressionLevel(coding, source.size, this.options.brotliQuality));
    return { etag, validatorLines: validatorLines(etag, source.lastModifiedMs) };
  }

  private async make(key: string, set: CompressedSet, src: Source): Promise<void> {
    if (this.cache.peek(key) !== set) return; // evicted while it waited: nobody would see the result
    let input: Buffer | null;
    try {
      input = src.body?.deref() ?? (await readWhole(src.path, src));
    } catch {
      input = null; // gone or unreadable since: the next lookup tells the client
    }
    if (input === null) return; // changed since: the new version has a key of its own
    for (const coding of GENERATED_CODINGS) {
      const level = compressionLevel(coding, input.length, this.options.brotliQuality);
      const started = performance.now();
      const out = await compress(coding, input, level);
      if (this.cache.peek(key) !== set) return;
      const ms = Math.round(performance.now() - started);
      if (!worthKeeping(input.length, out.length)) {
        this.log.debug({ path: src.path, coding, bytes: out.length, from: input.length, ms }, 'compressed copy not kept: too little saved');
        continue;
      }
      if (!this.cache.grow(key, set, out.length)) continue; // would not fit in cacheMaxBytes
      const etag = generatedEtag(src.etag, coding, level);
      set.reps.push({
        path: src.path,
        dev: src.dev,
        ino: src.ino,
        size: out.length,
        mtimeMs: src.mtimeMs,
        coding,
        etag,
        lastModifiedMs: src.lastModifiedMs,
        validatorLines: validatorLines(etag, src.lastModifiedMs),
        body: out,
      });
      set.codings.push(coding);
      this.log.debug({ path: src.path, coding, level, bytes: out.length, from: input.length, ms }, 'compressed');
    }
  }
}
