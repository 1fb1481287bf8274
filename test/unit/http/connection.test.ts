// http/connection.ts over a real socket pair on 127.0.0.1 with a fake handler: keep-alive,
// pipelining (in order, also when a reply is asynchronous), HTTP/1.0, refusals, errors,
// backpressure against a client that does not read, drain.
import net from 'node:net';
import t, { type Test } from 'tap';
import { Connection, type ConnectionOptions } from '../../../src/http/connection';
import { okReply, wireReply, wireResponse } from '../../../src/http/respond';
import type { AccessRecord, ListenerInfo, Reply, Request } from '../../../src/http/types';
import { RequestCounters } from '../../../src/metrics/counters';

interface Pair {
  client: net.Socket;
  conn: Connection;
  handled: Request[];
  access: AccessRecord[];
  errors: string[];
  /** Everything the client received so far. */
  received: () => string;
  /** Whether the client's socket closed within ms (false at the deadline: a test never waits for tap's timeout). */
  closedWithin: (ms?: number) => Promise<boolean>;
}

const PLAIN: ListenerInfo = { name: 'http', tls: undefined };

async function pair(t: Test, handle: (req: Request) => Reply | Promise<Reply>, over: Partial<ConnectionOptions> = {}, listener: ListenerInfo = PLAIN): Promise<Pair> {
  const handled: Request[] = [];
  const access: AccessRecord[] = [];
  const errors: string[] = [];
  let conn!: Connection;
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    conn = new Connection(
      sock,
      {
        keepAliveTimeoutMs: 5000,
        headersTimeoutMs: 5000,
        sendTimeoutMs: 5000,
        handle: (req) => {
          handled.push(req);
          return handle(req);
        },
        onAccess: (r) => access.push(r),
        counters: null,
        onError: (_err, what) => errors.push(what),
        ...over,
      },
      () => {},
      null,
      listener,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  while (conn === undefined) await new Promise((r) => setTimeout(r, 5));
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  let isClosed = false;
  client.once('close', () => (isClosed = true));
  const closedWithin = (ms = 2000) => until(() => isClosed, ms);
  client.on('error', () => {});
  t.teardown(() => {
    client.destroy();
    conn.socket.destroy();
    server.close();
  });
  return { client, conn, handled, access, errors, received: () => Buffer.concat(chunks).toString('latin1'), closedWithin };
}

const text = (s: string) => okReply(`Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(s)}\r\n`, Buffer.from(s));
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

async function until(what: () => boolean, ms = 3000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!what()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

const statuses = (raw: string) => [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

t.test('keep-alive: one request after another on one connection', async (t) => {
  const p = await pair(t, (req) => text(`you asked ${req.path}`));
  p.client.write(get('/a'));
  t.ok(await until(() => p.received().endsWith('you asked /a')));
  p.client.write(get('/b'));
  t.ok(await until(() => p.received().endsWith('you asked /b')));
  t.notMatch(p.received(), 'Connection:', 'HTTP/1.1 keep-alive is not announced');
  t.ok(p.conn.idle, 'idle between requests');
  t.same(p.access.map((a) => [a.path, a.status, a.bytes]), [['/a', 200, 12], ['/b', 200, 12]]);
  t.equal(p.client.destroyed, false, 'still open');
});

t.test("a listener's header lines (HSTS) are on prepared whole responses and serialized ones alike", async (t) => {
  const ok = 'Content-Type: text/plain\r\nContent-Length: 4\r\n';
  const body = Buffer.from('fast');
  // Made for a second long past: its Date shows that the prepared bytes were sent, not a head serialized anew.
  const wire = wireResponse(ok, body, Date.UTC(2026, 0, 2, 3, 4, 5));
  const hsts = 'Strict-Transport-Security: max-age=60\r\n';
  const p = await pair(t, (req) => (req.path === '/fast' ? wireReply(ok, body, wire) : text('slow')), { listenerHeaders: hsts });
  p.client.write(get('/fast') + get('/other'));
  t.ok(await until(() => p.received().endsWith('slow')));
  const heads = p.received().split(/\r\n\r\n(?:fast|slow)/).filter((h) => h !== '');
  t.equal(heads.length, 2);
  for (const h of heads) t.ok(h.endsWith(`\r\n${hsts.slice(0, -2)}`), `the header rule's line ends the head: ${JSON.stringify(h.slice(-60))}`);
  t.match(heads[0], /\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\n/, 'the prepared response, with the line in it');
  t.same(p.access.map((a) => [a.path, a.status, a.bytes]), [['/fast', 200, 4], ['/other', 200, 4]], 'body bytes counted, as on plain HTTP');
});

t.test('the listener a connection was made by is in its access records and picks its counters', async (t) => {
  const counters = new RequestCounters(['http', 'https']);
  const p = await pair(t, () => text('x'), { counters }, { name: 'https', tls: 'TLSv1.3' });
  p.client.write(get('/a') + 'GET / HTTP/1.1\r\nBad Header\r\n\r\n');
  t.ok(await p.closedWithin(), 'answered, then refused and closed');
  t.same(p.access.map((a) => [a.status, a.listener, a.tls]), [[200, 'https', 'TLSv1.3'], [400, 'https', 'TLSv1.3']], 'both the answer and the refusal');
  t.same([counters.requests.slice(0, 20).reduce((a, b) => a + b), counters.requests.slice(20).reduce((a, b) => a + b)], [0, 2], 'counted in the https slots only');
  const q = await pair(t, () => text('y'));
  q.client.write(get('/b', 'Connection: close\r\n'));
  t.ok(await q.closedWithin());
  t.same(q.access.map((a) => [a.listener, a.tls]), [['http', undefined]], 'plain HTTP: no TLS version');
});

t.test('pipelining: answers in request order, an asynchronous reply holding back the next', async (t) => {
  const p = await pair(t, (req) => (req.path === '/slow' ? new Promise((r) => setTimeout(() => r(text('slow')), 100)) : text(req.path)));
  p.client.write(get('/one') + get('/slow') + get('/three'));
  t.ok(await until(() => p.received().endsWith('/three')));
  const raw = p.received();
  t.ok(raw.indexOf('/one') < raw.indexOf('slow') && raw.indexOf('slow') < raw.indexOf('/three'), 'in order');
  t.same(statuses(raw), [200, 200, 200]);
});

t.test('HTTP/1.0 without keep-alive, and Connection: close, end the connection after the answer', async (t) => {
  const p = await pair(t, () => text('x'));
  p.client.write('GET /old HTTP/1.0\r\n\r\n');
  t.ok(await p.closedWithin(), 'the connection closed');
  t.match(p.received(), /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n\r\nx$/);
  const q = await pair(t, () => text('y'));
  q.client.write(get('/', 'Connection: close\r\n') + get('/never'));
  t.ok(await q.closedWithin(), 'the connection closed');
  t.equal(q.handled.length, 1, 'nothing after the request that said close');
  t.match(q.received(), 'Connection: close\r\n');
  const k = await pair(t, () => text('z'));
  k.client.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  t.ok(await until(() => k.received().endsWith('z')));
  t.match(k.received(), 'Connection: keep-alive\r\n', 'HTTP/1.0 keep-alive is announced');
});

t.test('a head the parser refuses: the error page, then close; a handler that throws: 500, then close', async (t) => {
  const p = await pair(t, () => text('never'));
  p.client.write('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
  t.ok(await p.closedWithin(), 'the connection closed');
  t.match(p.received(), /^HTTP\/1\.1 400 Bad Request\r\n[^]*Cache-Control: no-store\r\n[^]*Connection: close\r\n\r\n<!doctype html>/);
  t.equal(p.handled.length, 0);
  t.same(p.access.map((a) => [a.method, a.path, a.protocol, a.status, a.completed]), [['GET', '/', 'HTTP/1.1', 400, true]], 'a valid request line is logged as sent');
  const bad = await pair(t, () => text('never'));
  bad.client.write('GET / HTTP/1.1 x\r\nHost: x\r\n\r\n');
  t.ok(await bad.closedWithin(), 'the connection closed');
  t.same(bad.access.map((a) => [a.method, a.path, a.protocol, a.status]), [['-', '-', '-', 400]], 'a bad request line is not');
  const q = await pair(t, () => {
    throw new Error('boom');
  });
  q.client.write(get('/'));
  t.ok(await q.closedWithin(), 'the connection closed');
  t.match(q.received(), /^HTTP\/1\.1 500 Internal Server Error\r\n[^]*Connection: close\r\n/);
  t.same(q.errors, ['handler failed']);
  const r = await pair(t, () => Promise.reject(new Error('async boom')));
  r.client.write(get('/'));
  t.ok(await r.closedWithin(), 'the connection closed');
  t.same(statuses(r.received()), [500]);
});

t.test('backpressure: pipelined requests wait while a client does not read', async (t) => {
  const big = Buffer.alloc(4 * 1024 * 1024, 0x61);
  const p = await pair(t, () => okReply(`Content-Length: ${big.length}\r\n`, big));
  p.client.pause();
  p.client.write(get('/1') + get('/2') + get('/3') + get('/4'));
  await until(() => p.handled.length >= 1);
  await new Promise((r) => setTimeout(r, 300));
  t.ok(p.handled.length < 4, `not every request is answered into memory (${p.handled.length} of 4)`);
  p.client.resume();
  t.ok(await until(() => p.handled.length === 4 && p.received().length >= 4 * big.length, 10_000), 'all answered once the client reads');
  t.same(statuses(p.received()), [200, 200, 200, 200]);
});

t.test('drain: an idle connection closes at once; a busy one finishes with Connection: close', async (t) => {
  const p = await pair(t, () => text('x'));
  p.client.write(get('/'));
  t.ok(await until(() => p.received().endsWith('x')));
  p.conn.drain();
  t.ok(await p.closedWithin(1000), 'the idle connection closed at once');
  let release!: () => void;
  const q = await pair(t, () => new Promise<Reply>((r) => (release = () => r(text('late')))));
  q.client.write(get('/'));
  t.ok(await until(() => q.handled.length === 1));
  q.conn.drain();
  release();
  t.ok(await q.closedWithin(), 'the connection closed');
  t.match(q.received(), /Connection: close\r\n\r\nlate$/);
});
