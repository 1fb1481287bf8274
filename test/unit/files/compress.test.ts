// Unit tests for src/files/compress.ts (types, levels, ETags, the compressors, the queue) and
// the LruCache methods compressed copies rely on (peek, grow).
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { ConfigError, loadConfig } from '../../../src/config/config';
import { LruCache, type Cached } from '../../../src/files/cache';
import {
  BackgroundQueue,
  compress,
  compressionLevel,
  GENERATED_CODINGS,
  generatedEtag,
  isCompressibleType,
  LARGE_INPUT_BYTES,
  worthKeeping,
} from '../../../src/files/compress';
import type { Coding } from '../../../src/http/negotiate';

const zstd = zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer };
const HAS_ZSTD = typeof zstd.zstdDecompressSync === 'function';

function decompress(coding: Coding, b: Buffer): Buffer {
  if (coding === 'br') return zlib.brotliDecompressSync(b);
  if (coding === 'gzip') return zlib.gunzipSync(b);
  return zstd.zstdDecompressSync!(b);
}

t.test('isCompressibleType', (t) => {
  for (const type of [
    'text/html; charset=utf-8',
    'text/css',
    'text/plain; charset=utf-8',
    'text/javascript; charset=utf-8',
    'TEXT/CSV',
    'application/javascript; charset=utf-8',
    'application/json; charset=utf-8',
    'application/manifest+json; charset=utf-8',
    'application/ld+json',
    'image/svg+xml; charset=utf-8',
    'application/xml',
    'application/rss+xml',
    'application/wasm',
    'font/ttf',
    'image/x-icon',
    'image/vnd.microsoft.icon',
  ]) {
    t.ok(isCompressibleType(type), type);
  }
  for (const type of [
    'image/png',
    'image/jpeg',
    'image/webp',
    'image/avif',
    'font/woff2',
    'font/woff',
    'application/gzip',
    'application/zip',
    'application/octet-stream',
    'video/mp4',
    'audio/mpeg',
    'application/pdf',
    '',
  ]) {
    t.notOk(isCompressibleType(type), type || '(empty)');
  }
  t.end();
});

t.test('compressionLevel: gzip 9, brotli as configured, slow levels capped above 1 MiB', (t) => {
  t.equal(compressionLevel('gzip', 2000, 11), 9);
  t.equal(compressionLevel('br', 2000, 11), 11);
  t.equal(compressionLevel('br', 2000, 5), 5);
  t.equal(compressionLevel('br', LARGE_INPUT_BYTES, 11), 11, 'exactly 1 MiB is not large');
  t.equal(compressionLevel('br', LARGE_INPUT_BYTES + 1, 11), 9);
  t.equal(compressionLevel('br', LARGE_INPUT_BYTES + 1, 4), 4, 'a lower quality is kept');
  t.equal(compressionLevel('zstd', 2000, 11), 19);
  t.equal(compressionLevel('zstd', LARGE_INPUT_BYTES + 1, 11), 12);
  t.end();
});

t.test('generatedEtag: strong, distinct per coding and level, stable', (t) => {
  const id = '"FOL17jWPMlmUSLmRlcgPTx_sQigqSV1Y"';
  const tags = new Set<string>();
  for (const coding of ['br', 'gzip', 'zstd'] as Coding[]) {
    for (const level of [5, 9, 11]) {
      const tag = generatedEtag(id, coding, level);
      t.match(tag, /^"FOL17jWPMlmUSLmRlcgPTx_sQigqSV1Y\.(br|gz|zst)\d+-[A-Za-z0-9_-]{4}"$/, `${coding} ${level}: ${tag}`);
      t.equal(generatedEtag(id, coding, level), tag, 'the same every time');
      // etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3)
      t.ok([...tag.slice(1, -1)].every((c) => c.charCodeAt(0) === 0x21 || (c.charCodeAt(0) >= 0x23 && c.charCodeAt(0) <= 0x7e)), 'only etagc');
      tags.add(tag);
    }
  }
  t.equal(tags.size, 9, 'nine codings × levels, nine tags');
  t.not(generatedEtag('"a"', 'br', 11), generatedEtag('"b"', 'br', 11), 'another input, another tag');
  t.end();
});

t.test('compress: every coding round-trips and is deterministic', async (t) => {
  const input = Buffer.from('body { color: #123456; margin: 0 auto; }\n'.repeat(500) + 'é✓\n');
  t.same(GENERATED_CODINGS.slice(0, 2), ['br', 'gzip'], 'brotli first, then gzip');
  t.equal(GENERATED_CODINGS.includes('zstd'), HAS_ZSTD, 'zstd exactly when this Node.js has it');
  for (const coding of GENERATED_CODINGS) {
    const level = compressionLevel(coding, input.length, 11);
    const a = await compress(coding, input, level);
    const b = await compress(coding, input, level);
    t.ok(a.length < input.length / 10, `${coding}: ${a.length} bytes from ${input.length}`);
    t.equal(decompress(coding, a).compare(input), 0, `${coding}: byte-exact after decompression`);
    t.equal(a.compare(b), 0, `${coding}: the same bytes twice (so one ETag may name them)`);
  }
  if (!HAS_ZSTD) await t.rejects(compress('zstd', input, 19), /zstd is not available/);
  t.equal((await compress('br', input, 11)).compare(zlib.brotliCompressSync(input, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.length } })), 0, 'brotli: what zlib gives synchronously');
});

t.test('worthKeeping: at least 5% smaller', (t) => {
  t.ok(worthKeeping(1000, 950));
  t.notOk(worthKeeping(1000, 951));
  t.notOk(worthKeeping(1000, 1000));
  t.notOk(worthKeeping(1000, 1200));
  t.ok(worthKeeping(1000, 10));
  t.end();
});

/** A job that finishes when told to. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

t.test('BackgroundQueue: concurrency, dedupe per key, bounded waiting, errors reported', async (t) => {
  const errors: [unknown, string][] = [];
  const q = new BackgroundQueue(1, 2, (err, key) => errors.push([err, key]));
  const started: string[] = [];
  const gates = new Map<string, ReturnType<typeof gate>>();
  const job = (key: string) => () => {
    started.push(key);
    const g = gate();
    gates.set(key, g);
    return g.promise;
  };
  t.ok(q.add('a', job('a')), 'a runs');
  t.same(started, ['a'], 'a started at once');
  t.notOk(q.add('a', job('a')), 'a again while running: refused');
  t.ok(q.add('b', job('b')), 'b waits');
  t.ok(q.add('c', job('c')), 'c waits');
  t.notOk(q.add('d', job('d')), 'd: two already wait, refused');
  t.notOk(q.add('b', job('b')), 'b again while waiting: refused');
  t.equal(q.size, 3);
  t.same(started, ['a'], 'one at a time');
  gates.get('a')!.open();
  await new Promise((r) => setImmediate(r));
  t.same(started, ['a', 'b'], 'b after a');
  t.ok(q.add('a', job('a')), 'a may be queued again once done');
  gates.get('b')!.open();
  await new Promise((r) => setImmediate(r));
  t.same(started, ['a', 'b', 'c']);
  // A job that throws synchronously or rejects is reported and the queue goes on.
  const q2 = new BackgroundQueue(1, 10, (err, key) => errors.push([err, key]));
  const ran: string[] = [];
  q2.add('x', () => {
    throw new Error('sync');
  });
  q2.add('y', () => Promise.reject(new Error('async')));
  q2.add('z', async () => void ran.push('z'));
  await new Promise((r) => setTimeout(r, 10));
  t.same(ran, ['z'], 'the queue went on after two failures');
  t.same(
    errors.map(([e, k]) => [(e as Error).message, k]),
    [
      ['sync', 'x'],
      ['async', 'y'],
    ],
  );
  gates.get('c')!.open();
  await new Promise((r) => setImmediate(r));
  gates.get('a')!.open();
});

interface V extends Cached {
  name: string;
}
const v = (name: string, bytes: number): V => ({ name, bytes, checkedAt: 0 });

t.test('LruCache.peek does not mark an entry used', (t) => {
  const c = new LruCache<V>({ maxEntries: 2, maxBytes: 100 });
  c.set('a', v('a', 1));
  c.set('b', v('b', 1));
  t.equal(c.peek('a')?.name, 'a');
  c.set('c', v('c', 1));
  t.equal(c.peek('a'), undefined, 'a was still the least recently used');
  t.equal(c.peek('b')?.name, 'b');
  t.end();
});

t.test('LruCache.grow: accounts added bytes, evicts others, refuses what cannot fit', (t) => {
  const c = new LruCache<V>({ maxEntries: 10, maxBytes: 100 });
  const a = v('a', 10);
  const b = v('b', 30);
  const s = v('s', 0);
  c.set('a', a);
  c.set('b', b);
  c.set('s', s);
  t.ok(c.grow('s', s, 50));
  t.equal(s.bytes, 50);
  t.equal(c.totalBytes, 90);
  t.ok(c.grow('s', s, 15), 'grows past the bound: the oldest goes');
  t.equal(c.peek('a'), undefined, 'a evicted');
  t.equal(c.totalBytes, 95);
  t.notOk(c.grow('s', s, 40), '105 alone would not fit');
  t.equal(s.bytes, 65, 'unchanged');
  t.equal(c.totalBytes, 95);
  t.notOk(c.grow('s', v('s', 0), 1), 'another object under the key: refused');
  c.delete('s');
  t.notOk(c.grow('s', s, 1), 'gone: refused');
  t.equal(c.totalBytes, 30);
  t.end();
});

t.test('config: compression and clean-URL keys from defaults, env and flags', (t) => {
  const PROJECT = path.resolve(__dirname, '..', '..', '..');
  const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const cmd = loadConfig(argv, env, PROJECT);
    if (cmd.kind !== 'run') throw new Error(cmd.kind);
    return cmd.config;
  };
  const d = run([]);
  t.same(
    [d.compress, d.compressMinBytes, d.compressMaxBytes, d.compressBrotliQuality, d.cleanUrls],
    [true, 1024, 4 * 1024 * 1024, 11, false],
    'defaults',
  );
  const e = run([], {
    FLEETSERVE_COMPRESS: 'off',
    FLEETSERVE_COMPRESS_MIN_BYTES: '10',
    FLEETSERVE_COMPRESS_MAX_BYTES: '20',
    FLEETSERVE_COMPRESS_BROTLI_QUALITY: '4',
    FLEETSERVE_CLEAN_URLS: 'yes',
  });
  t.same([e.compress, e.compressMinBytes, e.compressMaxBytes, e.compressBrotliQuality, e.cleanUrls], [false, 10, 20, 4, true], 'env');
  const f = run(['--compress', 'false', '--compress-brotli-quality', '0', '--clean-urls', 'true'], { FLEETSERVE_COMPRESS: 'true' });
  t.same([f.compress, f.compressBrotliQuality, f.cleanUrls], [false, 0, true], 'flags win over env');
  for (const bad of [['--compress-brotli-quality', '12'], ['--compress-brotli-quality', '-1'], ['--compress-brotli-quality', '9.5'], ['--compress=maybe'], ['--compress-min-bytes', 'x'], ['--clean-urls=2']]) {
    t.throws(() => run(bad), ConfigError, bad.join(' '));
  }
  t.end();
});
