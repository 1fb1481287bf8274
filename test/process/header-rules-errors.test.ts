// Process tests: configured header rules (CORS fields above all) also reach 404 responses
// and OPTIONS (204), for paths matching their glob, without their Cache-Control or
// Content-Type (over raw TCP).
import t from 'tap';
import { makeSite, rawExchange, startServer } from '../fixtures/server';
import { exchange, fieldCount } from '../fixtures/semantics';

const RULES = JSON.stringify([
  {
    glob: '/api/**',
    headers: {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Max-Age': '600',
      'Cache-Control': 'public, max-age=31536000, immutable',
      'Content-Type': 'application/json',
      Vary: 'Origin',
    },
  },
  { glob: '**/*.css', headers: { 'Timing-Allow-Origin': '*', 'X-Content-Type-Options': 'nosniff' } },
]);

t.test('header rules on 404 and OPTIONS', async (t) => {
  for (const withPage of [true, false]) {
    const files: Record<string, string> = { 'api/data.json': '{"ok":true}\n', 'index.html': 'home\n' };
    if (withPage) files['404.html'] = 'the site 404\n';
    const root = makeSite(t, files);
    const s = await startServer(t, { root, args: ['--headers', RULES] });
    const label = withPage ? 'site 404 page' : 'built-in 404 page';

    t.test(`${label}: 404 for a matching path carries the rule's fields`, async (t) => {
      const rs = await exchange(s.port, [
        { path: '/api/missing.json' },
        { path: '/api/missing.json', method: 'HEAD' },
        { path: '/api/deep/er/x', headers: { Origin: 'https://example.com' } },
        { path: '/api/.env' }, // a dotfile: 404 like a missing file
        { path: '/api/data.json/' }, // a file has no children
        { path: '/api/%7Emissing' },
      ]);
      for (const [i, r] of rs.entries()) {
        t.equal(r.status, 404, `#${i}`);
        t.equal(r.headers['access-control-allow-origin'], '*', `#${i}`);
        t.equal(r.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS');
        t.equal(r.headers['access-control-max-age'], '600');
        t.equal(r.headers.vary, 'Origin');
        t.equal(r.headers['cache-control'], 'no-cache', "a 404 keeps its own Cache-Control, not the rule's");
        t.equal(fieldCount(r, 'cache-control'), 1);
        t.equal(r.headers['content-type'], 'text/html; charset=utf-8', "and its own Content-Type");
        t.equal(fieldCount(r, 'content-type'), 1);
        t.equal(fieldCount(r, 'x-content-type-options'), 1);
      }
      t.equal(rs[0]!.body.toString().includes('the site 404'), withPage);
      t.equal(rs[1]!.body.length, 0, 'HEAD: no body');
      t.equal(rs[1]!.headers['content-length'], rs[0]!.headers['content-length']);
    });

    t.test(`${label}: a 404 elsewhere does not`, async (t) => {
      const [r] = await exchange(s.port, [{ path: '/other/missing' }]);
      t.equal(r!.status, 404);
      t.equal(r!.headers['access-control-allow-origin'], undefined);
      t.equal(r!.headers.vary, undefined);
      const [css] = await exchange(s.port, [{ path: '/missing.css' }]);
      t.equal(css!.headers['timing-allow-origin'], '*');
      t.equal(fieldCount(css!, 'x-content-type-options'), 1, 'a rule repeating nosniff replaces it, never doubles it');
    });
  }

  t.test('OPTIONS: the preflight gets the fields of the path', async (t) => {
    const root = makeSite(t, { 'api/data.json': '{}\n' });
    const s = await startServer(t, { root, args: ['--headers', RULES] });
    const rs = await exchange(s.port, [
      { path: '/api/data.json', method: 'OPTIONS', headers: { Origin: 'https://example.com', 'Access-Control-Request-Method': 'GET' } },
      { path: '/api/not-there', method: 'OPTIONS' },
      { path: '/api/%7Ex', method: 'OPTIONS' },
      { path: '/index.html', method: 'OPTIONS' },
      { path: '*', method: 'OPTIONS' },
      { path: '/api/../index.html', method: 'OPTIONS' }, // normalised before matching: not under /api/
    ]);
    for (const r of rs) {
      t.equal(r.status, 204);
      t.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
      t.equal(r.headers['content-length'], undefined, '204 has no Content-Length');
      t.equal(r.headers['cache-control'], undefined, "no Cache-Control of the rule's");
      t.equal(r.headers['content-type'], undefined);
      t.equal(fieldCount(r, 'x-content-type-options'), 1);
      t.equal(r.body.length, 0);
    }
    for (const r of rs.slice(0, 3)) {
      t.equal(r.headers['access-control-allow-origin'], '*');
      t.equal(r.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS');
      t.equal(r.headers['access-control-max-age'], '600');
      t.equal(r.headers.vary, 'Origin');
    }
    for (const r of rs.slice(3)) t.equal(r.headers['access-control-allow-origin'], undefined, 'not for other paths, nor for *');
    // A path that does not decode: still the plain 204, nothing matched.
    const { data } = await rawExchange(s.port, 'OPTIONS /api/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const head = data.toString('latin1');
    t.match(head, /^HTTP\/1\.1 204 /);
    t.notMatch(head, /Access-Control/i);
  });
});
