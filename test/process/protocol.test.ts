// HTTP/1.1 on the wire: raw TCP against the built server (dist/main.js) serving temp sites.
// Two servers are shared by the tests of this file: `main` with default timeouts, and
// `quick` with --keep-alive-timeout-ms 300 --headers-timeout-ms 500 and no 404.html.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { hasResponses, makeSite, parseResponses, rawExchange, req, startServer, type ParsedResponse, type Server } from '../fixtures/server';
import { bigBuffer, Client, Download, sha256, sleep } from '../fixtures/wire';

const INDEX = '<!doctype html><h1>index</h1>\n';
const NOT_FOUND_PAGE = '<!doctype html><h1>our own 404</h1>\n';
const LETTERS = ['a', 'b', 'c', 'd', 'e'];
const bodyOf = (l: string) => `${l.toUpperCase()} body of /${l}.txt\n`;
const MID = bigBuffer(100 * 1024); // above the in-memory "wire" size, still cached
const BIG300 = bigBuffer(300 * 1024); // above the cache size: streamed from disk
const BIG20 = bigBuffer(20 * 1024 * 1024);
const MTIME = new Date('2020-01-02T03:04:05Z');
const MTIME_HTTP = 'Thu, 02 Jan 2020 03:04:05 GMT';
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

let main: Server;
let quick: Server;

t.before(async () => {
  const files: Record<string, string | Buffer> = { 'index.html': INDEX, '404.html': NOT_FOUND_PAGE, 'mid.bin': MID, 'big300.bin': BIG300, 'big20.bin': BIG20 };
  for (const l of LETTERS) files[`${l}.txt`] = bodyOf(l);
  const root = makeSite(t, files);
  fs.utimesSync(path.join(root, 'index.html'), MTIME, MTIME);
  const quickRoot = makeSite(t, { 'index.html': INDEX, 'a.txt': bodyOf('a') });
  [main, quick] = await Promise.all([
    startServer(t, { root }),
    startServer(t, { root: quickRoot, args: ['--keep-alive-timeout-ms', '300', '--headers-timeout-ms', '500'] }),
  ]);
});

/** Status lines at the start of a response in the stream (counts responses, framing aside). */
function statusLineCount(data: Buffer): number {
  return (data.toString('latin1').match(/(^|\r\n)HTTP\/1\.\d \d{3} /g) ?? []).length;
}

function headerNames(r: ParsedResponse): string[] {
  return r.rawHead.split('\r\n').slice(1).map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
}

t.test('GET 200: exact bytes on the wire', async (t) => {
  // Keep-alive (the precomputed fast path): nothing but head and body may arrive.
  const c = await Client.connect(main.port);
  t.teardown(() => c.destroy());
  const before = Date.now();
  c.write(req('/index.html'));
  await c.waitFor(hasResponses(1), 3000, 'the response');
  await sleep(150);
  const data = c.data();
  const [r] = parseResponses(data);
  t.equal(r!.statusLine, 'HTTP/1.1 200 OK');
  t.equal(r!.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(r!.headers['content-length'], String(Buffer.byteLength(INDEX)));
  t.match(r!.headers.date, IMF_FIXDATE, 'Date is an IMF-fixdate');
  t.ok(Math.abs(Date.parse(r!.headers.date!) - before) < 5000, 'Date is now');
  t.equal(r!.headers['last-modified'], MTIME_HTTP);
  t.match(r!.headers.etag, /^(W\/)?"[\x21\x23-\x7e]+"$/, 'ETag is a quoted entity-tag');
  t.equal(r!.headers['transfer-encoding'], undefined);
  t.notOk(/close/i.test(r!.headers.connection ?? ''), 'no Connection: close on a keep-alive 1.1 response');
  const names = headerNames(r!);
  t.same(names.filter((n, i) => names.indexOf(n) !== i), [], 'no header field twice');
  t.ok(r!.rawHead.split('\r\n').slice(1).every((l) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+: \S/.test(l)), 'every field line is "Name: value"');
  t.equal(r!.body.toString(), INDEX);
  t.equal(data.length, r!.rawHead.length + 4 + Buffer.byteLength(INDEX), 'nothing after the body');
  t.notOk(c.closed, 'connection stays open');

  // The same file with Connection: close: the same head plus Connection: close, then EOF.
  const { data: d2, closed } = await rawExchange(main.port, req('/index.html', 'Connection: close\r\n'));
  t.ok(closed, 'server closed');
  const [r2] = parseResponses(d2);
  t.equal(r2!.statusLine, 'HTTP/1.1 200 OK');
  t.equal(r2!.headers.connection, 'close');
  t.equal(r2!.headers.etag, r!.headers.etag, 'same ETag');
  t.equal(r2!.headers['last-modified'], MTIME_HTTP);
  t.equal(r2!.body.toString(), INDEX);
  t.equal(d2.length, r2!.rawHead.length + 4 + Buffer.byteLength(INDEX), 'exactly one response');
});

t.test('HEAD: the GET headers, no body', async (t) => {
  const get = parseResponses((await rawExchange(main.port, req('/index.html'), { until: hasResponses(1) })).data)[0]!;
  // A pipelined GET after the HEAD proves no body bytes were sent for the HEAD.
  const { data } = await rawExchange(main.port, req('/index.html', '', 'HEAD') + req('/a.txt'), { until: hasResponses(2, (i) => i === 0) });
  const [head, next] = parseResponses(data, (i) => i === 0);
  t.equal(head!.statusLine, 'HTTP/1.1 200 OK');
  for (const h of ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'accept-ranges']) {
    t.equal(head!.headers[h], get.headers[h], `HEAD ${h} equals GET's`);
  }
  t.equal(head!.headers['content-length'], String(Buffer.byteLength(INDEX)));
  t.equal(head!.body.length, 0);
  t.equal(next?.status, 200, 'the next response starts right after the HEAD head');
  t.equal(next?.body.toString(), bodyOf('a'));
  t.equal(statusLineCount(data), 2);

  // HEAD of a streamed (large) file: no body either.
  const big = await rawExchange(main.port, req('/big300.bin', 'Connection: close\r\n', 'HEAD'));
  t.ok(big.closed);
  const [bh] = parseResponses(big.data, () => true);
  t.equal(bh!.headers['content-length'], String(BIG300.length));
  t.equal(big.data.length, bh!.rawHead.length + 4, 'no body bytes for HEAD of a big file');
});

t.test('404: the site’s 404.html, or the built-in page', async (t) => {
  const { data } = await rawExchange(main.port, req('/no/such/file.html'), { until: hasResponses(1) });
  const [r] = parseResponses(data);
  t.equal(r!.statusLine, 'HTTP/1.1 404 Not Found');
  t.equal(r!.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(r!.body.toString(), NOT_FOUND_PAGE, 'the site’s own 404.html');

  const { data: d2 } = await rawExchange(quick.port, req('/missing'), { until: hasResponses(1) });
  const [r2] = parseResponses(d2);
  t.equal(r2!.status, 404);
  t.equal(r2!.headers['content-type'], 'text/html; charset=utf-8');
  t.match(r2!.body.toString(), /404/, 'built-in page');
  t.equal(r2!.body.length, Number(r2!.headers['content-length']));

  const { data: d3 } = await rawExchange(main.port, req('/missing', '', 'HEAD') + req('/a.txt'), { until: hasResponses(2, (i) => i === 0) });
  const [h, next] = parseResponses(d3, (i) => i === 0);
  t.equal(h!.status, 404);
  t.equal(next?.body.toString(), bodyOf('a'), 'HEAD 404 has no body');
});

t.test('405 with Allow for POST, PUT, DELETE', async (t) => {
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const { data } = await rawExchange(main.port, req('/index.html', '', method), { until: hasResponses(1) });
    const rs = parseResponses(data);
    t.equal(rs[0]?.status, 405, `${method} → 405`);
    t.match(rs[0]?.headers.allow, /\bGET\b/, `${method}: Allow lists GET`);
    t.match(rs[0]?.headers.allow, /\bHEAD\b/, `${method}: Allow lists HEAD`);
    t.notMatch(rs[0]?.headers.allow ?? '', new RegExp(`\\b${method}\\b`), `${method}: Allow does not list ${method}`);
  }
});

/** Requests that must be refused with one 4xx response, Connection: close, and a closed socket. */
const BAD: { name: string; bytes: string; status: number | 'any4xx' }[] = [
  { name: 'malformed request line (no version)', bytes: 'GET /\r\nHost: localhost\r\n\r\n', status: 400 },
  { name: 'malformed request line (two spaces)', bytes: 'GET  / HTTP/1.1\r\nHost: localhost\r\n\r\n', status: 400 },
  { name: 'malformed request line (garbage)', bytes: 'HELLO THERE\r\n\r\n', status: 400 },
  { name: 'bare LF in a header line', bytes: 'GET / HTTP/1.1\r\nHost: localhost\nX-A: b\r\n\r\n', status: 400 },
  { name: 'bare LF ends the request line', bytes: 'GET / HTTP/1.1\nHost: localhost\r\n\r\n', status: 400 },
  { name: 'obs-fold', bytes: 'GET / HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n  c\r\n\r\n', status: 400 },
  { name: 'missing Host on HTTP/1.1', bytes: 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', status: 400 },
  { name: 'duplicate Host', bytes: 'GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n', status: 400 },
  { name: 'Transfer-Encoding: chunked', bytes: 'POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', status: 'any4xx' },
  { name: 'GET with Transfer-Encoding: chunked', bytes: 'GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 'any4xx' },
  { name: 'Content-Length: 5', bytes: 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello', status: 'any4xx' },
  { name: 'GET with Content-Length: 5', bytes: 'GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello', status: 'any4xx' },
  { name: 'malformed percent-encoding /%zz', bytes: req('/%zz'), status: 400 },
  { name: 'NUL %00', bytes: req('/a.txt%00.html'), status: 400 },
  { name: '.. traversal', bytes: req('/../../../../etc/passwd'), status: 400 },
  { name: '.. traversal below a directory', bytes: req('/assets/../../etc/passwd'), status: 400 },
  { name: 'encoded .. traversal', bytes: req('/%2e%2e/%2e%2e/etc/passwd'), status: 400 },
  { name: 'encoded slash traversal', bytes: req('/..%2f..%2fetc%2fpasswd'), status: 400 },
];

for (const bad of BAD) {
  t.test(`refused: ${bad.name}`, async (t) => {
    // A valid request follows the bad one in the same write: it must never be answered.
    const { data, closed, timedOut } = await rawExchange(main.port, bad.bytes + req('/a.txt'), { timeoutMs: 3000 });
    t.notOk(timedOut, 'answered and closed within 3 s');
    t.ok(closed, 'socket closed afterwards');
    t.equal(statusLineCount(data), 1, 'exactly one response');
    let rs: ParsedResponse[] = [];
    try {
      rs = parseResponses(data);
    } catch (err) {
      t.fail(`unparsable response: ${(err as Error).message}`);
    }
    const r = rs[0];
    if (bad.status === 'any4xx') t.ok(r && r.status >= 400 && r.status < 500, `4xx (got ${r?.statusLine})`);
    else t.equal(r?.status, bad.status, r?.statusLine ?? '(no response)');
    t.equal(r?.headers.connection, 'close', 'Connection: close');
    t.equal(r?.body.length, Number(r?.headers['content-length']), 'body framed by Content-Length');
    t.notMatch(data.toString('latin1'), /root:|A body/, 'nothing served, not even the request after it');
  });
}

t.test('refused: a request with bare LF line endings only', async (t) => {
  // No CRLF anywhere: the head never "completes" by CRLFCRLF; it must still be refused
  // promptly (400), not left hanging until the headers timeout.
  const { data, closed, timedOut } = await rawExchange(main.port, 'GET / HTTP/1.1\nHost: localhost\n\n', { timeoutMs: 2000 });
  t.notOk(timedOut, 'answered within 2 s');
  t.ok(closed, 'closed');
  t.equal(statusLineCount(data), 1, 'one response');
  t.match(data.toString('latin1'), /^HTTP\/1\.1 400 /);
  t.match(data.toString('latin1'), /\r\nConnection: close\r\n/i);
});

t.test('size limits: 431, 414; version: 505', async (t) => {
  const cases: [string, string, number][] = [
    ['17 KiB header section', `GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, 431],
    ['17 KiB of many header fields', `GET / HTTP/1.1\r\nHost: localhost\r\n${'X-Many: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(17 * 1024 / 80 + 1).slice(0, 17 * 1024)}\r\n\r\n`, 431],
    ['17 KiB head that never ends', `GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(17 * 1024)}`, 431],
    ['9 KiB request-target', `GET /${'a'.repeat(9 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 414],
    ['9 KiB request-target, line not finished', `GET /${'a'.repeat(9 * 1024)}`, 414],
    ['HTTP/2.0 request line', 'GET / HTTP/2.0\r\nHost: localhost\r\n\r\n', 505],
    ['HTTP/3.0 request line', 'GET / HTTP/3.0\r\nHost: localhost\r\n\r\n', 505],
  ];
  for (const [name, bytes, status] of cases) {
    const { data, closed, timedOut } = await rawExchange(main.port, bytes, { timeoutMs: 3000 });
    const text = data.toString('latin1');
    t.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${status}`);
    t.equal(statusLineCount(data), 1, `${name}: one response`);
    t.match(text, /\r\nConnection: close\r\n/i, `${name}: Connection: close`);
    t.ok(closed && !timedOut, `${name}: closed`);
  }
});

t.test('keep-alive: several requests on one socket, each answered', async (t) => {
  const c = await Client.connect(main.port);
  t.teardown(() => c.destroy());
  const paths = ['/a.txt', '/b.txt', '/missing', '/mid.bin', '/c.txt', '/index.html'];
  for (let i = 0; i < paths.length; i++) {
    c.write(req(paths[i]!));
    await c.waitFor(hasResponses(i + 1), 3000, `response ${i + 1}`);
    t.notOk(c.closed, `open after response ${i + 1}`);
  }
  const rs = parseResponses(c.data());
  t.equal(rs.length, paths.length);
  t.same(rs.map((r) => r.status), [200, 200, 404, 200, 200, 200]);
  t.equal(rs[0]!.body.toString(), bodyOf('a'));
  t.equal(rs[1]!.body.toString(), bodyOf('b'));
  t.equal(sha256(rs[3]!.body), sha256(MID));
  t.equal(rs[5]!.body.toString(), INDEX);
  t.ok(rs.every((r) => r.headers.connection === undefined || !/close/i.test(r.headers.connection)), 'none says close');
});

t.test('HTTP/1.0 closes unless keep-alive', async (t) => {
  const { data, closed, timedOut } = await rawExchange(main.port, 'GET /a.txt HTTP/1.0\r\n\r\n', { timeoutMs: 3000 });
  t.ok(closed && !timedOut, '1.0 without keep-alive: closed after the response');
  const [r] = parseResponses(data);
  t.equal(r!.status, 200);
  t.equal(r!.body.toString(), bodyOf('a'));
  t.notMatch(r!.headers.connection ?? '', /keep-alive/i);
  t.equal(statusLineCount(data), 1);

  const c = await Client.connect(main.port);
  t.teardown(() => c.destroy());
  c.write('GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await c.waitFor(hasResponses(1), 3000, '1.0 keep-alive response');
  await sleep(100); // a wrong close follows the response at once
  t.notOk(c.closed, '1.0 with keep-alive stays open');
  c.write('GET /b.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await c.waitFor(hasResponses(2), 3000, 'second 1.0 response');
  const rs = parseResponses(c.data());
  t.match(rs[0]!.headers.connection, /keep-alive/i, 'says keep-alive');
  t.equal(rs[1]!.body.toString(), bodyOf('b'));
  c.write('GET /c.txt HTTP/1.0\r\n\r\n');
  t.ok(await c.waitClosed(3000), 'a 1.0 request without keep-alive ends it');
  t.equal(parseResponses(c.data())[2]?.body.toString(), bodyOf('c'));
});

t.test('Connection: close is honoured', async (t) => {
  const { data, closed, timedOut } = await rawExchange(main.port, req('/a.txt', 'Connection: close\r\n') + req('/b.txt'), { timeoutMs: 3000 });
  t.ok(closed && !timedOut, 'server closed');
  const rs = parseResponses(data);
  t.equal(rs.length, 1, 'the request after it is not answered');
  t.equal(rs[0]!.headers.connection, 'close');
  t.equal(rs[0]!.body.toString(), bodyOf('a'));
  // token list, any case
  const r2 = await rawExchange(main.port, req('/a.txt', 'Connection: Keep-Alive, CLOSE\r\n'), { timeoutMs: 3000 });
  t.ok(r2.closed && !r2.timedOut, '"Keep-Alive, CLOSE" closes too');
});

t.test('pipelining: requests in one write answered in order', async (t) => {
  const paths = ['/a.txt', '/big300.bin', '/b.txt', '/missing', '/mid.bin', '/c.txt', '/d.txt'];
  const c = await Client.connect(main.port);
  t.teardown(() => c.destroy());
  c.write(paths.map((p) => req(p)).join(''));
  await c.waitFor(hasResponses(paths.length), 5000, 'all responses');
  await sleep(100);
  const data = c.data();
  const rs = parseResponses(data);
  t.equal(rs.length, paths.length, 'one response per request');
  t.same(rs.map((r) => r.status), [200, 200, 200, 404, 200, 200, 200]);
  t.equal(rs[0]!.body.toString(), bodyOf('a'));
  t.equal(sha256(rs[1]!.body), sha256(BIG300));
  t.equal(rs[2]!.body.toString(), bodyOf('b'));
  t.equal(rs[3]!.body.toString(), NOT_FOUND_PAGE);
  t.equal(sha256(rs[4]!.body), sha256(MID));
  t.equal(rs[5]!.body.toString(), bodyOf('c'));
  t.equal(rs[6]!.body.toString(), bodyOf('d'));
  t.notOk(c.closed, 'still open');

  // Five more, each small, in one write, on a fresh connection.
  const { data: d2 } = await rawExchange(main.port, LETTERS.map((l) => req(`/${l}.txt`)).join(''), { until: hasResponses(5) });
  t.same(parseResponses(d2).map((r) => r.body.toString()), LETTERS.map(bodyOf), 'a..e in order');
});

t.test('pipelining: a bad request after good ones', async (t) => {
  const cases: [string, string][] = [
    ['undecodable path', 'GET /%zz HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['malformed request line', 'BAD LINE\r\n\r\n'],
    ['missing Host', 'GET /a.txt HTTP/1.1\r\n\r\n'],
  ];
  for (const [name, bad] of cases) {
    const { data, closed, timedOut } = await rawExchange(main.port, req('/a.txt') + req('/b.txt') + bad + req('/c.txt'), { timeoutMs: 3000 });
    t.ok(closed && !timedOut, `${name}: closed`);
    const rs = parseResponses(data);
    t.same(rs.map((r) => r.status), [200, 200, 400], `${name}: 200, 200, then 400, nothing more`);
    t.equal(rs[0]?.body.toString(), bodyOf('a'));
    t.equal(rs[1]?.body.toString(), bodyOf('b'));
    t.equal(rs[2]?.headers.connection, 'close', `${name}: the 400 says close`);
  }
});

t.test('idle keep-alive connections close after keepAliveTimeoutMs (300 ms)', async (t) => {
  const c = await Client.connect(quick.port);
  t.teardown(() => c.destroy());
  c.write(req('/a.txt'));
  await c.waitFor(hasResponses(1), 3000, 'response');
  const answeredAt = performance.now();
  await sleep(120);
  t.notOk(c.closed, 'still open shortly after the response');
  t.ok(await c.waitClosed(3000), 'closed by the server');
  const idle = c.closedAt - answeredAt;
  t.ok(idle >= 250 && idle < 1500, `closed after ~300 ms idle (${Math.round(idle)} ms)`);
  t.equal(statusLineCount(c.data()), 1, 'nothing else was sent');

  const silent = await Client.connect(quick.port);
  t.teardown(() => silent.destroy());
  const openedAt = performance.now();
  t.ok(await silent.waitClosed(3000), 'a connection that never sends a byte is closed too');
  t.ok(silent.closedAt - openedAt < 1500, `within ~300 ms (${Math.round(silent.closedAt - openedAt)} ms)`);
  t.equal(silent.received, 0, 'without a response');
});

t.test('slow loris: a head trickling past headersTimeoutMs gets 408 and close', async (t) => {
  const c = await Client.connect(quick.port);
  t.teardown(() => c.destroy());
  const started = performance.now();
  c.write('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n');
  // One header line every 100 ms: each resets an inactivity timer, never completes the head.
  for (let i = 0; i < 40 && !c.closed; i++) {
    await sleep(100);
    if (!c.closed && !c.sock.destroyed) c.write(`X-Slow-${i}: 1\r\n`);
  }
  t.ok(await c.waitClosed(1000), 'closed by the server');
  const elapsed = c.closedAt - started;
  t.ok(elapsed < 2000, `within ~headersTimeoutMs (500 ms), took ${Math.round(elapsed)} ms`);
  const text = c.data().toString('latin1');
  t.match(text, /^HTTP\/1\.1 408 /, '408');
  t.match(text, /\r\nConnection: close\r\n/i);
  t.equal(statusLineCount(c.data()), 1);

  // A head that stops altogether.
  const { data, closed, timedOut } = await rawExchange(quick.port, 'GET /a.txt HTTP/1.1\r\nHost: localhost\r\n', { timeoutMs: 3000 });
  t.ok(closed && !timedOut, 'stalled head: closed');
  t.match(data.toString('latin1'), /^HTTP\/1\.1 408 /, 'stalled head: 408');
});

t.test('backpressure: a paused reader of 20 MiB gets every byte after resuming', async (t) => {
  const d = await Download.start(main.port, '/big20.bin');
  t.teardown(() => d.destroy());
  t.ok(await d.waitBody(1024 * 1024, 5000), 'the body started');
  d.pause();
  await sleep(300); // the socket buffers fill: the server is held back from here on
  const atPause = d.bodyBytes;
  // The worker is still alive and answers others meanwhile (no longer stall is needed: no
  // timeout of this server is near, sendTimeoutMs is 60 s).
  const other = await rawExchange(main.port, req('/b.txt', 'Connection: close\r\n'), { timeoutMs: 3000 });
  t.equal(parseResponses(other.data)[0]?.body.toString(), bodyOf('b'), 'another client is served during the stall');
  t.ok(atPause < BIG20.length, `the server was held back (${atPause} of ${BIG20.length} bytes read before the pause ended)`);
  // Read the rest slowly, then at full speed.
  await d.readSlowly(10, 40, 1500, () => d.bodyBytes >= BIG20.length);
  d.resume();
  t.ok(await d.waitBody(BIG20.length, 15_000), 'the whole body arrived');
  await sleep(100);
  t.equal(d.status, 200);
  t.equal(d.headers['content-length'], String(BIG20.length));
  t.equal(d.bodyBytes, BIG20.length, 'byte count');
  t.equal(d.sha256(), sha256(BIG20), 'content hash');
  t.notOk(d.closed, 'connection still usable (keep-alive)');
  t.notOk(main.logs.some((l) => /died|replacing/.test(l.msg)), 'no worker died');
  t.equal(main.proc.exitCode, null, 'server still running');
});
