// files/cache.ts: the LRU bounds, file identities, whole reads and content-hash ETags (a temp dir, no sockets).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FileChangedError } from '../../../src/errors';
import { etagOfBytes, etagOfFile, identityOf, LruCache, readWhole, sameIdentity, type Cached } from '../../../src/files/cache';

const v = (bytes: number): Cached => ({ checkedAt: 0, bytes });

t.test('LruCache: bounded by entries, least recently used first', async (t) => {
  const c = new LruCache<Cached>({ maxEntries: 2, maxBytes: 1000 });
  const a = v(1);
  c.set('a', a);
  c.set('b', v(2));
  t.equal(c.get('a'), a, 'a is used: b is now the oldest');
  c.set('c', v(3));
  t.equal(c.peek('b'), undefined, 'b evicted');
  t.equal(c.size, 2);
  t.equal(c.totalBytes, 4);
  c.delete('a');
  t.equal(c.totalBytes, 3);
  t.equal(c.size, 1);
  c.set('c', v(10));
  t.equal(c.totalBytes, 10, 'replacing a key counts its bytes once');
});

t.test('LruCache: bounded by bytes; too large or a zero entry bound stores nothing', async (t) => {
  const c = new LruCache<Cached>({ maxEntries: 10, maxBytes: 10 });
  c.set('a', v(6));
  c.set('b', v(6));
  t.equal(c.peek('a'), undefined, 'a made room for b');
  t.equal(c.totalBytes, 6);
  c.set('huge', v(11));
  t.equal(c.peek('huge'), undefined);
  t.equal(c.totalBytes, 6);
  const none = new LruCache<Cached>({ maxEntries: 0, maxBytes: 10 });
  none.set('a', v(1));
  t.equal(none.size, 0);
});

t.test('LruCache.grow: only the stored value, evicting others, never past the bound', async (t) => {
  const c = new LruCache<Cached>({ maxEntries: 10, maxBytes: 10 });
  const a = v(2);
  c.set('a', a);
  c.set('b', v(3));
  t.ok(c.grow('a', a, 4));
  t.equal(a.bytes, 6);
  t.equal(c.totalBytes, 9);
  t.ok(c.grow('a', a, 2), 'growing past the bound evicts b');
  t.equal(c.peek('b'), undefined);
  t.equal(c.totalBytes, 8);
  t.notOk(c.grow('a', a, 3), 'would not fit at all');
  t.notOk(c.grow('a', v(0), 1), 'not the stored value');
  t.equal(c.totalBytes, 8);
});

t.test('identities, whole reads and ETags', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-cache-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'a.txt');
  fs.writeFileSync(f, 'hello');
  const id = identityOf(fs.statSync(f));
  t.ok(sameIdentity(id, { ...id }));
  t.notOk(sameIdentity(id, { ...id, size: 6 }));
  t.notOk(sameIdentity(id, { ...id, mtimeMs: id.mtimeMs + 1 }));
  t.same(await readWhole(f, id), Buffer.from('hello'));
  t.equal(await readWhole(f, { ...id, size: 4 }), null, 'a different version than was stat()ed: null');
  const tag = etagOfBytes(id, Buffer.from('hello'));
  t.match(tag, /^"[A-Za-z0-9_-]{32}"$/, 'a strong tag of 32 base64url characters');
  t.equal(await etagOfFile(f, id), tag, 'the same tag from the file as from its bytes');
  const g = path.join(dir, 'b.txt');
  fs.writeFileSync(g, 'hello');
  const gid = identityOf(fs.statSync(g));
  t.equal(await etagOfFile(g, gid), tag, 'same bytes, same tag (any worker, any replica)');
  fs.writeFileSync(g, 'other');
  const stale = { ...gid, mtimeMs: gid.mtimeMs - 1000 };
  await t.rejects(etagOfFile(g, stale), FileChangedError, 'a file that is not the version described: FileChangedError');
  await t.rejects(etagOfFile(g, stale), { code: 'FLEETSERVE_FILE_CHANGED' });
});
