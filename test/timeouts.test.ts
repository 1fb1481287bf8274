// A client that asks for a large file and then stops reading must not hold a worker's
// connection forever: after sendTimeoutMs without progress the connection is dropped.
import net from 'node:net';
import t from 'tap';
import { makeSite, rawExchange, req, startServer } from './fixtures/server';

t.test('a stalled reader is dropped after sendTimeoutMs, and the worker goes on serving', async (t) => {
  const root = makeSite(t, { 'big.bin': Buffer.alloc(32 * 1024 * 1024, 7), 'index.html': 'ok\n' });
  const s = await startServer(t, { root, args: ['--send-timeout-ms', '400', '--cache-max-file-bytes', '1024'] });
  const sock = net.connect(s.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  let received = 0;
  await new Promise<void>((resolve) => sock.on('connect', resolve));
  sock.write(req('/big.bin'));
  // Read a little, then stop: the kernel buffers fill and the server's writes stall.
  await new Promise<void>((resolve) =>
    sock.on('data', (d) => {
      received += d.length;
      if (received > 64 * 1024) {
        sock.pause();
        resolve();
      }
    }),
  );
  const started = Date.now();
  const line = await s.waitForLog((l) => l.msg === 'send timeout', 5000);
  const waited = Date.now() - started;
  t.ok(waited >= 300 && waited < 5000, `dropped after ${waited} ms of no progress (timeout 400 ms)`);
  t.equal(line.level, 40, 'logged as a warning');
  const access = await s.waitForLog((l) => l.kind === 'access' && l.path === '/big.bin', 3000);
  t.equal(access.bytes, -1, 'the access line says the body was cut');
  const { data } = await rawExchange(s.port, req('/index.html', 'Connection: close\r\n'));
  t.match(data.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/, 'the worker still serves');
});
