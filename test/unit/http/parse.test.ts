// Unit tests for src/http/parse.ts, written from the specification (not from the code).
// Every case names its input in the assertion message. Bytes are built with latin1 so
// that "\xff" in a string literal is exactly one byte 0xFF on the wire.
import t from 'tap';
import type { Test } from 'tap';
import { parseRequestHead, DEFAULT_LIMITS } from '../../../src/http/parse';
import type { Limits } from '../../../src/http/parse';
import type { LoggedRequest, ParseResult, Request } from '../../../src/http/types';


const CRLF = '\r\n';
const B = (s: string): Buffer => Buffer.from(s, 'latin1');
const show = (s: string): string => {
  const j = JSON.stringify(s.length > 120 ? `${s.slice(0, 60)}…(${s.length} chars)…${s.slice(-40)}` : s);
  // make bytes >= 0x7f visible too
  return j.replace(/[\x7f-\xff]/g, (c) => `<${hex(c.charCodeAt(0))}>`);
};

/** A whole head: request line, header lines, empty line. */
const head = (requestLine: string, headers: string[] = ['Host: a']): string =>
  requestLine + CRLF + headers.map((h) => h + CRLF).join('') + CRLF;

const parse = (s: string, limits?: Partial<Limits>): ParseResult =>
  limits === undefined ? parseRequestHead(B(s)) : parseRequestHead(B(s), 0, Buffer.byteLength(s, 'latin1'), limits);

/** Summarise a result for diagnostics (so a failure prints what came back). */
const summary = (r: ParseResult): Record<string, unknown> =>
  r.kind === 'error'
    ? { kind: r.kind, status: r.status, reason: r.reason, request: r.request }
    : r.kind === 'request'
      ? { kind: r.kind, consumed: r.consumed, request: r.request }
      : { kind: r.kind };

/** Assert the input parses to a request; return it (or undefined, after a failed assertion). */
function ok(tt: Test, s: string, limits?: Partial<Limits>, msg?: string): { request: Request; consumed: number } | undefined {
  const r = parse(s, limits);
  const m = msg ?? `${show(s)} is accepted`;
  if (r.kind !== 'request') {
    tt.fail(m, { found: summary(r), wanted: { kind: 'request' } });
    return undefined;
  }
  tt.pass(m);
  return { request: r.request, consumed: r.consumed };
}

/**
 * What a refusal may say about the request (for the access log): nothing (null), or exactly
 * the method, target and version of the input's request line, which must then be valid.
 */
function refusedRequestMatches(s: string, request: LoggedRequest | null): boolean {
  if (request === null) return true;
  const line = s.replace(/^(\r\n)*/, '').split('\r\n')[0]!;
  const m = /^([^ ]+) ([^ ]+) HTTP\/1\.(\d)$/.exec(line);
  return m !== null && request.method === m[1] && request.target === m[2] && request.minor === (m[3] === '0' ? 0 : 1);
}

/**
 * Assert the input is refused with exactly `status` and a non-empty reason, and that what the
 * refusal carries of the request (if anything) is what the input's request line said.
 */
function refused(tt: Test, s: string, status: number, limits?: Partial<Limits>, msg?: string): void {
  const r = parse(s, limits);
  const m = msg ?? `${show(s)} → ${status}`;
  if (r.kind === 'error' && r.status === status && typeof r.reason === 'string' && r.reason.length > 0 && refusedRequestMatches(s, r.request)) {
    tt.pass(m);
  } else {
    tt.fail(m, { found: summary(r), wanted: { kind: 'error', status, reason: '(non-empty string)', request: 'null, or the request line as sent' } });
  }
}

/** The refusal of `s`, asserted to be `status`; undefined (after a failed assertion) otherwise. */
function refusal(tt: Test, s: string, status: number, limits?: Partial<Limits>): Extract<ParseResult, { kind: 'error' }> | undefined {
  refused(tt, s, status, limits);
  const r = parse(s, limits);
  return r.kind === 'error' ? r : undefined;
}

function incomplete(tt: Test, s: string, limits?: Partial<Limits>, msg?: string): void {
  const r = parse(s, limits);
  const m = msg ?? `${show(s)} is incomplete`;
  if (r.kind === 'incomplete') tt.pass(m);
  else tt.fail(m, { found: summary(r), wanted: { kind: 'incomplete' } });
}

const TCHAR_SPECIALS = "!#$%&'*+-.^_`|~";
const isTchar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  TCHAR_SPECIALS.includes(String.fromCharCode(c));
const hex = (c: number): string => `0x${c.toString(16).padStart(2, '0')}`;

// ---------------------------------------------------------------------------

t.test('DEFAULT_LIMITS', async (t) => {
  t.same(DEFAULT_LIMITS, { maxHeadBytes: 16384, maxTargetBytes: 8192, maxHeaders: 100 }, 'DEFAULT_LIMITS values');
  // a Partial<Limits> must not be merged INTO the shared defaults
  parse(head('GET / HTTP/1.1'), { maxHeaders: 1, maxHeadBytes: 50, maxTargetBytes: 3 });
  t.same(
    DEFAULT_LIMITS,
    { maxHeadBytes: 16384, maxTargetBytes: 8192, maxHeaders: 100 },
    'DEFAULT_LIMITS unchanged after a parse with custom limits',
  );
});

t.test('a simple request: every field of the result', async (t) => {
  const s = 'GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x/1\r\n\r\n';
  const r = parse(s);
  t.equal(r.kind, 'request', 'kind');
  if (r.kind !== 'request') return;
  t.equal(r.consumed, s.length, 'consumed = whole head');
  t.same(
    r.request,
    {
      method: 'GET',
      target: '/index.html',
      path: '/index.html',
      query: '',
      minor: 1,
      headers: { host: 'example.com', 'user-agent': 'x/1' },
      host: 'example.com',
      keepAlive: true,
    },
    'request object',
  );
  t.same(Object.keys(r.request.headers).sort(), ['host', 'user-agent'], 'exactly the two header keys');
  t.equal(r.request.minor, 1, 'minor is the number 1');
  t.equal(r.request.keepAlive, true, 'keepAlive is boolean true');
});

t.test('incomplete heads', async (t) => {
  const full = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
  for (const s of ['', 'G', 'GET', 'GET ', 'GET /', 'GET / HTTP/1.1', 'GET / HTTP/1.1\r', 'GET / HTTP/1.1\r\n',
    'GET / HTTP/1.1\r\nHost: a', 'GET / HTTP/1.1\r\nHost: a\r\n', 'GET / HTTP/1.1\r\nHost: a\r\n\r', '\r', '\r\n', '\r\n\r\n',
    '\r\nGET / HTTP/1.1\r\nHost: a\r\n']) {
    incomplete(t, s);
  }
  // every proper prefix of a valid head is incomplete (never an error, never a request)
  for (let i = 0; i < full.length; i++) incomplete(t, full.slice(0, i), undefined, `prefix of length ${i} of ${show(full)} is incomplete`);
  const r = parse(full);
  t.equal(r.kind, 'request', 'the whole head is a request');
});

t.test('every prefix of a bigger valid head is incomplete, via end', async (t) => {
  const full = head('POST /a/b?c=d HTTP/1.0', ['Host: example.com', 'Connection: keep-alive', 'Accept: */*', 'Content-Length: 0']);
  const buf = B(full);
  for (let i = 0; i < buf.length; i++) {
    const r = parseRequestHead(buf, 0, i);
    t.equal(r.kind, 'incomplete', `end=${i} of ${buf.length} is incomplete`);
  }
  const r = parseRequestHead(buf, 0, buf.length);
  t.equal(r.kind, 'request', 'end = length gives the request');
  if (r.kind === 'request') t.equal(r.consumed, buf.length, 'consumed');
});

t.test('origin-form target, path and query', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['/', '/', ''],
    ['/index.html', '/index.html', ''],
    ['/a%20b.html?x=1', '/a%20b.html', '?x=1'],
    ['/?', '/', '?'],
    ['/a?b?c', '/a', '?b?c'],
    ['/a?', '/a', '?'],
    ['/a/b/c/', '/a/b/c/', ''],
    ['//x//y', '//x//y', ''],
    ['/a?x=/b', '/a', '?x=/b'],
    ['/%2e%2e/etc', '/%2e%2e/etc', ''],
    ['/../../etc/passwd', '/../../etc/passwd', ''],
    ['/a;b=c', '/a;b=c', ''],
  ];
  for (const [target, path, query] of cases) {
    const got = ok(t, head(`GET ${target} HTTP/1.1`));
    if (!got) continue;
    t.equal(got.request.target, target, `target of ${show(target)} kept exactly`);
    t.equal(got.request.path, path, `path of ${show(target)}`);
    t.equal(got.request.query, query, `query of ${show(target)}`);
  }
});

t.test('every visible ASCII char except "#" is allowed in a target', async (t) => {
  let vis = '';
  for (let c = 0x21; c <= 0x7e; c++) if (c !== 0x23 && c !== 0x3f) vis += String.fromCharCode(c);
  const target = `/${vis}?${vis}?`;
  const got = ok(t, head(`GET ${target} HTTP/1.1`));
  if (got) {
    t.equal(got.request.target, target, 'target kept');
    t.equal(got.request.path, `/${vis}`, 'path up to the first "?"');
    t.equal(got.request.query, `?${vis}?`, 'query from the first "?"');
  }
});

t.test('each byte 0x00-0xFF inside a request-target', async (t) => {
  for (let c = 0; c <= 0xff; c++) {
    const target = `/a${String.fromCharCode(c)}b`;
    const s = head(`GET ${target} HTTP/1.1`);
    const allowed = c >= 0x21 && c <= 0x7e && c !== 0x23;
    if (allowed) {
      const got = ok(t, s, undefined, `target byte ${hex(c)} is accepted`);
      if (got) t.equal(got.request.target, target, `target byte ${hex(c)}: target kept`);
    } else {
      refused(t, s, 400, undefined, `target byte ${hex(c)} → 400`);
    }
  }
});

t.test('fragments and other invalid targets → 400', async (t) => {
  const bad = [
    '/a#b', '/#', '/a?b#c', '#', '/a#',
    'example.com:443', 'example.com', 'a/b', 'a', '**', '*/a', '*a', '?a', '%2F',
    'ftp://example.com/a', 'file:///etc/passwd', 'ws://example.com/',
    'http://example.com/#frag',
  ];
  for (const target of bad) refused(t, head(`GET ${target} HTTP/1.1`), 400);
  refused(t, head('CONNECT example.com:443 HTTP/1.1', ['Host: example.com:443']), 400, undefined, 'authority-form CONNECT → 400');
  refused(t, head('GET  HTTP/1.1'), 400, undefined, 'empty target (two spaces) → 400');
});

t.test('a request-target not of its method\'s form → 400 (RFC 9112 §3.2)', async (t) => {
  // CONNECT takes only authority-form; authority-form belongs to CONNECT; "*" to OPTIONS.
  for (const line of [
    'CONNECT /path HTTP/1.1', 'CONNECT / HTTP/1.1', 'CONNECT * HTTP/1.1', 'CONNECT http://example.com/ HTTP/1.1',
    'CONNECT example.com:443 HTTP/1.1', 'GET example.com:443 HTTP/1.1', 'OPTIONS example.com:443 HTTP/1.1',
    'GET * HTTP/1.1', 'HEAD * HTTP/1.1', 'DELETE * HTTP/1.1', 'POST * HTTP/1.0', 'options * HTTP/1.1',
  ]) {
    refused(t, head(line), 400, undefined, `${show(line)} → 400`);
  }
  ok(t, head('OPTIONS * HTTP/1.1'), undefined, 'OPTIONS * is accepted');
  ok(t, head('OPTIONS /x HTTP/1.1'), undefined, 'OPTIONS /x is accepted');
  ok(t, head('OPTIONS http://a/x HTTP/1.1'), undefined, 'OPTIONS in absolute-form is accepted');
});

t.test('asterisk-form', async (t) => {
  const got = ok(t, head('OPTIONS * HTTP/1.1'));
  if (got) {
    t.equal(got.request.method, 'OPTIONS', 'method');
    t.equal(got.request.target, '*', 'target');
    t.equal(got.request.path, '*', 'path is "*"');
    t.equal(got.request.query, '', 'query is ""');
  }
});

t.test('absolute-form', async (t) => {
  const cases: Array<[string, string, string, string]> = [
    // target, path, query, host
    ['http://example.com:8080/a?b', '/a', '?b', 'example.com:8080'],
    ['http://example.com', '/', '', 'example.com'],
    ['http://example.com/', '/', '', 'example.com'],
    ['https://example.com/x/y.html', '/x/y.html', '', 'example.com'],
    ['HTTP://example.com/x', '/x', '', 'example.com'],
    ['HtTpS://example.com/x', '/x', '', 'example.com'],
    ['http://example.com/a%20b?x=1&y', '/a%20b', '?x=1&y', 'example.com'],
    ['http://example.com:80', '/', '', 'example.com:80'],
    ['http://127.0.0.1:3000/p', '/p', '', '127.0.0.1:3000'],
    ['http://example.com?q', '/', '?q', 'example.com'],
  ];
  for (const [target, path, query, host] of cases) {
    const got = ok(t, head(`GET ${target} HTTP/1.1`, ['Host: other.invalid']));
    if (!got) continue;
    t.equal(got.request.target, target, `target ${show(target)} kept exactly`);
    t.equal(got.request.path, path, `path of ${show(target)}`);
    t.equal(got.request.query, query, `query of ${show(target)}`);
    t.equal(got.request.host, host, `host of ${show(target)} is the authority, not the Host field`);
    t.equal(got.request.headers.host, 'other.invalid', `headers.host still holds the Host field for ${show(target)}`);
  }
});

t.test('methods: any token is accepted, exactly as sent', async (t) => {
  for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'get', 'Get', 'M-SEARCH', 'BREW', 'X', '1', TCHAR_SPECIALS, `A${TCHAR_SPECIALS}z09`]) {
    const got = ok(t, head(`${m} / HTTP/1.1`));
    if (got) t.equal(got.request.method, m, `method ${show(m)} kept exactly`);
  }
});

t.test('each byte 0x00-0xFF inside a method', async (t) => {
  for (let c = 0; c <= 0xff; c++) {
    const m = `G${String.fromCharCode(c)}T`;
    const s = head(`${m} / HTTP/1.1`);
    if (isTchar(c)) {
      const got = ok(t, s, undefined, `method byte ${hex(c)} is accepted`);
      if (got) t.equal(got.request.method, m, `method byte ${hex(c)}: method kept`);
    } else {
      refused(t, s, 400, undefined, `method byte ${hex(c)} → 400`);
    }
  }
});

t.test('request-line shape', async (t) => {
  const bad = [
    'GET  / HTTP/1.1', 'GET /  HTTP/1.1', 'GET / HTTP/1.1 ', ' GET / HTTP/1.1', 'GET\t/ HTTP/1.1', 'GET /\tHTTP/1.1',
    'GET /HTTP/1.1', 'GET / HTTP/1.1 extra', 'GET /', 'GET / ', '/ HTTP/1.1', ' / HTTP/1.1', 'GET', 'GET /a b HTTP/1.1',
    'GET / HTTP/1.1\t',
  ];
  for (const line of bad) refused(t, head(line), 400);
});

t.test('HTTP-version', async (t) => {
  const minors: Array<[string, 0 | 1]> = [
    ['HTTP/1.1', 1], ['HTTP/1.0', 0], ['HTTP/1.2', 1], ['HTTP/1.3', 1], ['HTTP/1.4', 1], ['HTTP/1.5', 1],
    ['HTTP/1.6', 1], ['HTTP/1.7', 1], ['HTTP/1.8', 1], ['HTTP/1.9', 1],
  ];
  for (const [v, minor] of minors) {
    const got = ok(t, head(`GET / ${v}`));
    if (got) t.equal(got.request.minor, minor, `${v} → minor ${minor}`);
  }
  // HTTP/1.x (x >= 2) behaves like 1.1: keep-alive by default and Host required
  const r12 = ok(t, head('GET / HTTP/1.2'));
  if (r12) t.equal(r12.request.keepAlive, true, 'HTTP/1.2 keeps alive by default (treated as 1.1)');

  for (const v of ['HTTP/2.0', 'HTTP/0.9', 'HTTP/3.0', 'HTTP/0.0', 'HTTP/9.9', 'HTTP/2.1']) {
    refused(t, head(`GET / ${v}`), 505);
  }
  for (const v of ['http/1.1', 'Http/1.1', 'HTTP/1.10', 'HTTP/1', 'HTTP/11', 'HTTP/2', 'HTTP/10.0', 'HTTP/1.x', 'HTTP/a.1',
    'HTTP 1.1', 'HTTP/1.1x', 'HTTPS/1.1', 'HTTP/1,1', 'HTTP/-1.1', 'HTTP/1.', 'HTTP/.1', 'HTTP/', 'HTTX/1.1', 'HTTP1.1', 'HTTP/ 1.1', 'HTTP/1.1.1']) {
    refused(t, head(`GET / ${v}`), 400);
  }
  refused(t, 'GET / \r\nHost: a\r\n\r\n', 400, undefined, 'empty version → 400');
  refused(t, 'GET /\r\nHost: a\r\n\r\n', 400, undefined, 'HTTP/0.9-style line without version → 400');
  // HTTP/2 connection preface (RFC 9113 §3.4): its version alone would be a 505, but PRI is the
  // method RFC 9113 §11.6 registers for the preface only: an h2c client, refused as malformed.
  const preface = parse('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  t.match(preface, { kind: 'error', status: 400, reason: 'HTTP/2 connection preface on an HTTP/1.1 port (h2c is not served)', request: null }, 'HTTP/2 preface → 400');
  refused(t, 'PRI * HTTP/2.0\r\n\r\n', 400, undefined, 'the preface up to its first empty line → 400');
  refused(t, head('PRI / HTTP/1.1'), 400, undefined, 'PRI in an HTTP/1.1 request line is still no request → 400');
  incomplete(t, 'PRI * HTTP/2.0\r\n', undefined, 'the preface before its empty line: incomplete');
  refused(t, head('PRIX * HTTP/2.0'), 505, undefined, 'another method with major 2 stays 505');
});

t.test('line endings: CRLF only', async (t) => {
  const bad = [
    'GET / HTTP/1.1\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX: b\nY: c\r\n\r\n',
    'GET / HTTP/1.1\n\n\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n',
    'GET / HTTP/1.1\r\rHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX: b\r\r\n\r\n',
    'GET /\r HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET\r / HTTP/1.1\r\nHost: a\r\n\r\n',
    '\nGET / HTTP/1.1\r\nHost: a\r\n\r\n',
    '\rGET / HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\n\n\r\n\r\n',
  ];
  for (const s of bad) refused(t, s, 400);
});

t.test('leading empty lines are skipped and counted in consumed', async (t) => {
  for (const lead of ['\r\n', '\r\n\r\n']) {
    const s = `${lead}GET /x HTTP/1.1\r\nHost: a\r\n\r\n`;
    const r = parse(s);
    t.equal(r.kind, 'request', `${show(s)} is a request`);
    if (r.kind !== 'request') continue;
    t.equal(r.consumed, s.length, `${show(s)} consumed includes the leading CRLFs`);
    t.equal(r.request.path, '/x', `${show(s)} path`);
    t.equal(r.request.method, 'GET', `${show(s)} method`);
  }
  // an endless stream of empty lines must not be buffered forever
  const flood = '\r\n'.repeat(20000);
  const r = parse(flood);
  t.equal(r.kind, 'error', '40000 bytes of empty lines is refused, not incomplete');
});

t.test('header field names', async (t) => {
  for (const s of [
    head('GET / HTTP/1.1', ['Host : a']),
    head('GET / HTTP/1.1', ['Host: a', 'X-A : b']),
    head('GET / HTTP/1.1', ['Host: a', 'X-A\t: b']),
    head('GET / HTTP/1.1', ['Host: a', ': b']),
    head('GET / HTTP/1.1', ['Host: a', ':']),
    head('GET / HTTP/1.1', ['Host: a', 'NoColon']),
    head('GET / HTTP/1.1', ['Host: a', 'No Colon here']),
    head('GET / HTTP/1.1', ['Host: a', ' X: b']),
    head('GET / HTTP/1.1', ['Host: a', 'X: b', ' folded']),
    head('GET / HTTP/1.1', ['Host: a', 'X: b', '\tfolded']),
    head('GET / HTTP/1.1', [' Host: a']),
    head('GET / HTTP/1.1', ['\tHost: a']),
    head('GET / HTTP/1.1', ['Host: a', 'Ho st: b']),
    head('GET / HTTP/1.1', ['Host: a', '\x80X: b']),
  ]) refused(t, s, 400);
});

t.test('each byte 0x00-0xFF inside a field name', async (t) => {
  for (let c = 0; c <= 0xff; c++) {
    const name = `X${String.fromCharCode(c)}Y`;
    const s = head('GET / HTTP/1.1', ['Host: a', `${name}: v`]);
    if (c === 0x3a) {
      // "X:Y: v" is the field "X" with value "Y: v"
      const got = ok(t, s, undefined, 'field name byte 0x3a (":") splits name and value');
      if (got) t.equal(got.request.headers.x, 'Y: v', '"X:Y: v" → headers.x = "Y: v"');
    } else if (isTchar(c)) {
      const got = ok(t, s, undefined, `field name byte ${hex(c)} is accepted`);
      if (got) t.equal(got.request.headers[name.toLowerCase()], 'v', `field name byte ${hex(c)}: key is the lower-cased name`);
    } else {
      refused(t, s, 400, undefined, `field name byte ${hex(c)} → 400`);
    }
  }
});

t.test('each byte 0x00-0xFF inside a field value', async (t) => {
  for (let c = 0; c <= 0xff; c++) {
    const s = head('GET / HTTP/1.1', ['Host: a', `X-V: a${String.fromCharCode(c)}b`]);
    const allowed = c === 0x09 || c === 0x20 || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
    if (allowed) {
      const got = ok(t, s, undefined, `field value byte ${hex(c)} is accepted`);
      if (got && c < 0x80) t.equal(got.request.headers['x-v'], `a${String.fromCharCode(c)}b`, `field value byte ${hex(c)}: value kept`);
      if (got && c >= 0x80) t.equal(typeof got.request.headers['x-v'], 'string', `field value byte ${hex(c)}: a string value`);
    } else {
      refused(t, s, 400, undefined, `field value byte ${hex(c)} → 400`);
    }
  }
});

t.test('field values: OWS trimmed, inner whitespace and case kept, empty allowed', async (t) => {
  const cases: Array<[string, string]> = [
    ['X: a', 'a'],
    ['X:a', 'a'],
    ['X:   a b  \t', 'a b'],
    ['X:\ta\t', 'a'],
    ['X: \t a \t b \t ', 'a \t b'],
    ['X: MiXeD CaSe', 'MiXeD CaSe'],
    ['X:', ''],
    ['X: ', ''],
    ['X:\t \t', ''],
    ['X: a:b:c', 'a:b:c'],
    ['X: "quoted, value"', '"quoted, value"'],
  ];
  for (const [line, value] of cases) {
    const got = ok(t, head('GET / HTTP/1.1', ['Host: a', line]));
    if (got) t.equal(got.request.headers.x, value, `${show(line)} → value ${show(value)}`);
  }
});

t.test('header keys lower-cased; repeated fields joined with ", "', async (t) => {
  const got = ok(t, head('GET / HTTP/1.1', ['HOST: a', 'X-Custom-THING: v', 'Accept: a', 'Cookie: c=1', 'ACCEPT: b', 'accept: c']));
  if (got) {
    t.equal(got.request.headers.host, 'a', '"HOST" → key "host"');
    t.equal(got.request.headers['x-custom-thing'], 'v', '"X-Custom-THING" → key "x-custom-thing"');
    t.equal(got.request.headers.accept, 'a, b, c', 'three Accept fields joined in order');
    t.equal(got.request.headers.cookie, 'c=1', 'cookie');
    t.equal(got.request.host, 'a', 'host from "HOST" field');
    t.notOk('HOST' in got.request.headers, 'no upper-case key');
    t.same(Object.keys(got.request.headers).sort(), ['accept', 'cookie', 'host', 'x-custom-thing'], 'exactly these keys');
  }
});

t.test('header names that collide with Object.prototype', async (t) => {
  for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__', '__defineGetter__']) {
    const got = ok(t, head('GET / HTTP/1.1', ['Host: a', `${name}: x`]));
    if (got) t.equal(got.request.headers[name.toLowerCase()], 'x', `field ${show(name)} → value "x"`);
  }
  const got = ok(t, head('GET / HTTP/1.1', ['Host: a', 'Constructor: x', 'constructor: y']));
  if (got) t.equal(got.request.headers.constructor, 'x, y', 'two "constructor" fields joined');
});

t.test('maxHeaders', async (t) => {
  const many = (n: number): string[] => ['Host: a', ...Array.from({ length: n - 1 }, (_, i) => `X-${i}: ${i}`)];
  const got = ok(t, head('GET / HTTP/1.1', many(100)), undefined, '100 header lines (default limit) accepted');
  if (got) t.equal(got.request.headers['x-98'], '98', 'last of 100 headers present');
  refused(t, head('GET / HTTP/1.1', many(101)), 431, undefined, '101 header lines → 431');
  refused(t, head('GET / HTTP/1.1', many(500)), 431, undefined, '500 header lines → 431');
  ok(t, head('GET / HTTP/1.1', many(2)), { maxHeaders: 2 }, '2 header lines with maxHeaders 2 accepted');
  refused(t, head('GET / HTTP/1.1', many(3)), 431, { maxHeaders: 2 }, '3 header lines with maxHeaders 2 → 431');
  // repeated fields count as separate lines
  refused(t, head('GET / HTTP/1.1', ['Host: a', 'X: 1', 'X: 2']), 431, { maxHeaders: 2 }, 'a repeated field counts twice → 431');
  ok(t, head('GET / HTTP/1.1', many(3)), { maxHeadBytes: 100000 }, 'partial limits keep maxHeaders default');
});

t.test('maxTargetBytes → 414', async (t) => {
  const at = `/${'a'.repeat(8191)}`; // 8192 bytes
  const got = ok(t, head(`GET ${at} HTTP/1.1`), undefined, 'target of exactly 8192 bytes accepted');
  if (got) t.equal(got.request.target.length, 8192, 'target length 8192');
  refused(t, head(`GET ${at}a HTTP/1.1`), 414, undefined, 'target of 8193 bytes → 414');
  refused(t, head(`GET http://example.com/${'a'.repeat(8200)} HTTP/1.1`), 414, undefined, 'long absolute-form → 414');
  ok(t, head('GET /123456789 HTTP/1.1'), { maxTargetBytes: 10 }, 'target of 10 bytes with maxTargetBytes 10');
  refused(t, head('GET /1234567890 HTTP/1.1'), 414, { maxTargetBytes: 10 }, 'target of 11 bytes with maxTargetBytes 10 → 414');
  refused(t, head(`GET ${at}a HTTP/1.1`), 414, { maxHeaders: 5 }, 'partial limits keep maxTargetBytes default');
  // refused early, before the head is complete
  refused(t, `GET /${'a'.repeat(9000)}`, 414, undefined, 'incomplete line with a 9001-byte target → 414 early');
  refused(t, `GET /${'a'.repeat(9000)} HTTP/1.1\r\n`, 414, undefined, 'incomplete head with a 9001-byte target → 414 early');
  refused(t, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\n`, 414, undefined, 'incomplete head with a 9001-byte target, header → 414');
  refused(t, `GET /${'a'.repeat(1000)}`, 414, { maxTargetBytes: 10 }, 'incomplete line, 1001-byte target, maxTargetBytes 10 → 414');
  incomplete(t, `GET /${'a'.repeat(8191)}`, undefined, 'incomplete line with an 8192-byte target is still incomplete');
  const r = parse(`${'A'.repeat(20000)}`);
  t.equal(r.kind, 'error', '20000-byte method with no SP is refused, not incomplete');
});

t.test('maxHeadBytes → 431', async (t) => {
  const prefix = 'GET / HTTP/1.1\r\nHost: a\r\nX: ';
  const padTo = (n: number): string => `${prefix}${'v'.repeat(n - prefix.length - 4)}\r\n\r\n`;
  const s100 = padTo(100);
  t.equal(s100.length, 100, 'fixture: 100-byte head');
  const got = ok(t, s100, { maxHeadBytes: 100 }, 'head of exactly maxHeadBytes (100) accepted');
  if (got) t.equal(got.consumed, 100, 'consumed 100');
  refused(t, padTo(101), 431, { maxHeadBytes: 100 }, 'head of 101 bytes with maxHeadBytes 100 → 431');
  ok(t, padTo(16000), undefined, '16000-byte head accepted with defaults');
  ok(t, padTo(16384), undefined, '16384-byte head accepted with defaults');
  refused(t, padTo(16385), 431, undefined, '16385-byte head → 431');
  refused(t, padTo(17000), 431, undefined, '17000-byte head → 431');
  // refused early, before the head is complete
  refused(t, `${prefix}${'v'.repeat(20000)}`, 431, undefined, 'incomplete 20000-byte head → 431 early');
  refused(t, `${prefix}${'v'.repeat(200)}`, 431, { maxHeadBytes: 100 }, 'incomplete 226-byte head with maxHeadBytes 100 → 431');
  refused(t, `GET / HTTP/1.1\r\n${'X: v\r\n'.repeat(4000)}`, 431, undefined, 'incomplete head of many short lines → 431 early');
  incomplete(t, `${prefix}${'v'.repeat(40)}`, { maxHeadBytes: 100 }, 'incomplete 66-byte head with maxHeadBytes 100 is incomplete');
  refused(t, padTo(16385), 431, { maxHeaders: 5 }, 'partial limits keep maxHeadBytes default');
});

t.test('bytes after the head never count toward the head', async (t) => {
  const first = 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n';
  const s = first + 'x'.repeat(40000);
  const r = parse(s);
  t.equal(r.kind, 'request', 'small head followed by 40000 bytes of body/junk is a request');
  if (r.kind === 'request') t.equal(r.consumed, first.length, 'consumed is the head only');
  const s2 = first + `GET /${'b'.repeat(20000)} HTTP/1.1\r\n`;
  const r2 = parse(s2);
  t.equal(r2.kind, 'request', 'small head followed by a huge pipelined request line is a request');
  const s3 = first + '\x00\x01\xff garbage \n\r';
  const r3 = parse(s3);
  t.equal(r3.kind, 'request', 'small head followed by garbage bytes is a request');
  if (r3.kind === 'request') t.equal(r3.consumed, first.length, 'consumed is the head only (garbage after)');
  const s4 = first + '\r\n\r\n';
  const r4 = parse(s4);
  if (r4.kind === 'request') t.equal(r4.consumed, first.length, 'trailing CRLFs after the head are not consumed');
  else t.fail('head + CRLF CRLF is a request', { found: summary(r4) });
});

t.test('pipelining, start and end', async (t) => {
  const a = 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n';
  const b = 'HEAD /b?q HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n';
  const c = 'GET /c HTTP/1.0\r\n\r\n';
  const buf = B(a + b + c);
  const r1 = parseRequestHead(buf);
  t.equal(r1.kind, 'request', 'first request');
  if (r1.kind !== 'request') return;
  t.equal(r1.consumed, a.length, 'first consumed');
  t.equal(r1.request.path, '/a', 'first path');
  const r2 = parseRequestHead(buf, r1.consumed);
  t.equal(r2.kind, 'request', 'second request');
  if (r2.kind !== 'request') return;
  t.equal(r2.consumed, b.length, 'second consumed is counted from start');
  t.equal(r2.request.method, 'HEAD', 'second method');
  t.equal(r2.request.path, '/b', 'second path');
  t.equal(r2.request.query, '?q', 'second query');
  t.equal(r2.request.host, 'b', 'second host');
  t.equal(r2.request.keepAlive, false, 'second keepAlive');
  const r3 = parseRequestHead(buf, r1.consumed + r2.consumed);
  t.equal(r3.kind, 'request', 'third request');
  if (r3.kind !== 'request') return;
  t.equal(r3.consumed, c.length, 'third consumed');
  t.equal(r3.request.minor, 0, 'third minor');
  t.equal(r3.request.host, '', 'third host (1.0 without Host)');
  t.equal(parseRequestHead(buf, buf.length).kind, 'incomplete', 'start = length → incomplete');
  // second request only partly received
  const partial = B(a + b.slice(0, 20));
  t.equal(parseRequestHead(partial, a.length).kind, 'incomplete', 'partial second request → incomplete');
  // end cuts the buffer: bytes after end are not looked at
  const endCut = B(a + 'JUNK');
  const r4 = parseRequestHead(endCut, 0, a.length - 1);
  t.equal(r4.kind, 'incomplete', 'end one byte before the final LF → incomplete');
  const withTail = B('GET / HTTP/1.1\r\nHost: a\r\n\r' + '\n');
  t.equal(parseRequestHead(withTail, 0, withTail.length - 1).kind, 'incomplete', 'final LF beyond end is not seen');
  const r5 = parseRequestHead(B(a + '\x00\x00bad bytes\n'), 0, a.length);
  t.equal(r5.kind, 'request', 'bad bytes after end are ignored');
  // the 431 limit applies within [start, end) only
  const big = B(a + 'v'.repeat(30000));
  t.equal(parseRequestHead(big, 0, a.length - 2).kind, 'incomplete', 'huge buffer, small window → incomplete');
});

t.test('parsing at an offset inside a larger buffer gives the same result', async (t) => {
  const samples = [
    'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
    '\r\nGET /x?y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    'GET http://example.com:8080/a?b HTTP/1.1\r\nHost: z\r\n\r\n',
    'GET / HTTP/1.1\r\n\r\n', // missing Host → 400
    'GET / HTTP/2.0\r\nHost: a\r\n\r\n', // 505
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n', // 413
    'GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n', // 400
    'GET / HTTP/1.1\r\nHost: a\r\n', // incomplete
  ];
  const junkBefore = 'JUNK\r\n\r\nGET /evil HTTP/1.1\r\nHost: evil\r\n\r\n\x00\xff';
  const junkAfter = '\r\n\r\nmore junk \x00';
  for (const s of samples) {
    const base = parse(s);
    const buf = B(junkBefore + s + junkAfter);
    const at = parseRequestHead(buf, junkBefore.length, junkBefore.length + s.length);
    t.same(summary(at), summary(base), `${show(s)} at offset ${junkBefore.length} with end gives the same result`);
    // copy into a buffer with junk before only: the end defaults to buf.length
    const buf2 = B(junkBefore + s);
    const at2 = parseRequestHead(buf2, junkBefore.length);
    t.same(summary(at2), summary(base), `${show(s)} at offset ${junkBefore.length} without end gives the same result`);
    // a subarray view whose byteOffset is non-zero
    const view = B('xx' + s).subarray(2);
    t.same(summary(parseRequestHead(view)), summary(base), `${show(s)} in a Buffer view gives the same result`);
  }
  // limits are measured from start, not from buffer position 0
  const s = `GET /${'a'.repeat(50)} HTTP/1.1\r\nHost: a\r\n\r\n`;
  const padded = B('z'.repeat(20000) + s);
  const r = parseRequestHead(padded, 20000);
  t.equal(r.kind, 'request', 'a small head after 20000 bytes of junk before start is accepted (no 431 from junk)');
  const r2 = parseRequestHead(padded, 20000, padded.length, { maxTargetBytes: 51, maxHeadBytes: 100 });
  t.equal(r2.kind, 'request', 'limits measured from start');
  // early refusals of an incomplete head also look only at [start, end)
  const junk = 'x\r\n\r\nGET / HTTP/1.1\nHost: j\r\n\r\n';
  const longLine = B(`${junk}GET /${'a'.repeat(9000)}`);
  const r3 = parseRequestHead(longLine, junk.length);
  t.same(summary(r3).status, 414, 'incomplete 9001-byte target at an offset after junk with LFs → 414');
  const r4 = parseRequestHead(B(`${junk}GET /${'a'.repeat(9000)}`), junk.length, junk.length + 100);
  t.equal(r4.kind, 'incomplete', 'the same bytes with end cutting at 100 bytes → incomplete');
  const r5 = parseRequestHead(B(`${junk}GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(200)}`), junk.length, undefined, { maxHeadBytes: 100 });
  t.same(summary(r5).status, 431, 'incomplete over-long head at an offset → 431');
  const r6 = parseRequestHead(B(`${'v'.repeat(200)}GET / HTTP/1.1\r\nHost: a\r\n`), 200, undefined, { maxHeadBytes: 100 });
  t.equal(r6.kind, 'incomplete', 'incomplete short head after 200 junk bytes with maxHeadBytes 100 → incomplete');
});

t.test('Host field', async (t) => {
  refused(t, head('GET / HTTP/1.1', []), 400, undefined, 'HTTP/1.1 without Host → 400');
  refused(t, head('GET / HTTP/1.1', ['X: a']), 400, undefined, 'HTTP/1.1 with other fields but no Host → 400');
  refused(t, head('GET / HTTP/1.5', []), 400, undefined, 'HTTP/1.5 (treated as 1.1) without Host → 400');
  refused(t, head('GET / HTTP/1.1', ['Host: a', 'Host: a']), 400, undefined, 'two identical Host fields → 400');
  refused(t, head('GET / HTTP/1.1', ['Host: a', 'HOST: b']), 400, undefined, 'two Host fields, different case → 400');
  refused(t, head('GET / HTTP/1.1', ['Host: a', 'X: 1', 'host: a', 'Host: a']), 400, undefined, 'three Host fields → 400');
  refused(t, head('GET / HTTP/1.0', ['Host: a', 'Host: b']), 400, undefined, 'HTTP/1.0 with two Host fields → 400');
  refused(t, head('GET / HTTP/1.1', ['Host:', 'Host:']), 400, undefined, 'two empty Host fields → 400');
  // RFC 9110 §4.2.1 / §7.2 with RFC 3986 §3.2.2: uri-host [":" port], port = *DIGIT, no empty host.
  for (const v of ['a b', 'a\tb', 'a/b', 'a@b', 'user@example.com', 'a?b', 'a#b', 'a\\b', 'a,b', 'a, b', 'example.com/', '/',
    '', ' ', 'localhost:abc', 'localhost:8o', 'a:80:90', ':80', ':', '[::1', '[::1]x', '[::1]:a', '[]', '[::g]', '[1.2.3.4]',
    '[fe80::1%25eth0]', '[v1]', '[v.x]', '[vg.x]', '[v1.]', '%', '%2', '%zz', 'a%2', 'ex\x80ample.com', 'a<b', 'a"b', 'a{b}', 'a|b', 'a^b', 'a`b']) {
    refused(t, head('GET / HTTP/1.1', [`Host: ${v}`]), 400, undefined, `Host ${show(v)} → 400`);
  }
  refused(t, head('GET / HTTP/1.0', ['Host: a b']), 400, undefined, 'HTTP/1.0 Host "a b" → 400');
  const good: Array<[string, string]> = [
    ['Host: example.com', 'example.com'],
    ['Host: example.com:8080', 'example.com:8080'],
    ['Host: [::1]:8080', '[::1]:8080'],
    ['Host: 127.0.0.1', '127.0.0.1'],
    ['Host: [::1]', '[::1]'],
    ['Host: [2001:db8::7]:443', '[2001:db8::7]:443'],
    ['Host: [::ffff:192.0.2.1]', '[::ffff:192.0.2.1]'],
    ['Host: [v1.fe80::a+en1]', '[v1.fe80::a+en1]'],
    ['Host: example.com:', 'example.com:'],
    ['Host: xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ["Host: a-b_c~d!$&'()*+;=.e", "a-b_c~d!$&'()*+;=.e"],
    ['Host: %41%62c', '%41%62c'],
    ['Host:   example.com  ', 'example.com'],
    ['Host:\texample.com\t', 'example.com'],
    ['HoSt: Example.COM', 'Example.COM'],
  ];
  for (const [line, host] of good) {
    const got = ok(t, head('GET / HTTP/1.1', [line]));
    if (got) {
      t.equal(got.request.host, host, `${show(line)} → host ${show(host)}`);
      t.equal(got.request.headers.host, host, `${show(line)} → headers.host ${show(host)}`);
    }
  }
  const h10 = ok(t, head('GET / HTTP/1.0', []), undefined, 'HTTP/1.0 without Host accepted');
  if (h10) {
    t.equal(h10.request.host, '', 'HTTP/1.0 without Host → host ""');
    t.equal(h10.request.minor, 0, 'HTTP/1.0 minor 0');
  }
  const h10h = ok(t, head('GET / HTTP/1.0', ['Host: x.test']), undefined, 'HTTP/1.0 with Host accepted');
  if (h10h) t.equal(h10h.request.host, 'x.test', 'HTTP/1.0 with Host → host');
});

t.test('bodies are refused: Transfer-Encoding', async (t) => {
  for (const line of ['Transfer-Encoding: chunked', 'transfer-encoding: identity', 'TRANSFER-ENCODING: gzip, chunked',
    'Transfer-Encoding:', 'Transfer-Encoding: ', 'tRaNsFeR-eNcOdInG: x']) {
    refused(t, head('POST / HTTP/1.1', ['Host: a', line]), 400, undefined, `${show(line)} → 400`);
    refused(t, head('GET / HTTP/1.0', [line]), 400, undefined, `HTTP/1.0 ${show(line)} → 400`);
  }
  refused(t, head('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked', 'Content-Length: 5']), 400, undefined,
    'Transfer-Encoding + Content-Length: 5 → 400 (not 413)');
  refused(t, head('POST / HTTP/1.1', ['Host: a', 'Content-Length: 5', 'Transfer-Encoding: chunked']), 400, undefined,
    'Content-Length: 5 + Transfer-Encoding → 400 (not 413)');
  refused(t, head('POST / HTTP/1.1', ['Host: a', 'Content-Length: 0', 'Transfer-Encoding: chunked']), 400, undefined,
    'Content-Length: 0 + Transfer-Encoding → 400');
});

t.test('bodies are refused: Content-Length', async (t) => {
  for (const v of ['0', '00', '000']) {
    const got = ok(t, head('POST / HTTP/1.1', ['Host: a', `Content-Length: ${v}`]));
    if (got) t.equal(got.request.headers['content-length'], v, `Content-Length ${show(v)} kept in headers`);
  }
  ok(t, head('POST / HTTP/1.1', ['Host: a', 'Content-Length:   0 \t']), undefined, 'Content-Length "0" with OWS accepted');
  ok(t, head('POST / HTTP/1.1', ['Host: a', 'content-length: 0']), undefined, 'lower-case content-length: 0 accepted');
  ok(t, head('GET / HTTP/1.0', ['Content-Length: 0']), undefined, 'HTTP/1.0 Content-Length: 0 accepted');
  for (const v of ['1', '5', '10', '0000001', '16384', '99999999999999999999999999', '9007199254740993']) {
    refused(t, head('POST / HTTP/1.1', ['Host: a', `Content-Length: ${v}`]), 413, undefined, `Content-Length ${show(v)} → 413`);
  }
  refused(t, head('POST / HTTP/1.0', ['Content-Length: 7']), 413, undefined, 'HTTP/1.0 Content-Length: 7 → 413');
  // (the last two are UTF-8 bytes of ARABIC-INDIC DIGIT ONE and FULLWIDTH DIGIT FIVE)
  for (const v of ['-1', '+1', '-0', '+0', '1 0', '1,1', '0,0', '1, 1', '0, 0', 'abc', '', '0x10', '1.0', '1e3', 'Infinity', 'NaN',
    '0\t0', '\xd9\xa1', '\xef\xbc\x95']) {
    refused(t, head('POST / HTTP/1.1', ['Host: a', `Content-Length: ${v}`]), 400, undefined, `Content-Length ${show(v)} → 400`);
  }
  refused(t, head('POST / HTTP/1.1', ['Host: a', 'Content-Length: 0', 'Content-Length: 0']), 400, undefined,
    'two Content-Length: 0 fields → 400');
  refused(t, head('POST / HTTP/1.1', ['Host: a', 'Content-Length: 5', 'Content-Length: 5']), 400, undefined,
    'two Content-Length: 5 fields → 400 (not 413)');
  refused(t, head('POST / HTTP/1.1', ['Host: a', 'Content-Length: 5', 'content-length: 6']), 400, undefined,
    'two differing Content-Length fields → 400');
  refused(t, head('POST / HTTP/1.1', ['Host: a', 'Content-Length: 0', 'Content-Length:']), 400, undefined,
    'Content-Length "0" then empty → 400');
});

t.test('keepAlive', async (t) => {
  const cases: Array<[string, string[], boolean]> = [
    ['HTTP/1.1', [], true],
    ['HTTP/1.1', ['Connection: close'], false],
    ['HTTP/1.1', ['Connection: CLOSE'], false],
    ['HTTP/1.1', ['Connection: Close'], false],
    ['HTTP/1.1', ['Connection: keep-alive'], true],
    ['HTTP/1.1', ['Connection: upgrade, close'], false],
    ['HTTP/1.1', ['Connection: foo,close'], false],
    ['HTTP/1.1', ['Connection: foo , Close '], false],
    ['HTTP/1.1', ['Connection:close,'], false],
    ['HTTP/1.1', ['Connection: ,,close,,'], false],
    ['HTTP/1.1', ['Connection: \tclose\t'], false],
    ['HTTP/1.1', ['Connection: closed'], true],
    ['HTTP/1.1', ['Connection: x-close'], true],
    ['HTTP/1.1', ['Connection: close-ish, keep-alive'], true],
    ['HTTP/1.1', ['Connection: "close"'], true],
    ['HTTP/1.1', ['Connection:'], true],
    ['HTTP/1.1', ['Connection: upgrade'], true],
    ['HTTP/1.1', ['Connection: keep-alive', 'Connection: close'], false],
    ['HTTP/1.1', ['Connection: close', 'Connection: keep-alive'], false],
    ['HTTP/1.1', ['X-Connection: close'], true],
    ['HTTP/1.1', ['X: close'], true],
    ['HTTP/1.2', ['Connection: close'], false],
    ['HTTP/1.0', [], false],
    ['HTTP/1.0', ['Connection: keep-alive'], true],
    ['HTTP/1.0', ['Connection: Keep-Alive'], true],
    ['HTTP/1.0', ['Connection: KEEP-ALIVE'], true],
    ['HTTP/1.0', ['Connection: foo, keep-alive'], true],
    ['HTTP/1.0', ['Connection: , , keep-alive'], true],
    ['HTTP/1.0', ['Connection:keep-alive,'], true],
    ['HTTP/1.0', ['Connection: keep-alive, close'], false],
    ['HTTP/1.0', ['Connection: close, keep-alive'], false],
    ['HTTP/1.0', ['Connection: close'], false],
    ['HTTP/1.0', ['Connection: keep-alive-ish'], false],
    ['HTTP/1.0', ['Connection: keepalive'], false],
    ['HTTP/1.0', ['Connection: x-keep-alive'], false],
    ['HTTP/1.0', ['Connection: upgrade'], false],
    ['HTTP/1.0', ['Connection:'], false],
    ['HTTP/1.0', ['Keep-Alive: timeout=5'], false],
    ['HTTP/1.0', ['Connection: foo', 'Connection: keep-alive'], true],
    ['HTTP/1.0', ['Connection: keep-alive', 'Connection: close'], false],
    // OWS is SP / HTAB only: a trailing 0xA0 (NBSP in latin1) is part of the element, so it is not the token
    ['HTTP/1.1', ['Connection: close\xa0'], true],
    ['HTTP/1.1', ['Connection: \xa0close'], true],
    ['HTTP/1.0', ['Connection: keep-alive\xa0'], false],
  ];
  for (const [version, fields, keepAlive] of cases) {
    const headers = version === 'HTTP/1.0' ? fields : ['Host: a', ...fields];
    const got = ok(t, head(`GET / ${version}`, headers));
    if (got) t.equal(got.request.keepAlive, keepAlive, `${version} ${show(fields.join(' | ') || '(no Connection)')} → keepAlive ${keepAlive}`);
  }
});

t.test('a few complete garbage heads → 400', async (t) => {
  for (const s of [
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', // TLS ClientHello-ish
    'HELLO\r\n\r\n',
    ' \r\n\r\n',
    '\x00\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\n\x00\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\n \r\n\r\n',
  ]) refused(t, s, 400);
});

t.test('result objects are fresh per call', async (t) => {
  const s = head('GET /a HTTP/1.1', ['Host: a', 'X: 1']);
  const r1 = parse(s);
  const r2 = parse(s);
  if (r1.kind === 'request' && r2.kind === 'request') {
    t.not(r1.request.headers, r2.request.headers, 'headers objects are distinct');
    r1.request.headers.x = 'changed';
    t.equal(r2.request.headers.x, '1', 'mutating one result does not affect another');
  } else {
    t.fail('both parse', { r1: summary(r1), r2: summary(r2) });
  }
});

t.test('interned field names: every case spelling maps to its name, near misses stay themselves', async (t) => {
  const names = ['Host', 'Connection', 'User-Agent', 'Accept-Encoding', 'If-None-Match', 'Sec-CH-UA-Platform', 'X-Forwarded-For', 'TE', 'DNT', 'Priority'];
  for (const name of names) {
    for (const spelled of [name, name.toUpperCase(), name.toLowerCase()]) {
      const lines = spelled.toLowerCase() === 'host' ? [`${spelled}: v`] : ['Host: h', `${spelled}: v`];
      const got = ok(t, head('GET / HTTP/1.1', lines));
      if (got) t.equal(got.request.headers[name.toLowerCase()], 'v', `"${spelled}" → "${name.toLowerCase()}"`);
    }
  }
  // Same length as a known name, one byte off (including a digit or '-' where a letter was).
  for (const near of ['Hosu', 'Rang3', 'X-Forwarded-Fox', 'Accept-Encodinh', 'If-None_Match', 'Cookie2'.slice(0, 6).replace('e', '3')]) {
    const got = ok(t, head('GET / HTTP/1.1', ['Host: h', `${near}: v`]));
    if (got) {
      t.equal(got.request.headers[near.toLowerCase()], 'v', `"${near}" keeps its own name`);
      t.equal(Object.keys(got.request.headers).length, 2, `"${near}" did not turn into a known field`);
    }
  }
});

t.test('a refusal carries what a valid request line said (for the access log), and only then', async (t) => {
  const ua = 'User-Agent: curl/8.5.0';
  const ref = 'Referer: http://example.com/form';
  // Refused after the request line: method, target, version and the fields parsed so far.
  const after: Array<[string, string, number, Record<string, string>, Partial<Limits>?]> = [
    ['PUT with a body (Content-Length > 0)', head('PUT /upload/a.txt?x=1 HTTP/1.1', ['Host: a', ua, ref, 'Content-Length: 5']), 413,
      { host: 'a', 'user-agent': 'curl/8.5.0', referer: 'http://example.com/form', 'content-length': '5' }],
    ['POST with Transfer-Encoding', head('POST /form HTTP/1.0', [ua, 'Transfer-Encoding: chunked']), 400, { 'user-agent': 'curl/8.5.0', 'transfer-encoding': 'chunked' }],
    ['an invalid Content-Length', head('POST / HTTP/1.1', ['Host: a', 'Content-Length: -1']), 400, { host: 'a', 'content-length': '-1' }],
    ['no Host on HTTP/1.1', head('GET /x HTTP/1.1', [ua]), 400, { 'user-agent': 'curl/8.5.0' }],
    ['a duplicate Host', head('GET /x HTTP/1.1', ['Host: a', 'Host: b', ua]), 400, { host: 'a, b', 'user-agent': 'curl/8.5.0' }],
    ['an invalid Host', head('GET /x HTTP/1.1', ['Host: a b']), 400, { host: 'a b' }],
    ['obs-fold: the fields before it', head('GET /x HTTP/1.1', ['Host: a', ua, ' folded']), 400, { host: 'a', 'user-agent': 'curl/8.5.0' }],
    ['a malformed field name: the fields before it', head('GET /x HTTP/1.1', [ref, 'Bad Name: v', ua]), 400, { referer: 'http://example.com/form' }],
    ['a control byte in a value: the fields before it', head('GET /x HTTP/1.1', ['Host: a', 'X: \x01']), 400, { host: 'a' }],
    ['too many fields: the ones within the limit', head('GET /x HTTP/1.1', ['Host: a', 'X: 1', 'Y: 2']), 431, { host: 'a', x: '1' }, { maxHeaders: 2 }],
    ['a whole head over maxHeadBytes: no field read', head('GET /x HTTP/1.1', ['Host: a', `X: ${'v'.repeat(200)}`]), 431, {}, { maxHeadBytes: 100 }],
    ['an absolute-form target that is not http(s)', head('GET ftp://a/x HTTP/1.1'), 400, { host: 'a' }],
    ['CONNECT authority-form', head('CONNECT example.com:443 HTTP/1.1', ['Host: example.com:443']), 400, { host: 'example.com:443' }],
    ['asterisk-form with GET', head('GET * HTTP/1.1'), 400, { host: 'a' }],
    ['HTTP/1.7 (answered as 1.1) with a body', head('PUT /a HTTP/1.7', ['Host: a', 'Content-Length: 1']), 413, { host: 'a', 'content-length': '1' }],
  ];
  for (const [what, input, status, headers, limits] of after) {
    const r = refusal(t, input, status, limits);
    if (!r) continue;
    if (r.request === null) {
      t.fail(`${what}: the refusal carries the request`);
      continue;
    }
    const line = input.split('\r\n')[0]!.split(' ');
    t.same({ method: r.request.method, target: r.request.target, minor: r.request.minor }, { method: line[0], target: line[1], minor: line[2] === 'HTTP/1.0' ? 0 : 1 }, `${what}: method, target, version`);
    t.strictSame({ ...r.request.headers }, headers, `${what}: the fields parsed before the refusal`);
  }
  // Refused at the request line itself: nothing of it is trusted, the log shows "-".
  const atLine: Array<[string, string, number, Partial<Limits>?]> = [
    ['a malformed method', head('G(T / HTTP/1.1'), 400],
    ['two spaces', head('GET  / HTTP/1.1'), 400],
    ['a fragment in the target', head('GET /a#b HTTP/1.1'), 400],
    ['a malformed version', head('GET / HTTP/1.x'), 400],
    ['lower-case http', head('GET / http/1.1'), 400],
    ['HTTP/2.0', head('GET / HTTP/2.0'), 505],
    ['a target over maxTargetBytes', head(`GET /${'a'.repeat(20)} HTTP/1.1`), 414, { maxTargetBytes: 10 }],
    ['an incomplete head over maxHeadBytes', `GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(200)}`, 431, { maxHeadBytes: 100 }],
    ['an incomplete head with a bare LF', 'GET / HTTP/1.1\nHost: a\n', 400],
    ['garbage', '\x16\x03\x01\x02\x00\r\n\r\n', 400],
  ];
  for (const [what, input, status, limits] of atLine) {
    const r = refusal(t, input, status, limits);
    if (r) t.equal(r.request, null, `${what}: no request carried`);
  }
});

t.test('a refused head\'s fields are as safe as a request\'s: no prototype, names like __proto__ are plain', async (t) => {
  const r = refusal(t, head('PUT / HTTP/1.1', ['Host: a', '__proto__: x', 'Constructor: y', 'Content-Length: 9']), 413);
  if (r?.request) {
    t.equal(r.request.headers['__proto__'], 'x');
    t.equal(r.request.headers['constructor'], 'y');
    t.equal(r.request.headers['toString'], undefined, 'nothing inherited');
  } else t.fail('the refusal carries the request');
});
