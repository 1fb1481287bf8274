/**
 * Compression without a build step: which files are worth compressing, with what parameters,
 * under which ETag, and a small background queue that compresses each file version once.
 *
 * The compressed bytes are a pure function of (input bytes, coding, level, library version):
 * node:zlib's brotli, gzip and zstd are deterministic for the same parameters. So the ETag of
 * a compressed representation can be derived from the identity ETag (a hash of the input)
 * plus those parameters, and every worker, replica and restart that produces the same bytes
 * sends the same strong validator — without hashing the output.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { Coding } from '../http/negotiate';

/** Media types worth compressing besides text/*, *+json and *+xml (parameters stripped). */
const COMPRESSIBLE_TYPES: ReadonlySet<string> = new Set([
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/json',
  'application/x-ndjson',
  'application/xml',
  'application/wasm',
  'application/yaml',
  'application/toml',
  'application/x-sh',
  'application/sql',
  'application/graphql',
  'application/vnd.ms-fontobject',
  'application/x-font-ttf',
  'font/ttf',
  'font/otf',
  'image/bmp',
  'image/x-icon',
  'image/vnd.microsoft.icon',
]);

/**
 * Whether a Content-Type (with or without parameters) names a type that compresses well:
 * text/*, any *+json or *+xml (image/svg+xml, application/manifest+json, application/ld+json,
 * application/rss+xml, …) and the list above. Images, audio, video, archives and WOFF fonts
 * are compressed already and are not.
 */
export function isCompressibleType(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type.startsWith('text/')) return true;
  if (type.endsWith('+json') || type.endsWith('+xml')) return true;
  return COMPRESSIBLE_TYPES.has(type);
}

interface ZstdZlib {
  zstdCompress?: (buf: Buffer, options: { params: Record<number, number>; pledgedSrcSize?: number }, cb: (err: Error | null, out: Buffer) => void) => void;
  constants: { ZSTD_c_compressionLevel?: number };
}

/** zstd is in node:zlib from Node 22.15 / 23.8; detected, never assumed. */
const zstd = zlib as unknown as ZstdZlib;
const HAS_ZSTD = typeof zstd.zstdCompress === 'function' && typeof zstd.constants.ZSTD_c_compressionLevel === 'number';

/**
 * The codings this runtime can produce, in the order a background job makes them: brotli
 * first (every current browser takes it, and it is the smallest), then gzip, then zstd.
 */
export const GENERATED_CODINGS: readonly Coding[] = HAS_ZSTD ? ['br', 'gzip', 'zstd'] : ['br', 'gzip'];

/** Above this input size the slowest levels are capped: brotli 11 runs at about 0.5 MB/s. */
export const LARGE_INPUT_BYTES = 1024 * 1024;

/**
 * The level a coding is produced with for an input of `size` bytes: gzip 9; brotli
 * `brotliQuality`, at most 9 above 1 MiB; zstd 19, 12 above 1 MiB.
 */
export function compressionLevel(coding: Coding, size: number, brotliQuality: number): number {
  const large = size > LARGE_INPUT_BYTES;
  if (coding === 'br') return large ? Math.min(brotliQuality, 9) : brotliQuality;
  if (coding === 'zstd') return large ? 12 : 19;
  return 9;
}

/** Node.js's version too: how it drives the library (zstd's pledged size) is part of the output. */
function libraryVersion(coding: Coding): string {
  const v = process.versions as Record<string, string | undefined>;
  return `${process.version} ${(coding === 'br' ? v.brotli : coding === 'zstd' ? v.zstd : v.zlib) ?? ''}`;
}

const libraryTags = new Map<Coding, string>();

/** A short tag of the Node.js and compression library versions: others may produce other bytes. */
function libraryTag(coding: Coding): string {
  let tag = libraryTags.get(coding);
  if (tag === undefined) {
    tag = crypto.createHash('sha256').update(libraryVersion(coding)).digest('base64url').slice(0, 4);
    libraryTags.set(coding, tag);
  }
  return tag;
}

const SUFFIX: Record<Coding, string> = { br: 'br', zstd: 'zst', gzip: 'gz' };

/**
 * The strong ETag of `identityEtag`'s bytes compressed with `coding` at `level`:
 * `"<identity hash>.br11-<library tag>"`. Distinct per coding and level, equal wherever the
 * same input is compressed the same way by the same library version.
 */
export function generatedEtag(identityEtag: string, coding: Coding, level: number): string {
  return `${identityEtag.slice(0, -1)}.${SUFFIX[coding]}${level}-${libraryTag(coding)}"`;
}

/** Compresses `input` on libuv's threadpool, so the event loop keeps serving meanwhile. */
export function compress(coding: Coding, input: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(out));
    if (coding === 'gzip') {
      zlib.gzip(input, { level }, done);
    } else if (coding === 'br') {
      const params = { [zlib.constants.BROTLI_PARAM_QUALITY]: level, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.length };
      zlib.brotliCompress(input, { params }, done);
    } else if (HAS_ZSTD) {
      // The pledged size lets zstd size its tables to the input: at level 19 without it, a
      // 40 KB file takes 85 MB of working memory, with it 3 MB.
      zstd.zstdCompress!(input, { params: { [zstd.constants.ZSTD_c_compressionLevel!]: level }, pledgedSrcSize: input.length }, done);
    } else {
      reject(new Error('zstd is not available in this Node.js'));
    }
  });
}

/** Whether a result saves enough to be worth its memory and a Vary: at least 1/20 of the input. */
export function worthKeeping(inputBytes: number, outputBytes: number): boolean {
  return outputBytes <= inputBytes - inputBytes / 20;
}

/**
 * Background jobs, at most `concurrency` at a time and at most `maxWaiting` waiting; a key
 * already waiting or running is not added twice. A job that throws is reported to `onError`
 * and never stops the queue.
 */
export class BackgroundQueue {
  private running = 0;
  private readonly waiting: { key: string; run: () => Promise<void> }[] = [];
  private readonly keys = new Set<string>();

  constructor(
    private readonly concurrency: number,
    private readonly maxWaiting: number,
    private readonly onError: (err: unknown, key: string) => void,
  ) {}

  /** Jobs waiting or running. */
  get size(): number {
    return this.keys.size;
  }

  /** Adds a job; false when its key is already queued or the queue is full. */
  add(key: string, run: () => Promise<void>): boolean {
    if (this.keys.has(key) || this.waiting.length >= this.maxWaiting) return false;
    this.keys.add(key);
    this.waiting.push({ key, run });
    this.next();
    return true;
  }

  private next(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      this.running++;
      const finish = () => {
        this.running--;
        this.keys.delete(job.key);
        this.next();
      };
      let p: Promise<void>;
      try {
        p = job.run();
      } catch (err) {
        p = Promise.reject(err);
      }
      p.catch((err: unknown) => this.onError(err, job.key)).finally(finish);
    }
  }
}
