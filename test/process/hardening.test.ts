// Hostile and sloppy clients on the wire: a stray CRLF after a request, invalid Host values,
// request-targets not of their method's form, and clients that reset mid-body.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { makeSite, parseResponses, rawExchange, req, startServer, type Server } from '../fixtures/server';
import { Client, sleep } from '../fixtures/wire';

let s: Server;

t.before(async () => {
  const root = makeSite(t, { 't1.html': '<p>t1</p>\n' });
  const fd = fs.openSync(path.join(root, 'big.bin'), 'w');
  fs.ftruncateSync(fd, 32 * 1024 * 1024);
  fs.closeSync(fd);
  s = await startServer(t, { root, args: ['--headers-timeout-ms', '250', '--keep-alive-timeout-ms', '1000', '--cache-max-file-bytes', '1024'] });
});

t.test('a stray CRLF after a request is ignored: no 408, the connection stays idle', async (t) => {
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  c.write('GET /t1.html HTTP/1.1\r\nHost: a\r\n\r\n\r\n');
  await c.waitFor((d) => d.includes('<p>t1</p>\n'), 2000, 'the 200');
  // Past the headers timeout (250 ms; twice it), well before the keep-alive timeout (1000 ms).
  await sleep(500);
  t.notOk(c.closed, 'still open after the headers timeout');
  t.equal(c.data().toString('latin1').match(/HTTP\/1\.1 /g)?.length, 1, 'exactly one response, no 408');
  // The connection is idle, not in the middle of a head: the next request is answered.
  c.write('\r\nGET /t1.html HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.waitFor((d) => d.toString('latin1').match(/HTTP\/1\.1 200 /g)?.length === 2, 2000, 'the second 200');
  t.pass('a request after the stray CRLF (and one more leading CRLF) is answered');
});

t.test('a bare CRLF alone on a new connection does not start the headers timer', async (t) => {
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  c.write('\r\n');
  await sleep(500); // twice the headers timeout, half the keep-alive timeout
  t.notOk(c.closed, 'still open after the headers timeout');
  t.equal(c.data().length, 0, 'nothing sent');
  t.ok(await c.waitClosed(2000), 'closed by the keep-alive timeout');
  t.equal(c.data().length, 0, 'silently, as an idle connection');
});

t.test('a stray CRLF does not hide a slow head after it: 408 still comes', async (t) => {
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  c.write('\r\nGET /t1.html HTTP/1.1\r\n');
  await c.waitFor((d) => d.includes('408'), 1500, 'the 408');
  t.ok(await c.waitClosed(1500), 'then closed');
});

t.test('invalid Host values → 400 and close', async (t) => {
  for (const host of ['', 'localhost:abc', '[::1', '[::1]x', 'a b', 'user@host', 'a:1:2', ':80']) {
    const r = await rawExchange(s.port, `GET /t1.html HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    const [res] = parseResponses(r.data);
    t.equal(res?.status, 400, `Host ${JSON.stringify(host)} → 400`);
    t.equal(res?.headers.connection, 'close', `Host ${JSON.stringify(host)} → Connection: close`);
    t.ok(r.closed, `Host ${JSON.stringify(host)} → closed`);
  }
  for (const host of ['localhost', 'localhost:8080', '[::1]', '[::1]:80', '127.0.0.1:1']) {
    const r = await rawExchange(s.port, `GET /t1.html HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    t.equal(parseResponses(r.data)[0]?.status, 200, `Host ${JSON.stringify(host)} → 200`);
  }
  const r10 = await rawExchange(s.port, 'GET /t1.html HTTP/1.0\r\n\r\n');
  t.equal(parseResponses(r10.data)[0]?.status, 200, 'HTTP/1.0 without Host → 200');
});

t.test('a request-target not of its method\'s form → 400 and close', async (t) => {
  for (const line of ['CONNECT /t1.html HTTP/1.1', 'CONNECT example.com:443 HTTP/1.1', 'GET * HTTP/1.1', 'DELETE * HTTP/1.1', 'GET example.com:80 HTTP/1.1']) {
    const r = await rawExchange(s.port, `${line}\r\nHost: a\r\n\r\nGET /t1.html HTTP/1.1\r\nHost: a\r\n\r\n`);
    const res = parseResponses(r.data);
    t.equal(res[0]?.status, 400, `${line} → 400`);
    t.equal(res.length, 1, `${line}: the pipelined request behind it is not answered`);
    t.ok(r.closed, `${line}: the connection is closed`);
  }
  const ok = await rawExchange(s.port, 'OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  t.equal(parseResponses(ok.data)[0]?.status, 204, 'OPTIONS * → 204');
});

t.test('clients that reset mid-body: one access line each, no warning', async (t) => {
  const before = s.logs.length;
  const N = 20;
  await Promise.all(
    Array.from({ length: N }, async () => {
      const sock = net.connect(s.port, '127.0.0.1');
      sock.on('error', () => {});
      await new Promise<void>((resolve) => sock.on('connect', resolve));
      // The request, then 1 MiB the server will not read while it streams (its socket is
      // paused): its read side stops, so the reset shows on the body's writes (write
      // ECONNRESET / EPIPE), the path that used to log a warning.
      sock.write(req('/big.bin') + 'x'.repeat(1024 * 1024));
      await new Promise<void>((resolve) => {
        let got = 0;
        sock.on('data', (d) => {
          got += d.length;
          if (got > 1024 * 1024) resolve();
        });
      });
      // Stop reading first so the server's writes are queued when the reset arrives.
      sock.pause();
      await sleep(100);
      sock.resetAndDestroy(); // RST, not FIN
    }),
  );
  const deadline = Date.now() + 5000;
  const cut = () =>
    s.logs.slice(before).filter((l) => l.kind === 'access' && l.path === '/big.bin' && l.completed === false && l.reason === 'client-closed' && (l.bytes as number) > 0).length;
  await s.waitForLog(() => cut() >= N, Math.max(0, deadline - Date.now())).catch(() => undefined);
  await sleep(200); // no line more (nor a warning) after them
  t.equal(cut(), N, `${N} access lines saying the client closed, with the bytes sent`);
  const warnings = s.logs.slice(before).filter((l) => l.level >= 40);
  t.same(warnings.map((l) => l.msg), [], 'no warning or error lines');
});
