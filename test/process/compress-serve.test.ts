// Process tests: compression without a build step — each worker compresses a text-like file
// once per version in the background and serves the copy from memory (over raw TCP).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { makeSite, startServer, type ParsedResponse } from '../fixtures/server';
import { comparableHead, exchange, one, parseMultipart } from '../fixtures/semantics';
import { poll, sleep } from '../fixtures/wire';

type Coding = 'br' | 'gzip' | 'zstd';
const zstd = zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer; zstdCompressSync?: unknown };
const HAS_ZSTD = typeof zstd.zstdCompressSync === 'function';
const CODINGS: Coding[] = HAS_ZSTD ? ['gzip', 'br', 'zstd'] : ['gzip', 'br'];

function decompress(coding: Coding, b: Buffer): Buffer {
  if (coding === 'br') return zlib.brotliDecompressSync(b);
  if (coding === 'gzip') return zlib.gunzipSync(b);
  return zstd.zstdDecompressSync!(b);
}

/** Text that compresses like real text (not a repeated line): words from a seeded generator. */
function prose(bytes: number, seed: number): Buffer {
  const words = ['static', 'server', 'worker', 'request', 'cache', 'brotli', 'gzip', 'header', 'range', 'etag', 'node', 'socket', 'drain', 'file'];
  let x = seed >>> 0;
  const out: string[] = [];
  let n = 0;
  while (n < bytes) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const w = words[x % words.length]! + (x % 7 === 0 ? `${x % 1000}` : '') + (x % 11 === 0 ? '.\n' : ' ');
    out.push(w);
    n += w.length;
  }
  return Buffer.from(out.join('').slice(0, bytes));
}

const APP = Buffer.from(prose(40 * 1024, 1).toString().replace(/\n/g, ';\n'));
const BIG = prose(1536 * 1024, 2);
const INDEX = Buffer.from(`<!doctype html><title>x</title>\n${prose(6000, 3)}`);
const PRE = prose(20 * 1024, 4);
const PRE_GZ = zlib.gzipSync(PRE, { level: 1 }); // the site's own bytes, not what the server would make

/** GETs `p` with `Accept-Encoding: ae` until the answer has `coding` (null after ~20 s). */
function untilCoded(port: number, p: string, coding: Coding, ae: string = coding): Promise<ParsedResponse | null> {
  return poll(async () => {
    const r = await one(port, p, { 'Accept-Encoding': ae });
    return r.headers['content-encoding'] === coding ? r : null;
  }, 200, 100);
}

function site(t: Parameters<typeof makeSite>[0]): string {
  return makeSite(t, {
    'app.js': APP,
    'big.txt': BIG,
    'index.html': INDEX,
    'tiny.css': 'body { color: red }\n'.repeat(40), // 800 bytes: below compressMinBytes
    'photo.png': crypto.randomBytes(20000),
    'font.woff2': crypto.randomBytes(20000),
    'noise.txt': crypto.randomBytes(20000), // a text type that does not compress
    'pre.js': PRE,
    'pre.js.gz': PRE_GZ,
    'later.css': prose(5000, 5),
  });
}

t.test('compress once, then serve from memory', async (t) => {
  const root = site(t);
  const s = await startServer(t, { root });

  t.test('the first request is answered with the file itself, later ones with the copy', async (t) => {
    const [first] = await exchange(s.port, [{ path: '/big.txt', headers: { 'Accept-Encoding': 'gzip, br' } }]);
    t.equal(first!.status, 200);
    t.equal(first!.headers['content-encoding'], undefined, 'no waiting for a compressor: identity');
    t.equal(first!.headers.vary, 'Accept-Encoding', 'but it says it varies');
    t.equal(first!.body.compare(BIG), 0);
    const br = await untilCoded(s.port, '/big.txt', 'br', 'gzip, br');
    t.ok(br, 'a later request gets brotli');
    t.equal(decompress('br', br!.body).compare(BIG), 0, '1.5 MiB byte-exact after decompression');
    t.ok(br!.body.length < BIG.length / 2);
    t.equal(br!.headers['content-length'], String(br!.body.length));
  });

  t.test('every representation byte-exact, with an ETag of its own', async (t) => {
    const identity = await one(s.port, '/app.js');
    t.equal(identity.headers.vary, 'Accept-Encoding', 'Vary also without Accept-Encoding');
    t.equal(identity.body.compare(APP), 0);
    const etags = new Set([identity.headers.etag]);
    for (const coding of CODINGS) {
      const r = await untilCoded(s.port, '/app.js', coding);
      t.ok(r, `${coding} arrives`);
      t.equal(decompress(coding, r!.body).compare(APP), 0, `${coding}: byte-exact after decompression`);
      t.equal(r!.headers['content-type'], 'text/javascript; charset=utf-8');
      t.equal(r!.headers['content-length'], String(r!.body.length));
      t.equal(r!.headers['last-modified'], identity.headers['last-modified']);
      t.equal(r!.headers.vary, 'Accept-Encoding');
      t.match(r!.headers.etag, /^"[A-Za-z0-9_-]{32}\.(gz|br|zst)\d+-[A-Za-z0-9_-]{4}"$/, 'strong');
      t.equal(r!.headers.etag!.slice(0, 33), identity.headers.etag!.slice(0, 33), 'derived from the identity ETag');
      etags.add(r!.headers.etag);
      const [get, head] = await exchange(s.port, [
        { path: '/app.js', headers: { 'Accept-Encoding': coding } },
        { path: '/app.js', method: 'HEAD', headers: { 'Accept-Encoding': coding } },
      ]);
      t.equal(get!.body.compare(r!.body), 0, 'the same bytes every time');
      t.same(comparableHead(head!), comparableHead(get!), `HEAD, ${coding}`);
      t.equal(head!.body.length, 0);
    }
    t.equal(etags.size, CODINGS.length + 1, 'one ETag per representation');
    const pick = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip;q=0.5, br;q=0.4' });
    t.equal(pick.headers['content-encoding'], 'gzip', 'q-values choose among the copies');
    const none = await one(s.port, '/app.js', { 'Accept-Encoding': 'identity' });
    t.equal(none.headers['content-encoding'], undefined);
    t.equal(none.body.compare(APP), 0);
  });

  t.test('conditional requests match the ETag of the representation chosen', async (t) => {
    const br = (await untilCoded(s.port, '/app.js', 'br'))!;
    const gz = (await untilCoded(s.port, '/app.js', 'gzip'))!;
    const id = await one(s.port, '/app.js');
    const nm = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', 'If-None-Match': br.headers.etag! });
    t.equal(nm.status, 304);
    t.equal(nm.headers.etag, br.headers.etag, '304 names the brotli ETag');
    t.equal(nm.headers.vary, 'Accept-Encoding');
    t.equal(nm.headers['content-encoding'], undefined);
    const other = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip', 'If-None-Match': br.headers.etag! });
    t.equal(other.status, 200, 'the brotli tag does not validate the gzip copy');
    t.equal(other.body.compare(gz.body), 0);
    t.equal((await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip', 'If-None-Match': `W/${gz.headers.etag}` })).status, 304, 'weak comparison for If-None-Match');
    t.equal((await one(s.port, '/app.js', { 'If-None-Match': id.headers.etag! })).status, 304, 'identity');
    t.equal((await one(s.port, '/app.js', { 'Accept-Encoding': 'br', 'If-None-Match': id.headers.etag! })).status, 200, 'identity tag, brotli chosen');
    t.equal((await one(s.port, '/app.js', { 'Accept-Encoding': 'br', 'If-Match': br.headers.etag! })).status, 200);
    t.equal((await one(s.port, '/app.js', { 'If-Match': br.headers.etag! })).status, 412, 'If-Match: the brotli tag is not the identity one');
    const ims = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', 'If-Modified-Since': br.headers['last-modified']! });
    t.equal(ims.status, 304);
    t.equal(ims.headers.etag, br.headers.etag);
  });

  t.test('ranges count bytes of the compressed representation', async (t) => {
    const br = (await untilCoded(s.port, '/app.js', 'br'))!;
    const size = br.body.length;
    const r = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=0-99' });
    t.equal(r.status, 206);
    t.equal(r.headers['content-encoding'], 'br');
    t.equal(r.headers['content-range'], `bytes 0-99/${size}`);
    t.equal(r.headers.etag, br.headers.etag);
    t.equal(r.headers.vary, 'Accept-Encoding');
    t.equal(r.body.compare(br.body.subarray(0, 100)), 0, 'a byte-exact slice of the brotli bytes');
    const suffix = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=-50' });
    t.equal(suffix.body.compare(br.body.subarray(size - 50)), 0);
    const mp = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=0-1,-2' });
    t.equal(mp.status, 206);
    t.equal(mp.headers['content-encoding'], 'br');
    const parts = parseMultipart(mp.headers['content-type']!, mp.body);
    t.same(parts.map((p) => p.headers['content-range']), [`bytes 0-1/${size}`, `bytes ${size - 2}-${size - 1}/${size}`]);
    t.equal(Buffer.concat(parts.map((p) => p.body)).compare(Buffer.concat([br.body.subarray(0, 2), br.body.subarray(size - 2)])), 0);
    const u = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', Range: `bytes=${size}-` });
    t.equal(u.status, 416);
    t.equal(u.headers['content-range'], `bytes */${size}`);
    const fresh = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=10-19', 'If-Range': br.headers.etag! });
    t.equal(fresh.status, 206, 'If-Range with the brotli ETag');
    t.equal(fresh.body.compare(br.body.subarray(10, 20)), 0);
    const id = await one(s.port, '/app.js');
    const stale = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=10-19', 'If-Range': id.headers.etag! });
    t.equal(stale.status, 200, 'If-Range with the identity ETag: the whole brotli body');
    t.equal(stale.body.compare(br.body), 0);
  });

  t.test('"/" and "/index.html" share one copy', async (t) => {
    const a = (await untilCoded(s.port, '/', 'br'))!;
    const b = (await untilCoded(s.port, '/index.html', 'br'))!;
    t.equal(a.headers.etag, b.headers.etag);
    t.equal(decompress('br', a.body).compare(INDEX), 0);
  });

  t.test('small files, incompressible types and a ready-made sibling are never compressed here', async (t) => {
    const ae = { 'Accept-Encoding': 'gzip, br, zstd' };
    for (const p of ['/tiny.css', '/photo.png', '/font.woff2', '/noise.txt', '/pre.js']) await one(s.port, p, ae);
    // Jobs run one at a time in order: once a file asked for after these is compressed, any
    // job they started has finished.
    t.ok(await untilCoded(s.port, '/later.css', 'br', 'gzip, br'), 'a file asked for later was compressed meanwhile');
    for (const p of ['/tiny.css', '/photo.png', '/font.woff2']) {
      const r = await one(s.port, p, ae);
      t.equal(r.headers['content-encoding'], undefined, p);
      t.equal(r.headers.vary, undefined, `${p}: nothing varies`);
    }
    const noise = await one(s.port, '/noise.txt', ae);
    t.equal(noise.headers['content-encoding'], undefined, 'random bytes: a copy saves nothing, none is kept');
    const pre = await one(s.port, '/pre.js', { 'Accept-Encoding': 'gzip, br' });
    t.equal(pre.headers['content-encoding'], 'gzip', 'the sibling wins over a brotli copy');
    t.equal(pre.body.compare(PRE_GZ), 0, 'the bytes of pre.js.gz');
    const brOnly = await one(s.port, '/pre.js', { 'Accept-Encoding': 'br' });
    t.equal(brOnly.headers['content-encoding'], undefined, 'a file with siblings is served as the site ships it');
    t.equal(brOnly.body.compare(PRE), 0);
  });

  t.test('another server process makes the same bytes under the same ETag', async (t) => {
    const s2 = await startServer(t, { root, workers: 2 });
    for (const coding of CODINGS) {
      const a = (await untilCoded(s.port, '/app.js', coding))!;
      const b = (await untilCoded(s2.port, '/app.js', coding))!;
      t.equal(b.headers.etag, a.headers.etag, `${coding}: same validator`);
      t.equal(b.body.compare(a.body), 0, `${coding}: same bytes`);
    }
  });

  t.test('a new worker validates a copy it has not made yet', async (t) => {
    const br = (await untilCoded(s.port, '/index.html', 'br'))!;
    const gz = (await untilCoded(s.port, '/index.html', 'gzip'))!;
    const fresh = await startServer(t, { root });
    const [nm, other, ident] = await exchange(fresh.port, [
      { path: '/index.html', headers: { 'Accept-Encoding': 'gzip, br', 'If-None-Match': br.headers.etag! } },
      { path: '/index.html', headers: { 'Accept-Encoding': 'br', 'If-None-Match': gz.headers.etag! } },
      { path: '/index.html', headers: { 'If-None-Match': br.headers.etag! } },
    ]);
    t.equal(nm!.status, 304, 'the first request already: 304');
    t.equal(nm!.headers.etag, br.headers.etag, 'naming the brotli copy');
    t.equal(nm!.headers.vary, 'Accept-Encoding');
    t.equal(nm!.headers['last-modified'], br.headers['last-modified']);
    t.equal(other!.status, 200, 'the gzip tag is not what a brotli client gets');
    t.equal(other!.headers['content-encoding'] ?? 'br', 'br', 'the new worker answers with identity or its brotli copy');
    t.equal(ident!.status, 200, 'without Accept-Encoding the brotli tag validates nothing');
    t.equal(ident!.body.compare(INDEX), 0);
  });
});

t.test('a changed file is compressed again; its old copy is never served', async (t) => {
  const root = makeSite(t, { 'live.css': prose(30000, 6) });
  const s = await startServer(t, { root, args: ['--cache-valid-ms', '100'] });
  const v1 = prose(30000, 6);
  const v2 = prose(31000, 7);
  const old = (await untilCoded(s.port, '/live.css', 'br'))!;
  t.equal(decompress('br', old.body).compare(v1), 0);
  const tmp = path.join(root, '.live.tmp');
  fs.writeFileSync(tmp, v2);
  fs.renameSync(tmp, path.join(root, 'live.css'));
  let seenNew = false;
  let newBr: ParsedResponse | null = null;
  for (let i = 0; i < 200 && newBr === null; i++) {
    const r = await one(s.port, '/live.css', { 'Accept-Encoding': 'br' });
    const body = r.headers['content-encoding'] === 'br' ? decompress('br', r.body) : r.body;
    if (body.equals(v2)) seenNew = true;
    else t.notOk(seenNew, 'never the old version once the new one was served');
    if (seenNew && r.headers['content-encoding'] === 'br') newBr = r;
    await sleep(50);
  }
  t.ok(newBr, 'the new version is compressed too');
  t.not(newBr!.headers.etag, old.headers.etag, 'under a new ETag');
});

t.test('compress off, bounds and a disabled cache', async (t) => {
  const root = makeSite(t, { 'app.js': APP });
  for (const args of [['--compress', 'false'], ['--compress-min-bytes', String(APP.length + 1)], ['--compress-max-bytes', String(APP.length - 1)]]) {
    const s = await startServer(t, { root, args });
    for (let i = 0; i < 5; i++) {
      const r = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip, br, zstd' });
      t.equal(r.headers['content-encoding'], undefined, `${args.join(' ')}: identity`);
      t.equal(r.headers.vary, undefined, `${args.join(' ')}: nothing varies`);
      t.equal(r.body.compare(APP), 0);
      await sleep(100);
    }
  }
  const exact = await startServer(t, { root, args: ['--compress-min-bytes', String(APP.length), '--compress-max-bytes', String(APP.length)] });
  t.ok(await untilCoded(exact.port, '/app.js', 'br'), 'both bounds are inclusive');
  // A file too large to keep in memory is streamed as it is, and its copies are read from disk.
  const streamed = await startServer(t, { root, args: ['--cache-max-file-bytes', '1000'] });
  const br = await untilCoded(streamed.port, '/app.js', 'br');
  t.ok(br, 'a streamed file gets copies too');
  t.equal(decompress('br', br!.body).compare(APP), 0);
  const slice = await one(streamed.port, '/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=5-14' });
  t.equal(slice.body.compare(br!.body.subarray(5, 15)), 0);
  const plain = await one(streamed.port, '/app.js', { Range: 'bytes=5-14' });
  t.equal(plain.body.compare(APP.subarray(5, 15)), 0, 'identity ranges still come from the file');
  const nocache = await startServer(t, { root, args: ['--cache-max-entries', '0'] });
  for (let i = 0; i < 5; i++) {
    const r = await one(nocache.port, '/app.js', { 'Accept-Encoding': 'br' });
    t.equal(r.status, 200);
    t.equal(r.headers['content-encoding'], undefined, 'no cache, nowhere to keep a copy: identity');
    t.equal(r.body.compare(APP), 0);
    await sleep(100);
  }
});
