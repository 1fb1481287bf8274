// http2/request.ts: an HTTP/2 header list becomes the Request the HTTP/1.1 parser makes, with
// the same strictness; malformed lists are stream errors, refused ones get the same status.
import t from 'tap';
import { requestFromHeaderList } from '../../../src/http2/request';
import { parseRequestHead } from '../../../src/http/parse';

const base = [':method', 'GET', ':scheme', 'https', ':authority', 'example.com', ':path', '/a%20b.html?x=1'];
const list = (...more: string[]) => [...base, ...more];

t.test('a GET becomes the Request an HTTP/1.1 head of the same fields makes', async (t) => {
  const got = requestFromHeaderList(list('accept-encoding', 'br', 'if-none-match', '"x"'), true);
  const h1 = parseRequestHead(Buffer.from('GET /a%20b.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: br\r\nIf-None-Match: "x"\r\n\r\n'));
  t.equal(got.kind, 'request');
  t.equal(h1.kind, 'request');
  if (got.kind !== 'request' || h1.kind !== 'request') return;
  const { headers, ...rest } = got.request;
  const { headers: h1Headers, ...h1Rest } = h1.request;
  t.same(rest, h1Rest, 'method, target, path, query, minor, host, keepAlive');
  t.same({ ...headers, host: 'example.com' }, { ...h1Headers });
});

t.test('repeated fields join as in HTTP/1.1, cookie crumbs with "; "', async (t) => {
  const got = requestFromHeaderList(list('accept', 'a/b', 'accept', 'c/d', 'cookie', 'a=1', 'cookie', 'b=2'), true);
  t.match(got, { kind: 'request', request: { headers: { accept: 'a/b, c/d', cookie: 'a=1; b=2' } } });
});

t.test('Host stands in for a missing :authority; a Host beside :authority must name the same', async (t) => {
  const noAuthority = [':method', 'GET', ':scheme', 'https', ':path', '/', 'host', 'h.example'];
  t.match(requestFromHeaderList(noAuthority, true), { kind: 'request', request: { host: 'h.example' } });
  t.match(requestFromHeaderList(list('host', 'EXAMPLE.com'), true), { kind: 'request', request: { host: 'example.com' } });
  t.match(requestFromHeaderList(list('host', 'other.example'), true), { kind: 'refused', status: 400, reason: 'Host differs from :authority' });
  t.match(requestFromHeaderList(list('host', 'example.com', 'host', 'example.com'), true), { kind: 'refused', status: 400, reason: 'duplicate Host header field' });
  t.match(requestFromHeaderList([':method', 'GET', ':scheme', 'https', ':path', '/'], true), { kind: 'refused', status: 400, reason: 'missing :authority' });
  t.match(requestFromHeaderList([':method', 'GET', ':scheme', 'https', ':authority', 'a b', ':path', '/'], true), { kind: 'refused', status: 400, reason: 'invalid :authority' });
});

t.test('bodies are refused with 413 as on HTTP/1.1, with the request for the access log', async (t) => {
  t.match(requestFromHeaderList(base, false), { kind: 'refused', status: 413, request: { method: 'GET', target: '/a%20b.html?x=1' } });
  t.match(requestFromHeaderList(list('content-length', '5'), true), { kind: 'refused', status: 413 });
  t.match(requestFromHeaderList(list('content-length', '0'), true), { kind: 'request' });
  t.match(requestFromHeaderList(list('content-length', '-1'), true), { kind: 'malformed', reason: 'invalid content-length' });
});

t.test('malformed lists are stream errors (RFC 9113 §8.1.1)', async (t) => {
  const cases: [string[], RegExp][] = [
    [list('connection', 'keep-alive'), /connection-specific field connection/],
    [list('transfer-encoding', 'chunked'), /connection-specific field transfer-encoding/],
    [list('keep-alive', '5'), /connection-specific/],
    [list('upgrade', 'h2c'), /connection-specific/],
    [list('te', 'gzip'), /TE other than "trailers"/],
    [list('X-Upper', '1'), /malformed field name/],
    [list('a b', '1'), /malformed field name/],
    [list('x', 'a\r\nb: c'), /invalid field value of x/],
    [list('x', 'a\u0000'), /invalid field value/],
    [list('x', ' padded'), /invalid field value/],
    [list(':method', 'GET'), /duplicate :method|after a regular/],
    [[...base, ':protocol', 'websocket'], /unknown pseudo-header field :protocol/],
    [['accept', '*/*', ...base], /after a regular field/],
    [[':method', 'GET', ':method', 'HEAD', ':scheme', 'https', ':path', '/'], /duplicate :method/],
    [[':scheme', 'https', ':authority', 'x', ':path', '/'], /missing or malformed :method/],
    [[':method', 'G(T', ':scheme', 'https', ':authority', 'x', ':path', '/'], /malformed :method/],
    [[':method', 'GET', ':scheme', 'http', ':authority', 'x', ':path', '/'], /:scheme is not https/],
    [[':method', 'GET', ':authority', 'x', ':path', '/'], /:scheme is not https/],
    [[':method', 'GET', ':scheme', 'https', ':authority', 'x'], /missing :path/],
    [[':method', 'GET', ':scheme', 'https', ':authority', 'x', ':path', ''], /missing :path/],
    [[':method', 'GET', ':scheme', 'https', ':authority', 'x', ':path', 'http://x/'], /malformed :path/],
    [[':method', 'GET', ':scheme', 'https', ':authority', 'x', ':path', '*'], /malformed :path/],
    [[':method', 'GET', ':scheme', 'https', ':authority', 'x', ':path', '/a b'], /invalid byte in :path/],
    [[':method', 'GET', ':scheme', 'https', ':authority', 'x', ':path', '/a#b'], /invalid byte in :path/],
    [[':method', 'CONNECT', ':authority', 'x:443'], /CONNECT is not supported/],
  ];
  for (const [raw, reason] of cases) t.match(requestFromHeaderList(raw, true), { kind: 'malformed', reason }, JSON.stringify(raw.slice(-2)));
  t.match(requestFromHeaderList(list('te', 'trailers'), true), { kind: 'request' }, 'TE: trailers is allowed');
  t.match(requestFromHeaderList([':method', 'OPTIONS', ':scheme', 'https', ':authority', 'x', ':path', '*'], true), { kind: 'request', request: { path: '*' } }, 'OPTIONS *');
});

t.test('more regular fields than the HTTP/1.1 limit: 431', async (t) => {
  const many = Array.from({ length: 101 }, (_, i) => [`x-${i}`, 'v']).flat();
  t.match(requestFromHeaderList(list(...many), true), { kind: 'refused', status: 431 });
  t.match(requestFromHeaderList(list(...many.slice(0, 200)), true), { kind: 'request' }, '100 is allowed');
});
