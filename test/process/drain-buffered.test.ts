// A cached body is handed to the socket in one write and may take a while to leave it.
// A drain must let it leave: the connection is not idle until the client has it. (On
// loopback the kernel absorbs up to a few MiB, so this needs a body larger than that.)
import crypto from 'node:crypto';
import net from 'node:net';
import t from 'tap';
import { makeSite, req, startServer } from '../fixtures/server';

t.test('SIGTERM while a slow client reads a cached 24 MiB body: the body arrives whole, exit 0', async (t) => {
  const body = crypto.randomBytes(24 * 1024 * 1024); // more than loopback's socket buffers hold
  const root = makeSite(t, { 'big.bin': body });
  const s = await startServer(t, { root, args: ['--cache-max-file-bytes', String(32 * 1024 * 1024), '--cache-max-bytes', String(64 * 1024 * 1024)] });
  // Warm the cache so the answer is the synchronous in-memory path.
  await new Promise<void>((resolve) => {
    const w = net.connect(s.port, '127.0.0.1', () => w.end(req('/big.bin')));
    w.resume();
    w.on('close', () => resolve());
  });
  await s.waitForLog((l) => l.kind === 'access' && l.path === '/big.bin', 3000);

  const sock = net.connect(s.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  const chunks: Buffer[] = [];
  let got = 0;
  let stopped = false;
  const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
  await new Promise<void>((resolve) => sock.on('connect', resolve));
  sock.write(req('/big.bin'));
  // Read the first bytes, then stop reading so most of the response waits in the server.
  await new Promise<void>((resolve) =>
    sock.on('data', (d) => {
      chunks.push(d);
      got += d.length;
      if (got > 32 * 1024 && !stopped) {
        stopped = true;
        sock.pause();
        resolve();
      }
    }),
  );
  process.kill(s.pid, 'SIGTERM');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining:'), 3000);
  await new Promise((r) => setTimeout(r, 100)); // the drain has had its chance to cut us (a wrong cut comes at once)
  sock.resume();
  await closed;
  const all = Buffer.concat(chunks);
  const split = all.indexOf('\r\n\r\n');
  t.match(all.subarray(0, split).toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/, 'a 200');
  t.equal(all.length - split - 4, body.length, 'every byte of the body arrived');
  t.ok(all.subarray(split + 4).equals(body), 'and they are the right bytes');
  const { code } = await s.exited();
  t.equal(code, 0, 'clean drain: exit 0');
});
