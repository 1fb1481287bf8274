// Process tests: the per-worker file cache notices changes on disk within --cache-valid-ms
// (here 200 ms), for files kept in memory and files streamed from disk, over raw TCP.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { makeSite, startServer } from '../fixtures/server';
import { httpDate, one, pattern, poll } from '../fixtures/semantics';

const VALID_MS = 200;
/** The documented delay plus room for a loaded test machine. */
const BOUND_MS = VALID_MS + 1000;
const T0 = Date.UTC(2023, 3, 1, 12, 0, 0);

t.test('cache invalidation with --cache-valid-ms 200', async (t) => {
  const root = makeSite(t, {
    'small.txt': 'AAAAAAAAAAAAAAAA\n',
    'same.txt': 'unchanged content\n',
    'big.bin': pattern(4096, 1),
    'gone.txt': 'here for now\n',
    'doomed/index.html': 'dir\n',
  });
  for (const f of ['small.txt', 'same.txt', 'big.bin', 'gone.txt']) fs.utimesSync(path.join(root, f), T0 / 1000, T0 / 1000);
  const s = await startServer(t, { root, args: ['--cache-valid-ms', String(VALID_MS), '--cache-max-file-bytes', '1024'] });
  const touch = (f: string, ms: number) => fs.utimesSync(path.join(root, f), ms / 1000, ms / 1000);

  t.test('same size, different content, new mtime: new bytes and a new ETag within the delay', async (t) => {
    const before = await one(s.port, '/small.txt');
    t.equal(before.body.toString(), 'AAAAAAAAAAAAAAAA\n');
    t.equal((await one(s.port, '/small.txt')).headers.etag, before.headers.etag, 'stable while unchanged');
    fs.writeFileSync(path.join(root, 'small.txt'), 'BBBBBBBBBBBBBBBB\n');
    touch('small.txt', T0 + 5000);
    const seen = await poll(async () => {
      const r = await one(s.port, '/small.txt');
      return r.body.toString() === 'BBBBBBBBBBBBBBBB\n' ? r : null;
    }, BOUND_MS);
    t.ok(seen, `the new content is served within ${BOUND_MS} ms`);
    if (!seen) return;
    t.comment(`small file: new content after ${seen.ms} ms`);
    t.ok(seen.ms <= BOUND_MS);
    t.not(seen.value.headers.etag, before.headers.etag, 'the ETag changed');
    t.equal(seen.value.headers['last-modified'], httpDate(T0 + 5000));
    t.equal(seen.value.headers['content-length'], '17');
    const old = await one(s.port, '/small.txt', { 'If-None-Match': before.headers.etag! });
    t.equal(old.status, 200, 'the old ETag no longer matches');
    const cur = await one(s.port, '/small.txt', { 'If-None-Match': seen.value.headers.etag! });
    t.equal(cur.status, 304);
  });

  t.test('a streamed (large) file: new bytes, new ETag; ranges of the new bytes', async (t) => {
    const before = await one(s.port, '/big.bin');
    t.equal(before.body.compare(pattern(4096, 1)), 0);
    const next = pattern(4096, 2);
    fs.writeFileSync(path.join(root, 'big.bin'), next);
    touch('big.bin', T0 + 7000);
    const seen = await poll(async () => {
      const r = await one(s.port, '/big.bin');
      return r.body.compare(next) === 0 ? r : null;
    }, BOUND_MS);
    t.ok(seen, `the new content is served within ${BOUND_MS} ms`);
    if (!seen) return;
    t.comment(`large file: new content after ${seen.ms} ms`);
    t.not(seen.value.headers.etag, before.headers.etag, 'the ETag changed');
    const r = await one(s.port, '/big.bin', { Range: 'bytes=100-199' });
    t.equal(r.body.compare(next.subarray(100, 200)), 0);
  });

  t.test('only the mtime changes: same content-derived ETag, new Last-Modified', async (t) => {
    const before = await one(s.port, '/same.txt');
    touch('same.txt', T0 + 60_000);
    const seen = await poll(async () => {
      const r = await one(s.port, '/same.txt');
      return r.headers['last-modified'] === httpDate(T0 + 60_000) ? r : null;
    }, BOUND_MS);
    t.ok(seen, 'the new Last-Modified is sent within the delay');
    t.equal(seen?.value.headers.etag, before.headers.etag, 'same bytes, same ETag');
  });

  t.test('a deleted file becomes 404; a new file appears; a new directory redirects', async (t) => {
    t.equal((await one(s.port, '/gone.txt')).status, 200);
    t.equal((await one(s.port, '/fresh.txt')).status, 404, 'a 404 is cached too');
    t.equal((await one(s.port, '/newdir')).status, 404);
    t.equal((await one(s.port, '/doomed/')).status, 200);
    fs.unlinkSync(path.join(root, 'gone.txt'));
    fs.writeFileSync(path.join(root, 'fresh.txt'), 'fresh\n');
    fs.mkdirSync(path.join(root, 'newdir'));
    fs.rmSync(path.join(root, 'doomed'), { recursive: true });
    const gone = await poll(async () => ((await one(s.port, '/gone.txt')).status === 404 ? true : null), BOUND_MS);
    t.ok(gone, `deleted → 404 within ${BOUND_MS} ms`);
    const fresh = await poll(async () => {
      const r = await one(s.port, '/fresh.txt');
      return r.status === 200 ? r : null;
    }, BOUND_MS);
    t.ok(fresh, `new file → 200 within ${BOUND_MS} ms`);
    t.equal(fresh?.value.body.toString(), 'fresh\n');
    const dir = await poll(async () => {
      const r = await one(s.port, '/newdir');
      return r.status === 301 ? r : null;
    }, BOUND_MS);
    t.equal(dir?.value.headers.location, '/newdir/', 'new directory → 301');
    const doomed = await poll(async () => ((await one(s.port, '/doomed/')).status === 404 ? true : null), BOUND_MS);
    t.ok(doomed, 'removed directory → 404');
  });
});
