// Process tests: Cache-Control policy, configured headers by glob, and nosniff on every
// response, over raw TCP.
import t from 'tap';
import { makeSite, rawExchange, spawnServer, startServer } from '../fixtures/server';
import { exchange, fieldCount, one, parseMultipart } from '../fixtures/semantics';

const DEFAULT_CC = 'public, max-age=0, must-revalidate';
const IMMUTABLE_CC = 'public, max-age=31536000, immutable';
const RULES = JSON.stringify([
  { glob: '/assets/**', headers: { 'Access-Control-Allow-Origin': '*' } },
  { glob: '**/*.pdf', headers: { 'Cache-Control': 'no-store', 'X-Robots-Tag': 'noindex' } },
  { glob: '/assets/fonts/**', headers: { 'Access-Control-Allow-Origin': 'https://example.com', 'Timing-Allow-Origin': '*' } },
  { glob: '/vary/**', headers: { Vary: 'Origin', 'Content-Type': 'text/x-special' } },
]);

function site(t: Parameters<typeof makeSite>[0]): string {
  return makeSite(t, {
    'index.html': '<h1>home</h1>\n',
    'app.3f9a1c2e.js': 'console.log(1)\n',
    'main-5d41402a.css': 'a{}\n', // 8 hex after "-": too short to tell from a date or a word
    'chunk.Ab3dEf9Z.js': 'x\n', // an 8-character base64url "hash" outside /assets/
    'assets/index-BQ3x9Kd1.js': 'x\n', // Vite
    'deadbeef.js': 'not a hash: no digit\n',
    'report-20240101.txt': 'a date, not a hash\n',
    'assets/x.css': 'x{}\n',
    'assets/deep/y.js': 'y\n',
    'assets/fonts/f.woff2': 'font',
    'assets.css': 'outside the glob\n',
    'other/x.css': 'x{}\n',
    'other/assets/z.css': 'not under /assets/\n',
    'docs/manual.pdf': '%PDF-1.4\n',
    'vary/v.css': 'v{}\n',
    'vary/v.css.gz': 'not really gzip',
    '404.html': 'custom 404\n',
  });
}

t.test('cache policy and configured headers', async (t) => {
  const root = site(t);
  const s = await startServer(t, { root, args: ['--headers', RULES] });

  t.test('Cache-Control: default, and immutable for build outputs', async (t) => {
    const cases: [string, string][] = [
      ['/', DEFAULT_CC],
      ['/index.html', DEFAULT_CC],
      ['/app.3f9a1c2e.js', IMMUTABLE_CC],
      ['/assets/index-BQ3x9Kd1.js', IMMUTABLE_CC],
      ['/main-5d41402a.css', DEFAULT_CC],
      ['/chunk.Ab3dEf9Z.js', DEFAULT_CC],
      ['/deadbeef.js', DEFAULT_CC],
      ['/report-20240101.txt', DEFAULT_CC],
      ['/assets/x.css', DEFAULT_CC],
    ];
    for (const [p, cc] of cases) {
      const [g, h] = await exchange(s.port, [{ path: p }, { path: p, method: 'HEAD' }]);
      t.equal(g!.status, 200, p);
      t.equal(g!.headers['cache-control'], cc, `GET ${p}`);
      t.equal(h!.headers['cache-control'], cc, `HEAD ${p}`);
      t.equal(fieldCount(g!, 'cache-control'), 1);
    }
  });

  t.test('configured headers apply only to matching paths', async (t) => {
    const cases: [string, Record<string, string | undefined>][] = [
      ['/assets/x.css', { 'access-control-allow-origin': '*', 'timing-allow-origin': undefined }],
      ['/assets/deep/y.js', { 'access-control-allow-origin': '*' }],
      // A later rule overrides an earlier one's value for the same field; no duplicate line.
      ['/assets/fonts/f.woff2', { 'access-control-allow-origin': 'https://example.com', 'timing-allow-origin': '*' }],
      ['/assets.css', { 'access-control-allow-origin': undefined }],
      ['/other/x.css', { 'access-control-allow-origin': undefined }],
      ['/other/assets/z.css', { 'access-control-allow-origin': undefined }],
      ['/index.html', { 'access-control-allow-origin': undefined, 'x-robots-tag': undefined }],
      ['/docs/manual.pdf', { 'x-robots-tag': 'noindex', 'access-control-allow-origin': undefined }],
    ];
    for (const [p, want] of cases) {
      const r = await one(s.port, p);
      t.equal(r.status, 200, p);
      for (const [name, value] of Object.entries(want)) {
        t.equal(r.headers[name], value, `${p} ${name}`);
        t.ok(fieldCount(r, name) <= 1, `${p}: ${name} at most once`);
      }
    }
    const r = await one(s.port, '/assets/x.css');
    const nm = await one(s.port, '/assets/x.css', { 'If-None-Match': r.headers.etag! });
    t.equal(nm.status, 304);
    t.equal(nm.headers['access-control-allow-origin'], '*', 'a 304 carries the configured headers a 200 would');
    const pr = await one(s.port, '/assets/x.css', { Range: 'bytes=0-0' });
    t.equal(pr.status, 206);
    t.equal(pr.headers['access-control-allow-origin'], '*');
  });

  t.test('a configured Cache-Control replaces the default instead of adding a second one', async (t) => {
    const r = await one(s.port, '/docs/manual.pdf');
    t.equal(fieldCount(r, 'cache-control'), 1, r.rawHead);
    t.equal(r.headers['cache-control'], 'no-store');
    const nm = await one(s.port, '/docs/manual.pdf', { 'If-None-Match': r.headers.etag! });
    t.equal(nm.status, 304);
    t.equal(fieldCount(nm, 'cache-control'), 1);
    t.equal(nm.headers['cache-control'], 'no-store');
  });

  t.test('configured Vary is merged, Content-Type replaced', async (t) => {
    const rs = await exchange(s.port, [
      { path: '/vary/v.css' },
      { path: '/vary/v.css', headers: { 'Accept-Encoding': 'gzip' } },
      { path: '/vary/v.css', headers: { Range: 'bytes=0-0,2-2' } },
    ]);
    for (const r of rs) {
      t.equal(r.headers.vary, 'Accept-Encoding, Origin');
      t.equal(fieldCount(r, 'vary'), 1);
      t.equal(fieldCount(r, 'etag'), 1);
      t.ok(fieldCount(r, 'content-encoding') <= 1);
    }
    t.equal(rs[0]!.headers['content-type'], 'text/x-special');
    t.equal(fieldCount(rs[0]!, 'content-type'), 1);
    t.equal(rs[0]!.headers['content-encoding'], undefined, 'identity stays identity');
    t.equal(rs[1]!.headers['content-encoding'], 'gzip');
    t.equal(rs[1]!.body.toString(), 'not really gzip');
    const parts = parseMultipart(rs[2]!.headers['content-type']!, rs[2]!.body);
    t.same(parts.map((p) => p.headers['content-type']), ['text/x-special', 'text/x-special'], 'multipart parts carry the configured type');
  });

  t.test('X-Content-Type-Options: nosniff on every response', async (t) => {
    const etag = (await one(s.port, '/index.html')).headers.etag!;
    const rs = await exchange(s.port, [
      { path: '/index.html' }, // 200
      { path: '/index.html', method: 'HEAD' }, // 200 HEAD
      { path: '/index.html', headers: { 'If-None-Match': etag } }, // 304
      { path: '/index.html', headers: { Range: 'bytes=0-1' } }, // 206
      { path: '/index.html', headers: { Range: 'bytes=0-1,3-4' } }, // 206 multipart
      { path: '/index.html', headers: { Range: 'bytes=9999-' } }, // 416
      { path: '/index.html', headers: { 'If-Match': '"nope"' } }, // 412
      { path: '/nothing-here' }, // 404 (site page)
      { path: '/docs' }, // 301
      { path: '/index.html', method: 'POST' }, // 405
      { path: '/index.html', method: 'OPTIONS' }, // 204
    ]);
    t.same(
      rs.map((r) => r.status),
      [200, 200, 304, 206, 206, 416, 412, 404, 301, 405, 204],
    );
    for (const r of rs) {
      t.equal(r.headers['x-content-type-options'], 'nosniff', `${r.status}`);
      t.equal(fieldCount(r, 'x-content-type-options'), 1, `${r.status}: once`);
    }
    t.equal(rs[9]!.headers.allow, 'GET, HEAD, OPTIONS', '405 lists the allowed methods');
    // Refusals that close the connection: a bad path, a bad request, an unsupported version.
    for (const wire of [
      'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET / HTTP/2.0\r\nHost: x\r\n\r\n',
    ]) {
      const { data } = await rawExchange(s.port, wire);
      const head = data.toString('latin1').split('\r\n\r\n')[0]!;
      t.match(head, /^HTTP\/1\.1 (400|505) /, JSON.stringify(wire));
      t.match(head, /\r\nX-Content-Type-Options: nosniff\r\n/i, `${head.split('\r\n')[0]}: nosniff`);
    }
  });

  t.test('--cache-control and --immutable-cache-control override the defaults', async (t) => {
    const s2 = await startServer(t, { root, args: ['--cache-control', 'no-cache'] });
    t.equal((await one(s2.port, '/index.html')).headers['cache-control'], 'no-cache');
    t.equal((await one(s2.port, '/assets/x.css')).headers['cache-control'], 'no-cache');
    t.equal((await one(s2.port, '/app.3f9a1c2e.js')).headers['cache-control'], IMMUTABLE_CC, 'hashed names keep their own policy');
    const idx = await one(s2.port, '/index.html');
    const nm = await one(s2.port, '/index.html', { 'If-None-Match': idx.headers.etag! });
    t.equal(nm.headers['cache-control'], 'no-cache', 'the 304 says the same');

    const s3 = await startServer(t, { root, args: ['--cache-control', 'private, max-age=5', '--immutable-cache-control', ''] });
    t.equal((await one(s3.port, '/app.3f9a1c2e.js')).headers['cache-control'], 'private, max-age=5', '"" treats hashed names like any file');
    t.equal((await one(s3.port, '/index.html')).headers['cache-control'], 'private, max-age=5');
  });
});

t.test('immutablePaths on the wire: names people type are revalidated, build outputs are immutable', async (t) => {
  const typed = ['/cv-JohnDoe1.pdf', '/report-Q3Final1.pdf', '/slides-Week12ab.pdf', '/photo-DSC01234.jpg', '/assets/cv-JohnDoe1.pdf', '/assets/photo-DSC01234.jpg', '/IMG_20240101_123456.jpg', '/manual-v2.1.3.pdf'];
  const built = ['/main.3f9a1c2e8b7d6a5f.js', '/assets/index-BQ3x9Kd1.js', '/assets/logo-Dk3_xZ9a.svg', '/_next/static/chunks/app-x.js', '/chunk-WTJ7KXPM.js'];
  const fonts = ['/fonts/Roboto-Regular.woff2'];
  const files: Record<string, string> = { 'index.html': 'home\n' };
  for (const p of [...typed, ...built, ...fonts]) files[p.slice(1)] = `${p}\n`;
  const root = makeSite(t, files);
  const servers: [string, Promise<{ port: number }>, (p: string) => boolean][] = [
    ['the default (@build-tools)', startServer(t, { root }), (p) => built.includes(p)],
    ['@build-tools and /fonts/**', startServer(t, { root, args: ['--immutable-paths', '["@build-tools", "/fonts/**"]'] }), (p) => built.includes(p) || fonts.includes(p)],
    ['only fonts/** (env)', startServer(t, { root, env: { FLEETSERVE_IMMUTABLE_PATHS: '["fonts/**"]' } }), (p) => fonts.includes(p)],
    ['[] (nothing)', startServer(t, { root, args: ['--immutable-paths', '[]'] }), () => false],
  ];
  for (const [label, started, immutable] of servers) {
    const { port } = await started;
    for (const p of [...typed, ...built, ...fonts]) {
      const want = immutable(p) ? IMMUTABLE_CC : DEFAULT_CC;
      const [g, h] = await exchange(port, [{ path: p }, { path: p, method: 'HEAD' }]);
      t.equal(g!.status, 200, `${label}: ${p}`);
      t.equal(g!.headers['cache-control'], want, `${label}: GET ${p}`);
      t.equal(h!.headers['cache-control'], want, `${label}: HEAD ${p}`);
      const nm = await one(port, p, { 'If-None-Match': g!.headers.etag! });
      t.equal(nm.status, 304);
      t.equal(nm.headers['cache-control'], want, `${label}: the 304 of ${p} says the same`);
    }
  }
});

t.test('a bad immutablePaths entry is one configuration error line', async (t) => {
  const root = makeSite(t, { 'index.html': 'x' });
  const cases: [string, string][] = [
    ['["@build-tool"]', 'fleetserve: immutablePaths: entry #1 ("@build-tool"): unknown built-in rule (the one there is: "@build-tools"): value was ["@build-tool"]'],
    ['["/a/**", ""]', 'fleetserve: immutablePaths: entry #2 (""): must be a non-empty string (a glob, or "@build-tools"): value was ["/a/**",""]'],
    ['{"a": 1}', 'fleetserve: immutablePaths: must be an array of globs and "@build-tools", e.g. ["@build-tools", "/fonts/**"]: value was "{\\"a\\": 1}"'],
  ];
  for (const [value, line] of cases) {
    const s = spawnServer({ args: ['--host', '127.0.0.1', '--port', '0', '--root', root, '--immutable-paths', value] });
    t.teardown(() => s.kill());
    const { code } = await s.exited();
    t.equal(code, 2, `${value}: exit 2`);
    t.equal(s.stderr(), `${line}\n`, `${value}: the one line`);
    t.notOk(s.logs.some((l) => String(l.msg).startsWith('listening')), `${value}: never listened`);
  }
});

t.test('a header rule naming a field the server computes per response is refused at start-up', async (t) => {
  const root = makeSite(t, { 'index.html': 'x' });
  for (const field of ['ETag', 'Content-Encoding', 'Content-Length', 'Location']) {
    const s = spawnServer({ args: ['--host', '127.0.0.1', '--port', '0', '--root', root, '--headers', JSON.stringify([{ glob: '/**', headers: { [field]: 'x' } }])] });
    t.teardown(() => s.kill());
    const { code } = await s.exited();
    t.equal(code, 2, `${field}: exit 2`);
    const lines = s.stderr().trim().split('\n');
    t.equal(lines.length, 1, `${field}: one line`);
    t.match(lines[0], /headers/, `${field}: names the key`);
    t.match(lines[0], new RegExp(field, 'i'), `${field}: names the field`);
    t.notOk(s.logs.some((l) => String(l.msg).startsWith('listening')), `${field}: never listened`);
  }
});
