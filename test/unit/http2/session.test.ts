// http2/session.ts over a real HTTP/2 connection on 127.0.0.1 (cleartext here: TLS is the
// listener's business, the session does not see it) with a fake handler: answers, file
// bodies from the owner of descriptors, refusals, a reset mid-body, rapid reset, the drain.
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { H2Session, type FloodCaps } from '../../../src/http2/session';
import type { ConnectionOptions } from '../../../src/http/connection';
import { OpenFile } from '../../../src/files/stream';
import { okReply } from '../../../src/http/respond';
import type { AccessRecord, CutReason, Reply, Request } from '../../../src/http/types';

interface Reported {
  path: string;
  status: number;
  bytes: number;
  reason: CutReason | null;
}

interface Over {
  sendTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  caps?: FloodCaps;
}

async function serve(t: Test, handle: (req: Request) => Reply | Promise<Reply>, over: Over = {}) {
  const reported: Reported[] = [];
  const records: AccessRecord[] = [];
  const sessions: H2Session[] = [];
  const closed: H2Session[] = [];
  const floods: string[] = [];
  const server = net.createServer((socket) => {
    const session = http2.performServerHandshake(socket, { settings: { maxConcurrentStreams: 128 } });
    const opts: ConnectionOptions = {
      keepAliveTimeoutMs: over.keepAliveTimeoutMs ?? 5000,
      headersTimeoutMs: 5000,
      sendTimeoutMs: over.sendTimeoutMs ?? 5000,
      handle,
      listenerHeaders: 'Strict-Transport-Security: max-age=60\r\n',
      onAccess: (r) => {
        records.push(r);
        reported.push({ path: r.path, status: r.status, bytes: r.bytes, reason: r.reason });
      },
      counters: null,
      onError: () => undefined,
    };
    const h2 = { scheme: 'http' as const, caps: over.caps ?? { windowMs: 10_000, resets: 50, pings: 1000, settings: 1000 }, onFlood: (what: string) => floods.push(what) };
    sessions.push(new H2Session(session, opts, h2, { remote: '127.0.0.1', peer: '127.0.0.1', listener: { name: 'http', tls: undefined } }, (s) => closed.push(s)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  client.on('error', () => undefined);
  t.teardown(() => {
    client.destroy();
    for (const s of sessions) s.cut('forced');
    server.close();
  });
  return { client, reported, records, sessions, closed, floods };
}

/** One request's response headers and body (or the stream's reset code). */
function fetch(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; rstCode: number }> {
  return new Promise((resolve) => {
    const req = client.request({ ':scheme': 'http', ...headers });
    let head: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (head = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('close', () => resolve({ headers: head, body: Buffer.concat(chunks), rstCode: req.rstCode ?? 0 }));
    req.end();
  });
}

/** `p`'s value, or 'timed out' after `ms`: a test never waits for tap's own timeout. */
function within<T>(p: Promise<T>, ms = 2000): Promise<T | 'timed out'> {
  return Promise.race([p, new Promise<'timed out'>((r) => setTimeout(() => r('timed out'), ms).unref())]);
}

const text = (s: string) => okReply(`Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(s)}\r\n`, Buffer.from(s));

t.test("a GET gets the reply's status, fields, the listener's lines and the body; HEAD the head only", async (t) => {
  const s = await serve(t, (req) => text(`you asked ${req.path} of ${req.host}`));
  const got = await fetch(s.client, { ':path': '/a?x=1' });
  t.equal(got.headers[':status'], 200);
  t.equal(got.headers['content-type'], 'text/plain');
  t.equal(got.headers['strict-transport-security'], 'max-age=60');
  t.match(got.headers.date, /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
  t.equal(got.body.toString(), `you asked /a of 127.0.0.1:${s.client.socket.remotePort}`);
  const head = await fetch(s.client, { ':path': '/a', ':method': 'HEAD' });
  t.equal(head.headers['content-length'], String(Buffer.byteLength(`you asked /a of 127.0.0.1:${s.client.socket.remotePort}`)));
  t.equal(head.body.length, 0);
  t.same(s.reported.map((r) => [r.path, r.status, r.reason]), [['/a?x=1', 200, null], ['/a', 200, null]]);
  t.match(s.records[0], { method: 'GET', protocol: 'HTTP/2.0', remote: '127.0.0.1', completed: true, bytes: got.body.length });
  t.match(s.records[1], { method: 'HEAD', protocol: 'HTTP/2.0', bytes: 0 });
});

t.test('refused as on HTTP/1.1: a request body 413; a malformed list a stream reset; the session goes on', async (t) => {
  const s = await serve(t, () => text('x'));
  const withBody = await new Promise<number>((resolve) => {
    const req = s.client.request({ ':scheme': 'http', ':path': '/', ':method': 'GET' }, { endStream: false });
    req.on('response', (h) => resolve(Number(h[':status'])));
    req.on('error', () => undefined);
    req.end('a body');
  });
  t.equal(withBody, 413);
  const bad = await fetch(s.client, { ':path': '/', ':scheme': 'https' });
  t.equal(bad.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR, 'a scheme not the listener\'s: PROTOCOL_ERROR');
  const ok = await fetch(s.client, { ':path': '/after' });
  t.equal(ok.body.toString(), 'x', 'the connection still serves');
  t.same(s.reported.map((r) => [r.path, r.status]), [['/', 413], ['-', 400], ['/after', 200]]);
});

t.test('a file body comes from the descriptor byte for byte; a reset mid-body closes the descriptor at once', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'big.bin');
  const bytes = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
  fs.writeFileSync(file, bytes);
  const st = fs.statSync(file);
  const opened: number[] = [];
  const s = await serve(t, async () => {
    const f = await OpenFile.open({ path: file, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev });
    opened.push(f.fd);
    return okReply(`Content-Length: ${bytes.length}\r\n`, { kind: 'file', file: f, start: 0, end: bytes.length });
  });
  const got = await fetch(s.client, { ':path': '/big' });
  t.ok(got.body.equals(bytes), `${got.body.length} bytes, the file's`);
  // Now a client that reads nothing (flow control stops the sender) and resets.
  const req = s.client.request({ ':scheme': 'http', ':path': '/big' });
  req.on('error', () => undefined);
  req.pause();
  await new Promise((r) => req.once('response', r));
  const fd = opened[1]!;
  t.ok(fs.fstatSync(fd), 'open while the body waits for the window');
  req.close(http2.constants.NGHTTP2_CANCEL);
  const deadline = performance.now() + 500;
  let closed = false;
  while (!closed && performance.now() < deadline) {
    try {
      fs.fstatSync(fd);
      await new Promise((r) => setTimeout(r, 5));
    } catch {
      closed = true;
    }
  }
  t.ok(closed, 'the descriptor is closed within 500 ms of the reset');
  t.match(s.reported[1], { path: '/big', status: 200, reason: 'client-closed' });
  t.ok(s.reported[1]!.bytes < bytes.length, 'and its bytes are what was taken, not the planned length');
});

t.test('a body that makes no progress for sendTimeoutMs is cancelled, its descriptor closed', async (t) => {
  const dir = t.testdir({ 'big.bin': Buffer.alloc(4 * 1024 * 1024, 1) });
  const file = path.join(dir, 'big.bin');
  const st = fs.statSync(file);
  const s = await serve(t, async () => okReply(`Content-Length: ${st.size}\r\n`, { kind: 'file', file: await OpenFile.open({ path: file, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev }), start: 0, end: st.size }), { sendTimeoutMs: 150 });
  const req = s.client.request({ ':scheme': 'http', ':path': '/big' });
  req.on('error', () => undefined);
  req.pause();
  await new Promise((r) => req.once('response', r));
  const since = performance.now();
  await new Promise((r) => req.once('close', r));
  const waited = performance.now() - since;
  t.equal(req.rstCode, http2.constants.NGHTTP2_CANCEL, 'cancelled by the server');
  t.ok(waited >= 100 && waited < 300, `after ${Math.round(waited)} ms (sendTimeoutMs 150)`);
  t.match(s.reported[0], { path: '/big', status: 200, reason: 'send-timeout' });
});

t.test('rapid reset: past the cap, GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const s = await serve(t, () => new Promise((r) => setTimeout(() => r(text('late')), 50)), { caps: { windowMs: 10_000, resets: 20, pings: 1000, settings: 1000 } });
  const goaway = new Promise<number>((r) => s.client.once('goaway', (code: number) => r(code)));
  for (let i = 0; i < 40; i++) {
    const req = s.client.request({ ':scheme': 'http', ':path': `/r${i}` });
    req.on('error', () => undefined);
    req.close(http2.constants.NGHTTP2_CANCEL);
  }
  t.equal(await within(goaway), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  t.same(s.floods, ['rapid reset']);
});

t.test('PINGs past the cap end the session the same way; below it they are answered', async (t) => {
  const s = await serve(t, () => text('x'), { caps: { windowMs: 10_000, resets: 1000, pings: 10, settings: 1000 } });
  await new Promise((r) => s.client.once('connect', r));
  for (let i = 0; i < 10; i++) t.ok(await new Promise((r) => s.client.ping((err) => r(err === null))), `ping ${i + 1} answered`);
  const goaway = new Promise<number>((r) => s.client.once('goaway', (code: number) => r(code)));
  s.client.ping(() => undefined);
  t.equal(await within(goaway), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  t.same(s.floods, ['PING flood']);
});

t.test('drain: GOAWAY, the stream under way finishes, then the session closes', async (t) => {
  let release!: () => void;
  const s = await serve(t, () => new Promise((r) => (release = () => r(text('finished')))));
  const pending = fetch(s.client, { ':path': '/slow' });
  while (s.sessions[0] === undefined || s.sessions[0].idle) await new Promise((r) => setTimeout(r, 5));
  const goaway = new Promise<number>((r) => s.client.once('goaway', (code: number) => r(code)));
  s.sessions[0].drain();
  t.equal(await within(goaway), http2.constants.NGHTTP2_NO_ERROR);
  release();
  t.equal((await pending).body.toString(), 'finished');
  const closed = await new Promise<boolean>((r) => {
    const timer = setTimeout(() => r(false), 1000);
    s.client.once('close', () => (clearTimeout(timer), r(true)));
  });
  t.ok(closed, 'the session closed after its last stream');
  t.ok(s.sessions[0].idle);
  // The server side's close may come a moment after the client's.
  const deadline = performance.now() + 1000;
  while (s.closed.length === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.equal(s.closed[0], s.sessions[0], 'and told its listener');
});

t.test('an idle session is closed after keepAliveTimeoutMs, with GOAWAY', async (t) => {
  const s = await serve(t, () => text('x'), { keepAliveTimeoutMs: 150 });
  t.equal((await fetch(s.client, { ':path': '/' })).body.toString(), 'x');
  const since = performance.now();
  const goaway = within(new Promise<number>((r) => s.client.once('goaway', (code: number) => r(code))));
  t.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
  const waited = performance.now() - since;
  t.ok(waited >= 100 && waited < 300, `after ${Math.round(waited)} ms idle (keepAliveTimeoutMs 150)`);
});

t.test('a cut reports the streams under way with its reason before it returns', async (t) => {
  const s = await serve(t, () => new Promise<Reply>(() => undefined));
  const pending = fetch(s.client, { ':path': '/never' });
  while (s.sessions[0] === undefined || s.sessions[0].idle) await new Promise((r) => setTimeout(r, 5));
  s.sessions[0].cut('drain-deadline');
  t.same(s.reported, [{ path: '/never', status: 444, bytes: 0, reason: 'drain-deadline' }], '444: no head was sent, the server cut');
  await pending;
  t.equal(s.reported.length, 1, 'once');
});
