// files/compressed-store.ts: compressed copies of a file version made once in the background
// and kept in the file cache — the copies' bytes and ETags, one job per version, the cases
// where no copy is kept (too little saved, no room, evicted, changed or gone, a full queue), and
// the ETag a client may hold before a copy exists. Real files in a test directory; the log
// records each job writes are what a test waits for.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t, { type Test } from 'tap';
import { identityKey, LruCache, type Cached, type Representation } from '../../../src/files/cache';
import { compressionLevel, GENERATED_CODINGS, generatedEtag } from '../../../src/files/compress';
import { CompressedStore } from '../../../src/files/compressed-store';
import { readRepresentation } from '../../../src/files/entry';
import type { Logger } from '../../../src/logs/logger';
import { codingWeights, type Coding } from '../../../src/http/negotiate';
import { recordingLog, type LoggedLine } from '../../fixtures/process-fakes';

const zstd = zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer };

function decompress(coding: Coding | null, b: Buffer): Buffer {
  if (coding === 'br') return zlib.brotliDecompressSync(b);
  if (coding === 'gzip') return zlib.gunzipSync(b);
  if (coding === 'zstd') return zstd.zstdDecompressSync!(b);
  throw new Error(`not a coding: ${coding}`);
}

const QUALITY = 5;
const TEXT = Buffer.from('<p>the same paragraph, again and again</p>\n'.repeat(200));
/** Bytes no coding makes smaller by 1/20. */
const NOISE = crypto.randomBytes(4000);

interface Setup {
  cache: LruCache<Cached & { kind: string }>;
  store: CompressedStore;
  lines: LoggedLine[];
  /** Resolves once `count` lines match (a bounded wait: rejects after `ms`). */
  logged: (match: (l: LoggedLine) => boolean, count?: number, ms?: number) => Promise<LoggedLine[]>;
}

function setup(t: Test, bounds = { maxEntries: 1000, maxBytes: 1 << 24 }, opts: { throwOnFirstCopy?: boolean } = {}): Setup {
  const { log, lines } = recordingLog();
  const cache = new LruCache<Cached & { kind: string }>(bounds);
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  const rec = log as unknown as Record<'debug' | 'warn', (fields: unknown, msg?: string) => void>;
  let thrown = false;
  for (const level of ['debug', 'warn'] as const) {
    const original = rec[level];
    rec[level] = (fields, msg) => {
      original(fields, msg);
      notify();
      if (opts.throwOnFirstCopy && !thrown && msg === 'compressed') {
        thrown = true;
        throw new Error('the logger broke');
      }
    };
  }
  const store = new CompressedStore(cache, { brotliQuality: QUALITY }, log as Logger);
  const logged = (match: (l: LoggedLine) => boolean, count = 1, ms = 5000) =>
    new Promise<LoggedLine[]>((resolve, reject) => {
      const check = () => {
        const found = lines.filter(match);
        if (found.length < count) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${count} log line(s) not within ${ms} ms; got: ${JSON.stringify(lines.map((l) => l.msg))}`));
      }, ms);
      waiters.add(check);
      check();
    });
  t.teardown(() => waiters.clear());
  return { cache, store, lines, logged };
}

/** A file in `dir` as the lookup reads it (its bytes kept when up to `maxBodyBytes`). */
async function source(dir: string, name: string, bytes: Buffer, maxBodyBytes = 1 << 20): Promise<Representation> {
  const f = path.join(dir, name);
  fs.writeFileSync(f, bytes);
  return readRepresentation(f, fs.statSync(f), null, undefined, maxBodyBytes);
}

const of = (file: string, msg: string) => (l: LoggedLine) => l.fields.path === file && l.msg === msg;

t.test('keyOf: one key per file version, which no request path can be', async (t) => {
  const id = { dev: 1, ino: 2, size: 3, mtimeMs: 4.5 };
  t.equal(CompressedStore.keyOf(id), '\n' + identityKey(id));
  t.not(CompressedStore.keyOf({ ...id, mtimeMs: 5 }), CompressedStore.keyOf(id), 'a new mtime: a new version');
  t.not(CompressedStore.keyOf({ ...id, size: 4 }), CompressedStore.keyOf(id));
});

t.test('the copies: made in the background, one per coding, the file’s bytes compressed, under derived ETags', async (t) => {
  const s = setup(t);
  const dir = t.testdir();
  const src = await source(dir, 'page.html', TEXT);
  const key = CompressedStore.keyOf(src);
  t.equal(s.store.ready(key), null, 'none before');
  s.store.startMaking(key, src);
  t.equal(s.store.ready(key), null, 'none yet right after: nobody waits for a compressor');
  const lines = await s.logged(of(src.path, 'compressed'), GENERATED_CODINGS.length);
  const set = s.store.ready(key)!;
  t.ok(set, 'ready');
  t.same(set.codings, GENERATED_CODINGS, 'every coding this Node.js can make, in its order');
  t.same(lines.map((l) => l.fields.coding), GENERATED_CODINGS);
  let bytes = 0;
  set.reps.forEach((rep, i) => {
    const coding = set.codings[i]!;
    const level = compressionLevel(coding, TEXT.length, QUALITY);
    t.same(decompress(coding, rep.body!), TEXT, `${coding}: the file's bytes`);
    t.ok(rep.body!.length < TEXT.length / 4, `${coding}: smaller`);
    t.match(rep, { path: src.path, dev: src.dev, ino: src.ino, mtimeMs: src.mtimeMs, size: rep.body!.length, coding, lastModifiedMs: src.lastModifiedMs });
    t.equal(rep.etag, generatedEtag(src.etag, coding, level), `${coding}: the ETag derived from the file's`);
    t.equal(rep.validatorLines, `ETag: ${rep.etag}\r\nLast-Modified: ${new Date(src.lastModifiedMs).toUTCString()}\r\n`);
    t.match(lines[i]!.fields, { coding, level, bytes: rep.body!.length, from: TEXT.length });
    bytes += rep.body!.length;
  });
  t.equal(set.bytes, bytes, 'the copies count against the cache bound');
  t.equal(s.cache.totalBytes, bytes);
});

t.test('one job per version: asking again while it runs, or after, makes nothing twice', async (t) => {
  const s = setup(t);
  const dir = t.testdir();
  const a = await source(dir, 'a.css', TEXT);
  const b = await source(dir, 'b.css', Buffer.concat([TEXT, Buffer.from('b')]));
  const key = CompressedStore.keyOf(a);
  s.store.startMaking(key, a);
  s.store.startMaking(key, a);
  await s.logged(of(a.path, 'compressed'), GENERATED_CODINGS.length);
  const set = s.store.ready(key);
  s.store.startMaking(key, a);
  t.equal(s.store.ready(key), set, 'the same set');
  // Jobs run one at a time, in order: once b's copies are made, a second job for a would have run.
  s.store.startMaking(CompressedStore.keyOf(b), b);
  await s.logged(of(b.path, 'compressed'), GENERATED_CODINGS.length);
  t.equal(s.lines.filter(of(a.path, 'compressed')).length, GENERATED_CODINGS.length, 'a compressed once');
});

t.test('a source whose bytes were not kept is read from disk; a changed or vanished one gets no copies', async (t) => {
  const s = setup(t);
  const dir = t.testdir();
  const large = await source(dir, 'large.txt', TEXT, 100);
  t.equal(large.body, null, 'the lookup kept no bytes of it');
  const changed = await source(dir, 'changed.txt', TEXT, 100);
  fs.writeFileSync(changed.path, Buffer.concat([TEXT, TEXT]));
  const gone = await source(dir, 'gone.txt', TEXT, 100);
  fs.unlinkSync(gone.path);
  const marker = await source(dir, 'marker.txt', NOISE);
  for (const r of [large, changed, gone, marker]) s.store.startMaking(CompressedStore.keyOf(r), r);
  await s.logged(of(marker.path, 'compressed copy not kept: too little saved'), GENERATED_CODINGS.length);
  const set = s.store.ready(CompressedStore.keyOf(large))!;
  t.same(set.codings, GENERATED_CODINGS);
  t.same(decompress('gzip', set.reps[set.codings.indexOf('gzip')]!.body!), TEXT, 'the bytes on disk');
  t.equal(s.store.ready(CompressedStore.keyOf(changed)), null, 'changed since: the new version has a key of its own');
  t.equal(s.store.ready(CompressedStore.keyOf(gone)), null, 'gone');
  t.same(s.lines.filter((l) => l.level === 'warn'), [], 'neither is an error');
});

t.test('bytes that do not compress: no copy kept, said at debug level, and not tried again', async (t) => {
  const s = setup(t);
  const dir = t.testdir();
  const noise = await source(dir, 'noise.txt', NOISE);
  const key = CompressedStore.keyOf(noise);
  s.store.startMaking(key, noise);
  const lines = await s.logged(of(noise.path, 'compressed copy not kept: too little saved'), GENERATED_CODINGS.length);
  t.same(lines.map((l) => l.fields.coding), GENERATED_CODINGS);
  t.match(lines[0]!.fields, { from: NOISE.length });
  t.equal(s.store.ready(key), null);
  t.equal(s.cache.totalBytes, 0);
  s.store.startMaking(key, noise);
  const marker = await source(dir, 'marker.txt', TEXT);
  s.store.startMaking(CompressedStore.keyOf(marker), marker);
  await s.logged(of(marker.path, 'compressed'), GENERATED_CODINGS.length);
  t.equal(s.lines.filter(of(noise.path, 'compressed copy not kept: too little saved')).length, GENERATED_CODINGS.length, 'not compressed twice');
});

t.test('copies that would not fit in cacheMaxBytes are not kept', async (t) => {
  const s = setup(t, { maxEntries: 100, maxBytes: 10 });
  const dir = t.testdir();
  const src = await source(dir, 'page.html', TEXT);
  const key = CompressedStore.keyOf(src);
  s.store.startMaking(key, src);
  const marker = await source(dir, 'marker.txt', NOISE);
  s.store.startMaking(CompressedStore.keyOf(marker), marker);
  await s.logged(of(marker.path, 'compressed copy not kept: too little saved'), GENERATED_CODINGS.length);
  t.equal(s.store.ready(key), null);
  t.equal(s.cache.totalBytes, 0, 'the bound holds');
  t.same(s.lines.filter(of(src.path, 'compressed')), []);
});

t.test('the cache off (cacheMaxEntries 0): nowhere to keep copies, no job', async (t) => {
  const s = setup(t, { maxEntries: 0, maxBytes: 1 << 20 });
  const dir = t.testdir();
  const src = await source(dir, 'page.html', TEXT);
  s.store.startMaking(CompressedStore.keyOf(src), src);
  t.equal(s.cache.size, 0);
  t.equal(s.store.ready(CompressedStore.keyOf(src)), null);
});

t.test('evicted while waiting or while being compressed: the job stops and keeps nothing', async (t) => {
  const s = setup(t);
  const dir = t.testdir();
  const running = await source(dir, 'running.txt', TEXT);
  const waiting = await source(dir, 'waiting.txt', Buffer.concat([TEXT, Buffer.from('w')]));
  const marker = await source(dir, 'marker.txt', NOISE);
  s.store.startMaking(CompressedStore.keyOf(running), running); // runs at once, compressing on the threadpool
  s.store.startMaking(CompressedStore.keyOf(waiting), waiting);
  s.cache.delete(CompressedStore.keyOf(running));
  s.cache.delete(CompressedStore.keyOf(waiting));
  s.store.startMaking(CompressedStore.keyOf(marker), marker);
  await s.logged(of(marker.path, 'compressed copy not kept: too little saved'), GENERATED_CODINGS.length);
  t.same(s.lines.filter((l) => l.fields.path === running.path || l.fields.path === waiting.path), [], 'neither made a copy');
  t.equal(s.cache.size, 1, 'only the marker’s set is in the cache');
  t.equal(s.cache.totalBytes, 0);
});

t.test('a full queue: the version is forgotten, and a later request starts it', async (t) => {
  const s = setup(t);
  const dir = t.testdir();
  // Sources that end at once (their file is missing), then one real file as the last that waits.
  const missing = path.join(dir, 'missing.txt');
  const fake = (ino: number): Representation => ({ path: missing, dev: 1, ino, size: 10, mtimeMs: 0, coding: null, etag: '"x"', lastModifiedMs: 0, validatorLines: '', body: null });
  const last = await source(dir, 'last.txt', TEXT);
  const refused = await source(dir, 'refused.txt', Buffer.concat([TEXT, Buffer.from('r')]));
  const key = CompressedStore.keyOf(refused);
  // No await from here on until the queue is full: the first job runs, the others wait.
  for (let ino = 1; ino <= 256; ino++) s.store.startMaking(CompressedStore.keyOf(fake(ino)), fake(ino)); // one running, 255 waiting
  s.store.startMaking(CompressedStore.keyOf(last), last); // the 256th waiting: the queue is full
  s.store.startMaking(key, refused);
  t.equal(s.cache.peek(key), undefined, 'refused: nothing left in the cache that would stop a retry');
  t.not(s.cache.peek(CompressedStore.keyOf(last)), undefined, 'the last that fit waits');
  await s.logged(of(last.path, 'compressed'), GENERATED_CODINGS.length);
  s.store.startMaking(key, refused);
  await s.logged(of(refused.path, 'compressed'), GENERATED_CODINGS.length);
  t.same(s.store.ready(key)!.codings, GENERATED_CODINGS, 'asked again once there was room: made');
});

t.test('a job that throws is logged with its version, and the queue goes on', async (t) => {
  const s = setup(t, undefined, { throwOnFirstCopy: true });
  const dir = t.testdir();
  const first = await source(dir, 'first.txt', TEXT);
  const second = await source(dir, 'second.txt', Buffer.concat([TEXT, Buffer.from('2')]));
  s.store.startMaking(CompressedStore.keyOf(first), first);
  s.store.startMaking(CompressedStore.keyOf(second), second);
  const [warn] = await s.logged((l) => l.msg === 'compression failed');
  t.equal(warn!.level, 'warn');
  t.equal(warn!.fields.version, identityKey(first), 'which file version');
  t.match(warn!.fields.err, { message: 'the logger broke' });
  await s.logged(of(second.path, 'compressed'), GENERATED_CODINGS.length);
  t.same(s.store.ready(CompressedStore.keyOf(second))!.codings, GENERATED_CODINGS, 'the next job ran');
});

t.test('expectedValidator: the ETag of the copy a client would get, before it exists, equal to the one made later', async (t) => {
  const s = setup(t);
  const dir = t.testdir();
  const src = await source(dir, 'app.js', TEXT);
  const gzip = s.store.expectedValidator(src, codingWeights('gzip'));
  const level = compressionLevel('gzip', src.size, QUALITY);
  t.same(gzip, { etag: generatedEtag(src.etag, 'gzip', level), validatorLines: `ETag: ${generatedEtag(src.etag, 'gzip', level)}\r\nLast-Modified: ${new Date(src.lastModifiedMs).toUTCString()}\r\n` });
  t.equal(s.store.expectedValidator(src, codingWeights('identity')), null, 'no coding accepted: none expected');
  t.equal(s.store.expectedValidator(src, codingWeights('br;q=0, gzip;q=0, zstd;q=0')), null);
  const br = s.store.expectedValidator(src, codingWeights('gzip;q=0.5, br'))!;
  const key = CompressedStore.keyOf(src);
  s.store.startMaking(key, src);
  await s.logged(of(src.path, 'compressed'), GENERATED_CODINGS.length);
  const set = s.store.ready(key)!;
  for (const [coding, expected] of [['br', br], ['gzip', gzip]] as const) {
    const made = set.reps[set.codings.indexOf(coding)]!;
    t.equal(expected!.etag, made.etag, `${coding}: the validator a client holds is the copy's`);
    t.equal(expected!.validatorLines, made.validatorLines);
  }
  // Above 1 MiB brotli 11 is capped at 9: the expectation says so without compressing anything.
  const q11 = new CompressedStore(s.cache, { brotliQuality: 11 }, recordingLog().log);
  t.equal(q11.expectedValidator(src, codingWeights('br'))!.etag, generatedEtag(src.etag, 'br', 11));
  t.equal(q11.expectedValidator({ ...src, size: 2 << 20 }, codingWeights('br'))!.etag, generatedEtag(src.etag, 'br', 9));
});
