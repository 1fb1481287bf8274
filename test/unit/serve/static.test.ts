// The handler in-process (src/serve/static.ts over files/lookup.ts): Request in, Reply out — a temp site, no sockets.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import t from 'tap';
import { readListing } from '../../../src/files/listing';
import { OpenFile, discardBody, type FileBody } from '../../../src/files/stream';
import { parseRequestHead } from '../../../src/http/parse';
import type { Reply, Request } from '../../../src/http/types';
import { StaticHandler, type StaticConfig } from '../../../src/serve/static';

const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-static-')));
t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
const root = path.join(base, 'site');
fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
fs.writeFileSync(path.join(root, 'index.html'), '<h1>home</h1>');
fs.writeFileSync(path.join(root, '404.html'), '<h1>custom 404</h1>');
fs.writeFileSync(path.join(root, 'docs', 'a.txt'), 'aaa');
fs.writeFileSync(path.join(root, 'large.bin'), Buffer.alloc(5000, 7));
fs.writeFileSync(path.join(base, 'secret.txt'), 'outside the root');
fs.symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'out-link.txt'));
fs.symlinkSync(path.join(root, 'docs', 'a.txt'), path.join(root, 'in-link.txt'));

const CONFIG: StaticConfig = {
  root, dotfiles: 'ignore', symlinks: 'inside-root', listing: true, spa: false, cors: false, corsOrigins: [], precompressed: false, maxRanges: 16,
  compress: false, compressMinBytes: 1024, compressMaxBytes: 1 << 22, compressBrotliQuality: 5, cleanUrls: false,
  cacheControl: 'no-cache', immutableCacheControl: '', immutablePaths: [], headers: [], redirects: [], basicAuth: [], basicAuthLogPeriodMs: 10_000,
  cacheMaxEntries: 100, cacheMaxBytes: 1 << 20, cacheMaxFileBytes: 1024, cacheValidMs: 3_600_000,
};
const handler = (over: Partial<StaticConfig> = {}) => new StaticHandler({ ...CONFIG, ...over }, pino({ level: 'silent' }));

function request(method: string, target: string, fields: Record<string, string> = {}): Request {
  const head = `${method} ${target} HTTP/1.1\r\nHost: x\r\n${Object.entries(fields).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const r = parseRequestHead(Buffer.from(head, 'latin1'));
  if (r.kind !== 'request') throw new Error(`bad test request: ${head}`);
  return r.request;
}

const body = (r: Reply) => (Buffer.isBuffer(r.body) ? r.body.toString() : null);

t.test('a cached plain GET is answered synchronously from the precomputed response', async (t) => {
  const h = handler();
  const req = request('GET', '/index.html');
  const first = await h.handle(req);
  t.equal(first.status, 200);
  t.equal(h.cacheMisses, 1);
  const hit = h.handle(req);
  t.notOk(hit instanceof Promise, 'synchronous');
  const r = hit as Reply;
  t.equal(h.cacheHits, 1);
  t.ok(r.wire, 'with the whole response');
  t.match(r.wire!.toString(), /^HTTP\/1\.1 200 OK\r\nDate: [^\r]+\r\nContent-Type: text\/html; charset=utf-8\r\n[^]*\r\n\r\n<h1>home<\/h1>$/);
  const head = (await h.handle(request('HEAD', '/index.html'))) as Reply;
  t.equal(head.body, null, 'HEAD: no body');
  t.equal(head.wire, undefined);
  t.equal(head.headers, r.headers, 'HEAD: the same header lines');
  t.same(h.cacheSize, { entries: 1, bytes: 13 });
});

t.test('the Date header is rebuilt only when the second changes', async (t) => {
  // The clock the Date line reads is Date.now; a fixed one makes the second explicit.
  const realNow = Date.now;
  t.teardown(() => { Date.now = realNow; });
  let now = Date.UTC(2030, 0, 2, 3, 4, 5, 100);
  Date.now = () => now;
  const h = handler();
  const req = request('GET', '/index.html');
  await h.handle(req);
  const first = (h.handle(req) as Reply).wire!;
  t.match(first.toString(), /\r\nDate: Wed, 02 Jan 2030 03:04:05 GMT\r\n/);
  now += 800; // 03:04:05.900: the same second
  const same = (h.handle(req) as Reply).wire!;
  t.equal(same, first, 'within the second: the very same buffer, not rebuilt');
  now += 200; // 03:04:06.100: the next second
  const next = (h.handle(req) as Reply).wire!;
  t.not(next, first, 'a new second: rebuilt');
  t.match(next.toString(), /\r\nDate: Wed, 02 Jan 2030 03:04:06 GMT\r\n/);
  t.equal(next.toString().replace(/Date: [^\r]+/, ''), first.toString().replace(/Date: [^\r]+/, ''), 'only the Date line differs');
  t.equal((h.handle(req) as Reply).wire, next, 'and kept again within that second');
});

t.test('methods: OPTIONS, 405, asterisk-form', async (t) => {
  const h = handler();
  t.match(h.handle(request('OPTIONS', '*')), { status: 204, headers: 'Allow: GET, HEAD, OPTIONS\r\nX-Content-Type-Options: nosniff\r\n' });
  t.match(h.handle(request('DELETE', '/index.html')), { status: 405, close: false });
  // The parser refuses "GET *" itself; the handler refuses it as well, should one get through.
  t.match(h.handle({ ...request('OPTIONS', '*'), method: 'GET' }), { status: 400, close: true });
});

t.test('path policy: 404 with the site page, redirects, symlinks', async (t) => {
  const h = handler();
  const missing = await h.handle(request('GET', '/nope.html'));
  t.equal(missing.status, 404);
  t.equal(body(missing), '<h1>custom 404</h1>');
  t.match(await h.handle(request('GET', '/docs?x=1')), { status: 301, headers: /^Location: \/docs\/\?x=1\r\n/ });
  t.match(await h.handle(request('GET', '/in-link.txt')), { status: 200 }, 'a link inside the root');
  t.match(await h.handle(request('GET', '/out-link.txt')), { status: 404 }, 'a link out of the root is refused as not found');
  t.match(await h.handle(request('GET', '/docs/a.txt/')), { status: 404 }, 'a file has no children');
  t.match(await handler({ symlinks: 'deny' }).handle(request('GET', '/in-link.txt')), { status: 404 }, 'deny: any link');
  t.match(await handler({ symlinks: 'follow' }).handle(request('GET', '/out-link.txt')), { status: 200 }, 'follow: any link');
  t.match(await h.handle(request('GET', '/%2e%2e/secret.txt')), { status: 400 });
  const listing = await h.handle(request('GET', '/docs/'));
  t.equal(listing.status, 200);
  t.match(body(listing), 'a.txt');
  t.match(await h.handle(request('GET', '/docs/?sort=bad')), { status: 400, close: undefined });
});

t.test('a large file: its body is an open file; conditionals and ranges decided first', async (t) => {
  const h = handler();
  const r = await h.handle(request('GET', '/large.bin'));
  t.equal(r.status, 200);
  const b = r.body as FileBody;
  t.equal(b.kind, 'file');
  t.ok(b.file instanceof OpenFile);
  t.same([b.start, b.end], [0, 5000]);
  discardBody(b);
  const etag = /ETag: ([^\r]+)/.exec(r.headers)![1]!;
  t.match(await h.handle(request('GET', '/large.bin', { 'If-None-Match': etag })), { status: 304, body: null });
  const part = await h.handle(request('GET', '/large.bin', { Range: 'bytes=10-19' }));
  t.match(part, { status: 206, headers: /Content-Range: bytes 10-19\/5000\r\nContent-Length: 10\r\n/ });
  t.same([(part.body as FileBody).start, (part.body as FileBody).end], [10, 20]);
  discardBody(part.body);
  t.match(await h.handle(request('HEAD', '/large.bin', { Range: 'bytes=10-19' })), { status: 206, body: null }, 'HEAD opens nothing');
});

t.test('a file changed since it was cached: looked up again, answered with the new version', async (t) => {
  const h = handler();
  const file = path.join(root, 'changing.bin');
  fs.writeFileSync(file, Buffer.alloc(3000, 1));
  t.teardown(() => fs.rmSync(file, { force: true }));
  const first = await h.handle(request('GET', '/changing.bin'));
  discardBody(first.body);
  fs.writeFileSync(file, Buffer.alloc(4000, 2)); // the cache still trusts the old entry for an hour
  const pending = h.handle(request('GET', '/changing.bin'));
  t.ok(pending instanceof Promise, 'the open found another version: asynchronous');
  const r = await pending;
  t.equal(r.status, 200);
  t.match(r.headers, 'Content-Length: 4000\r\n', 'the new length');
  t.same([(r.body as FileBody).start, (r.body as FileBody).end], [0, 4000]);
  discardBody(r.body);
  fs.rmSync(file);
  const cached = h.handle(request('GET', '/changing.bin'));
  const gone = await cached;
  t.equal(gone.status, 404, 'a file that vanished since it was cached: the new lookup says 404');
});

t.test('readListing uses the symlink policy of the lookup', async (t) => {
  const names = async (symlinks: StaticConfig['symlinks']) =>
    (await readListing(root, { showDotfiles: false, symlinks, root })).map((i) => i.name);
  t.same(await names('inside-root'), ['docs', '404.html', 'in-link.txt', 'index.html', 'large.bin'], 'directories first, then by name');
  t.notOk((await names('inside-root')).includes('out-link.txt'), 'a link out of the root is not listed');
  t.notOk((await names('deny')).includes('in-link.txt'), 'deny: no link listed');
  t.ok((await names('follow')).includes('out-link.txt'), 'follow: every link');
});
