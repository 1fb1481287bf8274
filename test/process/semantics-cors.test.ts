// Process tests over raw TCP: CORS (--cors, --cors-origins) on every kind of response,
// preflights, the origin list with Vary: Origin, and nothing at all with cors off.
import t from 'tap';
import type { ParsedResponse } from '../fixtures/server';
import { makeSite, startServer } from '../fixtures/server';
import { exchange, fieldCount, one, type Ask } from '../fixtures/semantics';

const EXPOSE = 'Accept-Ranges, Content-Encoding, Content-Length, Content-Range, ETag';
const NAV = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const CSS = `${'.a { color: red; }\n'.repeat(200)}`; // compressible: every answer says Vary: Accept-Encoding

/** The Access-Control-* lines of a response, as sent. */
function corsLines(r: ParsedResponse): string[] {
  return r.rawHead.split('\r\n').filter((l) => /^access-control-/i.test(l));
}

function site(t: Parameters<typeof makeSite>[0]): string {
  return makeSite(t, { 'index.html': '<h1>app</h1>\n', 'app.css': CSS, 'docs/index.html': 'docs\n', 'list/a.txt': 'a' });
}

/** One of each kind of answer the file handler gives, with the status each must have. */
function everyKind(etag: string, headers: Record<string, string> = {}): [Ask, number][] {
  const h = (more: Record<string, string> = {}) => ({ ...headers, ...more });
  return [
    [{ path: '/app.css', headers: h() }, 200],
    [{ path: '/app.css', headers: h() }, 200], // the precomputed response, once the cache is warm
    [{ path: '/app.css', method: 'HEAD', headers: h() }, 200],
    [{ path: '/app.css', headers: h({ 'If-None-Match': etag }) }, 304],
    [{ path: '/app.css', headers: h({ Range: 'bytes=0-3' }) }, 206],
    [{ path: '/app.css', headers: h({ Range: 'bytes=0-1,5-6' }) }, 206],
    [{ path: '/app.css', headers: h({ Range: 'bytes=999999-' }) }, 416],
    [{ path: '/app.css', headers: h({ 'If-Match': '"nope"' }) }, 412],
    [{ path: '/missing.png', headers: h({ Accept: 'image/*' }) }, 404],
    [{ path: '/users/42', headers: h({ Accept: NAV }) }, 200], // the SPA fallback
    [{ path: '/docs', headers: h() }, 301],
    [{ path: '/list/', headers: h() }, 200], // a listing
    [{ path: '/app.css', method: 'POST', headers: h() }, 405],
    [{ path: '/app.css', method: 'OPTIONS', headers: h() }, 204],
    [{ path: '*', method: 'OPTIONS', headers: h() }, 204],
  ];
}

async function etagOf(port: number): Promise<string> {
  return (await one(port, '/app.css')).headers.etag!;
}

t.test('cors: true allows every origin on every response', async (t) => {
  const s = await startServer(t, { root: site(t), args: ['--cors', 'true', '--spa', 'true', '--listing', 'true'] });
  const etag = await etagOf(s.port);
  for (const headers of [{}, { Origin: 'https://anyone.example' }] as Record<string, string>[]) {
    const asks = everyKind(etag, headers);
    const rs = await exchange(s.port, asks.map(([a]) => a));
    for (const [i, r] of rs.entries()) {
      const label = `${asks[i]![0].method ?? 'GET'} ${asks[i]![0].path} ${JSON.stringify(headers)}`;
      t.equal(r.status, asks[i]![1], label);
      t.same(corsLines(r), ['Access-Control-Allow-Origin: *', `Access-Control-Expose-Headers: ${EXPOSE}`], `${label}: * and the exposed fields, once`);
      t.ok(fieldCount(r, 'vary') <= 1, `${label}: at most one Vary`);
      t.notMatch(r.headers.vary ?? '', /Origin/, `${label}: * does not vary by Origin`);
    }
  }
});

t.test('preflights', async (t) => {
  const s = await startServer(t, { root: site(t), args: ['--cors', 'true'] });
  const pre = (more: Record<string, string>): Ask => ({ path: '/app.css', method: 'OPTIONS', headers: { Origin: 'https://anyone.example', 'Access-Control-Request-Method': 'GET', ...more } });
  const [full, bad, plain, missing] = await exchange(s.port, [
    pre({ 'Access-Control-Request-Headers': 'content-type,x-requested-with' }),
    pre({ 'Access-Control-Request-Headers': 'x a' }),
    { path: '/app.css', method: 'OPTIONS', headers: { Origin: 'https://anyone.example' } },
    { ...pre({}), path: '/no/such/file' },
  ]);
  t.equal(full!.status, 204);
  t.equal(full!.headers['content-length'], undefined);
  t.equal(full!.headers['access-control-allow-origin'], '*');
  t.equal(full!.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS');
  t.equal(full!.headers['access-control-allow-headers'], 'content-type,x-requested-with', 'the requested headers echoed');
  t.equal(full!.headers['access-control-max-age'], '86400');
  t.equal(full!.headers.allow, 'GET, HEAD, OPTIONS');
  t.equal(bad!.headers['access-control-allow-headers'], undefined, 'not a token list: not echoed');
  t.equal(bad!.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS');
  t.equal(plain!.headers['access-control-allow-methods'], undefined, 'OPTIONS without Access-Control-Request-Method is no preflight');
  t.equal(plain!.headers['access-control-allow-origin'], '*');
  t.equal(missing!.status, 204, 'a preflight for a missing path is answered too');
  t.equal(missing!.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS');
});

t.test('corsOrigins: a listed Origin is echoed, every response says Vary: Origin', async (t) => {
  const origins = JSON.stringify(['https://app.example', 'http://localhost:5173']);
  const s = await startServer(t, { root: site(t), args: ['--cors', 'true', '--cors-origins', origins, '--spa', 'true', '--listing', 'true'] });
  const etag = await etagOf(s.port);
  const cases: [string, Record<string, string>, string | undefined][] = [
    ['listed', { Origin: 'https://app.example' }, 'https://app.example'],
    ['listed (the other)', { Origin: 'http://localhost:5173' }, 'http://localhost:5173'],
    ['not listed', { Origin: 'https://evil.example' }, undefined],
    ['a listed origin with a path is another string', { Origin: 'https://app.example/' }, undefined],
    ['no Origin', {}, undefined],
  ];
  for (const [label, headers, echoed] of cases) {
    const asks = everyKind(etag, headers);
    const rs = await exchange(s.port, asks.map(([a]) => a));
    for (const [i, r] of rs.entries()) {
      const what = `${label}: ${asks[i]![0].method ?? 'GET'} ${asks[i]![0].path} → ${r.status}`;
      t.equal(r.status, asks[i]![1], what);
      t.same(corsLines(r), echoed === undefined ? [] : [`Access-Control-Allow-Origin: ${echoed}`, `Access-Control-Expose-Headers: ${EXPOSE}`], `${what}: Allow-Origin`);
      t.equal(fieldCount(r, 'vary'), 1, `${what}: one Vary line`);
      t.match(r.headers.vary, /(^|, )Origin$/, `${what}: Vary ends with Origin (${r.headers.vary})`);
    }
    const [css, spa] = [rs[0]!, rs[9]!];
    t.equal(css.headers.vary, 'Accept-Encoding, Origin', `${label}: merged with the coding`);
    t.equal(spa.headers.vary, 'Accept, Origin', `${label}: merged with the SPA's Accept`);
    t.equal(rs[8]!.headers.vary, 'Accept, Origin', `${label}: the SPA's 404 too`);
  }
  const [pre] = await exchange(s.port, [{ path: '/app.css', method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' } }]);
  t.equal(pre!.headers['access-control-allow-origin'], 'https://app.example');
  t.equal(pre!.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS');
  t.equal(pre!.headers.vary, 'Origin');
});

t.test('cors off: no CORS field on any response, also to a preflight', async (t) => {
  const s = await startServer(t, { root: site(t), args: ['--spa', 'true', '--listing', 'true', '--cors-origins', '["https://app.example"]'] });
  const etag = await etagOf(s.port);
  const asks = everyKind(etag, { Origin: 'https://app.example' });
  asks.push([{ path: '/app.css', method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-a' } }, 204]);
  const rs = await exchange(s.port, asks.map(([a]) => a));
  for (const [i, r] of rs.entries()) {
    t.equal(r.status, asks[i]![1]);
    t.same(corsLines(r), [], `${asks[i]![0].method ?? 'GET'} ${asks[i]![0].path}: no Access-Control-*`);
    t.notMatch(r.headers.vary ?? '', /Origin/, 'no Vary: Origin');
  }
});
