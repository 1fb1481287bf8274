// /favicon.ico on a site without one: a small built-in icon (a real .ico holding a 32x32
// PNG), answered like a file (ETag, 304, HEAD, a day's Cache-Control) instead of a 404 on
// every page view; a site's own favicon.ico always wins.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { drawFavicon, FAVICON_CACHE_CONTROL } from '../../src/files/favicon';
import { hasResponses, makeSite, parseResponses, rawExchange, req, startServer } from '../fixtures/server';
import { poll } from '../fixtures/wire';
import { manualText } from '../fixtures/manual';

t.test('the icon is a valid .ico with one 32x32 PNG inside', async (t) => {
  const ico = drawFavicon();
  t.same(drawFavicon(), ico, 'the same bytes every time');
  t.ok(ico.length < 512, `tiny (${ico.length} B)`);
  t.match(manualText(), `built-in icon (a ${ico.length}-byte \`.ico\``, 'the manual gives its size');
  // ICONDIR: reserved 0, type 1 (icon), 1 image; ICONDIRENTRY: 32x32, no palette, 1 plane, 32 bpp, size, offset 22.
  t.same([...ico.subarray(0, 14)], [0, 0, 1, 0, 1, 0, 32, 32, 0, 0, 1, 0, 32, 0]);
  t.equal(ico.readUInt32LE(14), ico.length - 22, 'the image size');
  t.equal(ico.readUInt32LE(18), 22, 'the image right after the directory');
  const png = ico.subarray(22);
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
  const chunks: { type: string; data: Buffer }[] = [];
  for (let off = 8; off < png.length; ) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    const crc = png.readUInt32BE(off + 8 + len);
    if (typeof (zlib as { crc32?: unknown }).crc32 === 'function') t.equal(crc, zlib.crc32(png.subarray(off + 4, off + 8 + len)), `${type}: its CRC`);
    chunks.push({ type, data });
    off += 12 + len;
  }
  t.same(chunks.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
  const ihdr = chunks[0]!.data;
  t.same([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ...ihdr.subarray(8)], [32, 32, 8, 6, 0, 0, 0], '32x32, 8-bit RGBA, not interlaced');
  const rows = zlib.inflateSync(chunks[1]!.data);
  t.equal(rows.length, 32 * (1 + 32 * 4), 'every row there');
  const at = (x: number, y: number) => [...rows.subarray(y * 129 + 1 + x * 4, y * 129 + 5 + x * 4)];
  t.ok(Array.from({ length: 32 }, (_, y) => rows[y * 129]).every((f) => f === 0), 'each row unfiltered');
  t.same(at(0, 0), [0, 0, 0, 0], 'a rounded corner is clear');
  t.same(at(3, 16), [15, 118, 110, 255], 'the edge is teal');
  t.same(at(16, 8), [255, 255, 255, 255], 'a unit is white');
});

t.test('a site without favicon.ico: the built-in icon, answered like a file', async (t) => {
  const root = makeSite(t, { 'index.html': '<h1>hi</h1>\n' });
  const s = await startServer(t, { root, workers: 2 });
  const ico = drawFavicon();
  const [r] = parseResponses((await rawExchange(s.port, req('/favicon.ico', 'Connection: close\r\n'))).data);
  t.equal(r!.status, 200);
  t.equal(r!.headers['content-type'], 'image/vnd.microsoft.icon', 'the type a site\'s own favicon.ico gets');
  t.equal(r!.headers['cache-control'], FAVICON_CACHE_CONTROL);
  t.equal(FAVICON_CACHE_CONTROL, 'public, max-age=86400');
  t.equal(r!.headers['last-modified'], 'Wed, 02 Dec 2026 00:00:00 GMT');
  t.match(r!.headers.etag, /^"[\w-]{32}"$/);
  t.equal(r!.headers['content-length'], String(ico.length));
  t.same(r!.body, ico, 'the icon\'s bytes');
  // Every worker has the same ETag: a revalidation is a 304 wherever it lands.
  const etag = r!.headers.etag!;
  const again = await Promise.all(Array.from({ length: 6 }, () => rawExchange(s.port, req('/favicon.ico', `If-None-Match: ${etag}\r\nConnection: close\r\n`))));
  t.same(again.map((x) => parseResponses(x.data)[0]!.status), Array(6).fill(304), 'If-None-Match → 304, from every worker');
  const head = parseResponses((await rawExchange(s.port, req('/favicon.ico', 'Connection: close\r\n', 'HEAD'))).data, () => true)[0]!;
  t.equal(head.status, 200);
  t.equal(head.body.length, 0, 'HEAD: no body');
  const logged = await s.waitForLog((l) => l.kind === 'access' && l.path === '/favicon.ico' && l.method === 'GET' && l.status === 200, 3000);
  t.equal(logged.bytes, ico.length, 'logged as a 200, not a 404');
  const [other] = parseResponses((await rawExchange(s.port, req('/sub/favicon.ico', 'Connection: close\r\n'))).data);
  t.equal(other!.status, 404, 'only at the root');
});

t.test("a site's own favicon.ico always wins, also one added while running", async (t) => {
  const own = Buffer.from('not really an icon, but the site\'s\n');
  const root = makeSite(t, { 'favicon.ico': own, 'index.html': 'x' });
  const s = await startServer(t, { root, workers: 1, args: ['--cache-valid-ms', '100'] });
  const get = async () => parseResponses((await rawExchange(s.port, req('/favicon.ico'), { until: hasResponses(1) })).data)[0]!;
  t.same((await get()).body, own, 'the site\'s icon');
  fs.rmSync(path.join(root, 'favicon.ico'));
  t.ok(await poll(async () => (await get()).body.equals(drawFavicon()), 50, 50), 'removed: the built-in one');
  fs.writeFileSync(path.join(root, 'favicon.ico'), own);
  const back = await poll(async () => {
    const r = await get();
    return r.body.equals(own) && r;
  }, 50, 50);
  t.ok(back, 'added again: the site\'s, within cacheValidMs');
  t.equal(back && back.headers['cache-control'], 'public, max-age=0, must-revalidate', 'with the site\'s own caching');
});
