// The drain over TLS (src/http/connection.ts, src/process/https.ts): SIGTERM during a large
// download lets it finish byte-exact and the server exits 0; an idle keep-alive TLS connection
// is closed cleanly, with a close_notify alert before the FIN (seen on the wire: the client's
// TLS records are recorded as they arrive), so the client sees a clean end, not a truncation.
import crypto from 'node:crypto';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import t from 'tap';
import { makeSite, startServer, type LogLine, type Server } from '../fixtures/server';
import { makeTestPki, opensslSkip, type TestPki } from '../fixtures/tls';
import { sha256 } from '../fixtures/wire';

const LARGE = crypto.randomBytes(32 * 1024 * 1024);
const isDraining = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('draining:');

/** A TLS record as it arrived: its content type (21 alert, 23 application data) and length. */
interface RecordSeen {
  type: number;
  length: number;
}

/**
 * A TLS client over a TCP socket whose bytes from the server are split into TLS records as
 * they arrive: what the server sent last (a close_notify alert, or nothing) can be seen.
 */
function recordingClient(port: number, pki: TestPki, version: tls.SecureVersion): { client: tls.TLSSocket; records: RecordSeen[]; tcp: net.Socket } {
  const tcp = net.connect(port, '127.0.0.1');
  const records: RecordSeen[] = [];
  let pending = Buffer.alloc(0);
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      tcp.write(chunk, done);
    },
    final(done) {
      tcp.end();
      done();
    },
    destroy(err, done) {
      tcp.destroy();
      done(err);
    },
  });
  tcp.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt16BE(3)) {
      records.push({ type: pending[0]!, length: pending.readUInt16BE(3) });
      pending = pending.subarray(5 + pending.readUInt16BE(3));
    }
    wire.push(d);
  });
  tcp.on('end', () => wire.push(null));
  tcp.on('error', (err) => wire.destroy(err));
  const client = tls.connect({ socket: wire, ca: pki.caPem, servername: 'localhost', minVersion: version, maxVersion: version });
  return { client, records, tcp };
}

/** Sends GET `path` and resolves with the whole first response (Content-Length framed), the socket left open. */
function getOne(client: tls.TLSSocket, path: string): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
      if (buf.length < end + 4 + length) return;
      client.off('data', onData);
      resolve({ head, body: buf.subarray(end + 4, end + 4 + length) });
    };
    client.on('data', onData);
    client.once('error', reject);
    client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

/**
 * How the client saw the connection end: 'end' (a clean end) and any error on the way, once
 * the TCP connection under it has closed (the TLS socket over a Duplex never emits 'close').
 */
function ending(c: { client: tls.TLSSocket; tcp: net.Socket }): Promise<{ ended: boolean; error: string | null }> {
  return new Promise((resolve) => {
    let ended = false;
    let error: string | null = null;
    c.client.on('end', () => (ended = true));
    c.client.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    c.tcp.on('close', () => setImmediate(() => resolve({ ended, error })));
  });
}

async function tlsServer(t: Parameters<typeof startServer>[0], pki: TestPki, workers: number): Promise<Server> {
  const root = makeSite(t, { 'large.bin': LARGE, 'small.txt': 'small\n' });
  return startServer(t, { root, workers, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key] });
}

t.test('TLS drain', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);

  await t.test('SIGTERM during a large download over TLS: it finishes byte-exact, idle TLS clients get close_notify, exit 0', async (t) => {
    const s = await tlsServer(t, pki, 1);
    // Two idle keep-alive connections, one per version, each after a whole response.
    const idle = (['TLSv1.2', 'TLSv1.3'] as const).map((v) => ({ v, ...recordingClient(s.port, pki, v) }));
    t.teardown(() => idle.forEach((c) => c.client.destroy()));
    for (const c of idle) t.equal((await getOne(c.client, '/small.txt')).body.toString(), 'small\n', `${c.v}: answered, kept alive`);
    const ends = idle.map(ending);

    const download = tls.connect({ port: s.port, host: '127.0.0.1', ca: pki.caPem, servername: 'localhost' });
    t.teardown(() => download.destroy());
    const chunks: Buffer[] = [];
    let received = 0;
    const first = new Promise<void>((resolve) => download.once('data', () => resolve()));
    download.on('data', (d: Buffer) => {
      chunks.push(d);
      received += d.length;
    });
    const closed = new Promise<void>((resolve) => download.on('close', () => resolve()));
    download.write('GET /large.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await first;
    // Reading nothing more until the drain has begun: the body is still on its way then.
    download.pause();
    process.kill(s.pid, 'SIGTERM');
    await s.waitForLog(isDraining, 5000);
    t.ok(received < LARGE.length, `the download was under way when the drain began (${received} of ${LARGE.length} bytes)`);
    download.resume();
    await closed;
    const all = Buffer.concat(chunks);
    const end = all.indexOf('\r\n\r\n');
    const head = all.subarray(0, end).toString('latin1');
    t.match(head, /^HTTP\/1\.1 200 OK\r\n/, '200');
    t.notMatch(head, /\r\nConnection:/i, 'its head was written before the drain (no Connection: close), and the server closed after its body');
    const body = all.subarray(end + 4);
    t.equal(body.length, LARGE.length, 'every byte');
    t.equal(sha256(body), sha256(LARGE), 'byte-exact (sha256)');

    const exit = await s.exited(10_000);
    t.same(exit, { code: 0, signal: null }, 'exit code 0');
    for (const [i, c] of idle.entries()) {
      const seen = await ends[i]!;
      t.same(seen, { ended: true, error: null }, `${c.v}: the idle client saw a clean end, no error`);
      const last = c.records.at(-1);
      // TLS 1.2 sends the alert under its own record type; TLS 1.3 encrypts it as application
      // data: 2 bytes of alert, its inner type and the 16-byte AEAD tag make 19.
      if (c.v === 'TLSv1.2') t.equal(last?.type, 21, 'TLSv1.2: the last record is an alert (close_notify)');
      else t.same(last, { type: 23, length: 19 }, 'TLSv1.3: the last record is a 19-byte one (close_notify)');
    }
    const drained = s.logs.find(isDraining)!;
    t.match(drained.msg, /^draining: 3 open connections, 2 idle closed now$/, 'two idle closed at once, the download left to finish');
  });

  await t.test('single process (--workers 0): an idle TLS client gets close_notify on SIGTERM; a socket that never sent a ClientHello is closed after a short grace; exit 0', async (t) => {
    const s = await tlsServer(t, pki, 0);
    const c = recordingClient(s.port, pki, 'TLSv1.2');
    t.teardown(() => c.client.destroy());
    t.equal((await getOne(c.client, '/small.txt')).body.toString(), 'small\n');
    const end = ending(c);
    // Connected, silent: no handshake to wait for (it would hold the drain for the handshake timeout).
    const silent = net.connect(s.port, '127.0.0.1');
    t.teardown(() => silent.destroy());
    await new Promise((resolve) => silent.once('connect', resolve));
    const silentClosed = new Promise<number>((resolve) => {
      silent.on('error', () => undefined);
      silent.once('close', () => resolve(performance.now()));
    });
    const stoppedAt = performance.now();
    process.kill(s.pid, 'SIGTERM');
    t.same(await end, { ended: true, error: null }, 'a clean end');
    t.equal(c.records.at(-1)?.type, 21, 'close_notify last');
    const silentMs = (await silentClosed) - stoppedAt;
    // The grace is 250 ms (from the accept); the handshake timeout (headersTimeoutMs) is 10 s.
    t.ok(silentMs < 1000, `the silent socket was closed by the drain in ${Math.round(silentMs)} ms`);
    t.same(await s.exited(10_000), { code: 0, signal: null }, 'exit code 0');
    t.match(s.logs.find(isDraining)!.msg, /^draining: 2 open connections, 1 idle closed now$/, 'the silent socket is not idle: it may be a handshake on its way');
  });
});
