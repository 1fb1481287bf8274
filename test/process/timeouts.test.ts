// A client that asks for a large file and then stops reading must not hold a worker's
// connection forever: after sendTimeoutMs without progress the connection is dropped — after
// sendTimeoutMs, not twice that (Node's own socket timer skips one firing while a write is
// queued, which is why the server measures write progress itself).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { makeSite, rawExchange, req, startServer } from '../fixtures/server';

const SEND_TIMEOUT_MS = 1000;
/** What the drop may be late by: filling the kernel buffers after the pause, two watch ticks, scheduling. */
const SLACK_MS = SEND_TIMEOUT_MS / 4;

t.test('a stalled reader is dropped within 25% after sendTimeoutMs, and the worker goes on serving', async (t) => {
  const root = makeSite(t, { 'index.html': 'ok\n' });
  // 100 MiB, sparse: instant to create, read from the page cache as zeros; far more than the
  // socket buffers of both ends can hold, so the server's writes stall soon after the pause.
  const fd = fs.openSync(path.join(root, 'big.bin'), 'w');
  fs.ftruncateSync(fd, 100 * 1024 * 1024);
  fs.closeSync(fd);
  const s = await startServer(t, { root, args: ['--send-timeout-ms', String(SEND_TIMEOUT_MS), '--cache-max-file-bytes', '1024'] });
  const sock = net.connect(s.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  sock.on('error', () => {});
  let received = 0;
  await new Promise<void>((resolve) => sock.on('connect', resolve));
  sock.write(req('/big.bin'));
  // Read 1 MiB, then stop: the kernel buffers fill (a few MiB on loopback, milliseconds) and
  // the server's writes make no more progress.
  // Bounded: a server that never sends the first MiB fails here, not at tap's timeout.
  const pausedAt = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received} bytes of /big.bin within 10 s; the server logged: ${JSON.stringify(s.logs.slice(1))}; flowing: ${String(sock.readableFlowing)} ${sock.bytesRead}`)), 10_000);
    sock.on('data', (d) => {
      received += d.length;
      if (received > 1024 * 1024 && !sock.isPaused()) {
        sock.pause();
        clearTimeout(timer);
        resolve(Date.now());
      }
    });
  });
  const line = await s.waitForLog((l) => l.msg === 'send timeout', SEND_TIMEOUT_MS * 4);
  const waited = new Date(line.time as string | number).getTime() - pausedAt;
  t.ok(
    waited >= SEND_TIMEOUT_MS && waited <= SEND_TIMEOUT_MS + SLACK_MS,
    `dropped ${waited} ms after the client stopped reading (want ${SEND_TIMEOUT_MS}–${SEND_TIMEOUT_MS + SLACK_MS})`,
  );
  t.equal(line.level, 40, 'logged as a warning');
  const access = await s.waitForLog((l) => l.kind === 'access' && l.path === '/big.bin', 3000);
  t.match(access, { status: 200, completed: false, reason: 'send-timeout' }, 'the access line says the body was cut, and why');
  t.ok((access.bytes as number) >= received - 1024 && (access.bytes as number) < 100 * 1024 * 1024, `with the bytes sent (${access.bytes}; the client read ${received} with the head)`);
  t.equal(s.logs.filter((l) => l.msg === 'body stream failed').length, 0, 'the cut body is not logged as a failure of ours');
  const { data } = await rawExchange(s.port, req('/index.html', 'Connection: close\r\n'));
  t.match(data.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/, 'the worker still serves');
});

t.test('a slow reader that keeps reading is not dropped', async (t) => {
  const root = makeSite(t, { 'index.html': 'ok\n' });
  const fd = fs.openSync(path.join(root, 'big.bin'), 'w');
  fs.ftruncateSync(fd, 64 * 1024 * 1024);
  fs.closeSync(fd);
  const s = await startServer(t, { root, args: ['--send-timeout-ms', '600', '--cache-max-file-bytes', '1024'] });
  const sock = net.connect(s.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await new Promise<void>((resolve) => sock.on('connect', resolve));
  sock.write(req('/big.bin', 'Connection: close\r\n'));
  // Read in bursts with pauses of 200 ms (well below the 600 ms timeout) for about 2 s: each
  // burst is progress, so the total time (several timeouts long) must not matter.
  let received = 0;
  sock.on('data', (d) => (received += d.length));
  const stopAt = Date.now() + 2000;
  while (Date.now() < stopAt && !sock.destroyed) {
    sock.pause();
    await new Promise((r) => setTimeout(r, 200));
    sock.resume();
    await new Promise((r) => setTimeout(r, 20));
  }
  sock.resume();
  const closed = await new Promise<boolean>((resolve) => {
    if (sock.destroyed) return resolve(true);
    sock.on('close', () => resolve(true));
    setTimeout(() => resolve(false), 5000);
  });
  t.ok(closed, 'the response ended');
  t.ok(received > 64 * 1024 * 1024, `the whole body arrived (${received} bytes with the head; ${sock.bytesRead} read, flowing ${String(sock.readableFlowing)}, local ${sock.localPort}; ${JSON.stringify(s.logs.slice(1))})`);
  t.equal(s.logs.filter((l) => l.msg === 'send timeout').length, 0, 'no send timeout');
});
