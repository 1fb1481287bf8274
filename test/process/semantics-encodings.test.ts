// Process tests: precompressed siblings chosen by Accept-Encoding (RFC 9110 §12.5.3, §8.4),
// Vary, validators and ranges of encoded representations, over raw TCP.
import zlib from 'node:zlib';
import t from 'tap';
import { makeSite, startServer } from '../fixtures/server';
import { type Ask, comparableHead, exchange, fieldCount, one, parseMultipart, pattern } from '../fixtures/semantics';

const JS = Buffer.from(`// app\n${'console.log("fleetserve");\n'.repeat(80)}`);
const GZ = zlib.gzipSync(JS);
const BR = zlib.brotliCompressSync(JS);
const ZST = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), pattern(300, 3)]); // content is not inspected: distinct bytes suffice
const JS_TYPE = 'text/javascript; charset=utf-8'; // RFC 9239

function site(t: Parameters<typeof makeSite>[0]): string {
  return makeSite(t, {
    'app.js': JS,
    'app.js.gz': GZ,
    'app.js.br': BR,
    'app.js.zst': ZST,
    'style.css': 'body{color:red}\n'.repeat(50),
    'style.css.gz': zlib.gzipSync('body{color:red}\n'.repeat(50)),
    'plain.txt': 'no siblings\n',
  });
}

t.test('precompressed siblings', async (t) => {
  const root = site(t);
  const servers = {
    memory: await startServer(t, { root }),
    streamed: await startServer(t, { root, args: ['--cache-max-file-bytes', '64'] }),
  };

  for (const [mode, s] of Object.entries(servers)) {
    t.test(`${mode}: Accept-Encoding with q-values picks the sibling`, async (t) => {
      const cases: [string | undefined, 'br' | 'zstd' | 'gzip' | null][] = [
        [undefined, null],
        ['', null],
        ['identity', null],
        ['gzip', 'gzip'],
        ['x-gzip', 'gzip'],
        ['GZIP', 'gzip'],
        ['br', 'br'],
        ['zstd', 'zstd'],
        ['gzip, deflate, br', 'br'], // equal weights: server preference br > zstd > gzip
        ['gzip, zstd', 'zstd'],
        ['br;q=0, gzip', 'gzip'],
        ['br;q=0.5, gzip;q=0.8', 'gzip'],
        ['br;q=0.5, gzip;q=0.8, zstd;q=0.9', 'zstd'],
        ['gzip;q=0', null],
        ['gzip;q=0.000', null],
        ['*', 'br'],
        ['*;q=0', null],
        ['*, br;q=0', 'zstd'],
        ['gzip;q=0.5, identity', null],
        ['deflate', null],
        ['gzip;q=2', null], // invalid weight: the element is ignored
      ];
      const bodies = { br: BR, zstd: ZST, gzip: GZ };
      const identity = await one(s.port, '/app.js');
      const etags = new Set<string>();
      for (const [ae, want] of cases) {
        const headers: Record<string, string> = ae === undefined ? {} : { 'Accept-Encoding': ae };
        const [g, h] = await exchange(s.port, [
          { path: '/app.js', headers },
          { path: '/app.js', method: 'HEAD', headers },
        ]);
        const r = g!;
        t.equal(r.status, 200, `${ae}`);
        t.equal(r.headers['content-encoding'], want ?? undefined, `Accept-Encoding: ${ae} → ${want ?? 'identity'}`);
        t.equal(r.headers['content-type'], JS_TYPE, 'the type of the original');
        t.equal(r.headers.vary, 'Accept-Encoding');
        t.equal(fieldCount(r, 'vary'), 1);
        t.equal(r.body.compare(want === null ? JS : bodies[want]), 0, `${ae}: the bytes of ${want ?? 'app.js'}`);
        t.equal(r.headers['content-length'], String(r.body.length));
        if (want === null) t.equal(r.headers.etag, identity.headers.etag);
        else t.not(r.headers.etag, identity.headers.etag, `${want} has an ETag of its own`);
        etags.add(r.headers.etag!);
        t.same(comparableHead(h!), comparableHead(r), `HEAD, Accept-Encoding: ${ae}`);
      }
      t.equal(etags.size, 4, 'four representations, four ETags');
    });

    t.test(`${mode}: Vary: Accept-Encoding on every response for a file with siblings`, async (t) => {
      const gz = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip' });
      const id = await one(s.port, '/app.js');
      const asks: Ask[] = [
        { path: '/app.js', headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': gz.headers.etag! } }, // 304
        { path: '/app.js', headers: { 'If-None-Match': id.headers.etag! } }, // 304 identity
        { path: '/app.js', headers: { 'Accept-Encoding': 'gzip', Range: 'bytes=0-9' } }, // 206
        { path: '/app.js', headers: { Range: 'bytes=0-9,20-29' } }, // 206 multipart
        { path: '/app.js', headers: { 'Accept-Encoding': 'br', Range: 'bytes=99999-' } }, // 416
        { path: '/app.js', method: 'HEAD', headers: { 'Accept-Encoding': 'br' } },
        { path: '/app.js', method: 'HEAD' },
        { path: '/app.js' },
        { path: '/style.css', headers: { 'Accept-Encoding': 'br' } }, // identity: only a .gz exists
        { path: '/style.css', headers: { 'Accept-Encoding': 'gzip' } },
      ];
      const rs = await exchange(s.port, asks);
      t.same(
        rs.map((r) => r.status),
        [304, 304, 206, 206, 416, 200, 200, 200, 200, 200],
      );
      for (const [i, r] of rs.entries()) t.equal(r.headers.vary, 'Accept-Encoding', `${asks[i]!.path} ${JSON.stringify(asks[i]!.headers ?? {})} → ${r.status}`);
      t.equal(rs[0]!.headers.etag, gz.headers.etag, '304 names the gzip ETag');
      t.equal(rs[8]!.headers['content-encoding'], undefined);
      t.equal(rs[9]!.headers['content-encoding'], 'gzip');
      const plain = await one(s.port, '/plain.txt', { 'Accept-Encoding': 'gzip, br' });
      t.equal(plain.headers.vary, undefined, 'no Vary for a file without siblings');
      t.equal(plain.headers['content-encoding'], undefined);
    });

    t.test(`${mode}: validators are per representation`, async (t) => {
      const gz = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip' });
      const id = await one(s.port, '/app.js');
      const [a, b, c] = await exchange(s.port, [
        { path: '/app.js', headers: { 'If-None-Match': gz.headers.etag! } }, // identity chosen: gzip tag does not match
        { path: '/app.js', headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': id.headers.etag! } },
        { path: '/app.js', headers: { 'Accept-Encoding': 'gzip', 'If-Match': id.headers.etag! } },
      ]);
      t.equal(a!.status, 200);
      t.equal(a!.body.compare(JS), 0);
      t.equal(b!.status, 200);
      t.equal(b!.body.compare(GZ), 0);
      t.equal(c!.status, 412, 'If-Match compares with the selected (gzip) representation');
    });

    t.test(`${mode}: ranges apply to the encoded bytes`, async (t) => {
      const r = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip', Range: 'bytes=0-9' });
      t.equal(r.status, 206);
      t.equal(r.headers['content-encoding'], 'gzip');
      t.equal(r.headers['content-range'], `bytes 0-9/${GZ.length}`);
      t.equal(r.body.compare(GZ.subarray(0, 10)), 0);
      const br = await one(s.port, '/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=-4' });
      t.equal(br.headers['content-range'], `bytes ${BR.length - 4}-${BR.length - 1}/${BR.length}`);
      t.equal(br.body.compare(BR.subarray(-4)), 0);
      const m = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip', Range: 'bytes=0-1,-2' });
      t.equal(m.headers['content-encoding'], 'gzip');
      const parts = parseMultipart(m.headers['content-type']!, m.body);
      t.same(
        parts.map((p) => [p.headers['content-type'], p.headers['content-range']]),
        [
          [JS_TYPE, `bytes 0-1/${GZ.length}`],
          [JS_TYPE, `bytes ${GZ.length - 2}-${GZ.length - 1}/${GZ.length}`],
        ],
      );
      t.equal(Buffer.concat(parts.map((p) => p.body)).compare(Buffer.concat([GZ.subarray(0, 2), GZ.subarray(-2)])), 0);
      const u = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip', Range: `bytes=${GZ.length}-` });
      t.equal(u.status, 416);
      t.equal(u.headers['content-range'], `bytes */${GZ.length}`, 'the size of the encoded representation');
      const ir = await one(s.port, '/app.js', { 'Accept-Encoding': 'gzip', Range: 'bytes=0-9', 'If-Range': (await one(s.port, '/app.js')).headers.etag! });
      t.equal(ir.status, 200, "If-Range with the identity ETag does not match the gzip representation");
      t.equal(ir.body.compare(GZ), 0);
    });
  }

  t.test('--precompressed false (and --compress false) serves only the original', async (t) => {
    const off = await startServer(t, { root, args: ['--precompressed', 'false', '--compress', 'false'] });
    for (const ae of ['gzip', 'br', 'zstd', '*', 'gzip, br, zstd']) {
      const r = await one(off.port, '/app.js', { 'Accept-Encoding': ae });
      t.equal(r.status, 200);
      t.equal(r.headers['content-encoding'], undefined, ae);
      t.equal(r.headers.vary, undefined, 'nothing varies');
      t.equal(r.body.compare(JS), 0);
    }
    const direct = await one(off.port, '/app.js.gz');
    t.equal(direct.status, 200, 'the sibling itself is still a file');
    t.equal(direct.headers['content-encoding'], undefined);
    t.equal(direct.headers['content-type'], 'application/gzip');
    t.equal(direct.body.compare(GZ), 0);
  });
});
