// The access log tells the truth about responses that did not complete: one line per answered
// request, also when the client resets mid-body, leaves during the lookup (499), or the drain
// deadline or a second stop signal cuts the download; `bytes` is what the kernel accepted,
// and the metrics count the same bytes. Also: a refused head with a valid request line (a PUT
// with a body) is logged with what it asked for.
import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import { makeSite, rawExchange, startServer, type LogLine, type Server } from '../fixtures/server';
import { bigBuffer, Download, freePort, sleep } from '../fixtures/wire';
import { scrape, valueOf } from '../fixtures/ops';

const MiB = 1024 * 1024;
/** Streamed from disk (larger than --cache-max-file-bytes below) and far more than loopback's socket buffers hold. */
const BIG = bigBuffer(32 * MiB);
/** Served from memory in one write, also more than the socket buffers hold. */
const CACHED = bigBuffer(24 * MiB);
const CACHE_ARGS = ['--cache-max-file-bytes', String(25 * MiB), '--cache-max-bytes', String(64 * MiB)];
/** Enough entries that listing the directory takes a while (one stat after the other). */
const LISTED_FILES = 3000;

let root: string;
t.before(() => {
  const files: Record<string, string | Buffer> = { 'big.bin': BIG, 'cached.bin': CACHED, 'a.txt': 'a\n' };
  for (let i = 0; i < LISTED_FILES; i++) files[`many/f${i}.txt`] = '';
  root = makeSite(t, files);
});

const accessFor = (s: Server, path: string) => s.logs.filter((l) => l.kind === 'access' && l.path === path);
const waitAccess = (s: Server, path: string, timeoutMs = 10_000) => s.waitForLog((l) => l.kind === 'access' && l.path === path, timeoutMs);
const bodyBytesMetric = async (metricsPort: number) => valueOf(await scrape(metricsPort), 'fleetserve_http_response_body_bytes_total', { listener: 'http' });

/**
 * Starts a download, reads `first` body bytes, stops reading and gives the server a moment to
 * fill the socket buffers of both ends (no event says when its writes stall; 200 ms is far
 * more than loopback needs), so that the server's writes wait on the socket when the test acts.
 */
async function stalledDownload(t: Test, port: number, path: string, first = MiB): Promise<Download> {
  const d = await Download.start(port, path);
  t.teardown(() => d.destroy());
  t.ok(await d.waitBody(first, 10_000), `${path}: the download started`);
  d.pause();
  await sleep(200);
  return d;
}

/** Reads what the kernel still holds for the client after the server closed; resolves with the body bytes received in all. */
async function drainClient(d: Download): Promise<number> {
  d.resume();
  await d.waitClosed(10_000);
  return d.bodyBytes;
}

t.test('one server, several clients', async (t) => {
  const metricsPort = await freePort();
  const s = await startServer(t, { root, args: [...CACHE_ARGS, '--listing', 'true', '--keep-alive-timeout-ms', '30000', '--metrics-port', String(metricsPort)] });

  t.test('a complete download: bytes = the file size, completed', async (t) => {
    const before = await bodyBytesMetric(metricsPort);
    const d = await Download.start(s.port, '/big.bin?whole');
    t.teardown(() => d.destroy());
    t.ok(await d.waitBody(BIG.length, 30_000), 'the whole body arrived');
    const line = await waitAccess(s, '/big.bin?whole');
    t.match(line, { method: 'GET', status: 200, bytes: BIG.length, completed: true });
    t.notOk('reason' in line, 'no reason on a complete line');
    t.equal((await bodyBytesMetric(metricsPort)) - before, BIG.length, 'the metrics count the same bytes');
  });

  t.test('a client that resets mid-download: one line, status 200, the bytes the kernel took, incomplete', async (t) => {
    const before = await bodyBytesMetric(metricsPort);
    const d = await stalledDownload(t, s.port, '/big.bin?reset');
    const received = d.bodyBytes;
    d.sock.resetAndDestroy();
    const line = await waitAccess(s, '/big.bin?reset');
    t.match(line, { method: 'GET', status: 200, completed: false, reason: 'client-closed' }, 'the status sent, and why it did not complete');
    const bytes = line.bytes as number;
    t.ok(bytes >= received, `at least what the client read (${bytes} >= ${received}): the kernel took those and more`);
    t.ok(bytes < BIG.length, `less than the file (${bytes} < ${BIG.length})`);
    t.equal((await bodyBytesMetric(metricsPort)) - before, bytes, 'the metrics count the same bytes');
    await sleep(300);
    t.equal(accessFor(s, '/big.bin?reset').length, 1, 'exactly one line');
  });

  t.test('a body served from memory, reset mid-way: counted from the socket, not the planned length', async (t) => {
    const d = await stalledDownload(t, s.port, '/cached.bin?reset');
    const received = d.bodyBytes;
    d.sock.resetAndDestroy();
    const line = await waitAccess(s, '/cached.bin?reset');
    t.match(line, { status: 200, completed: false, reason: 'client-closed' });
    const bytes = line.bytes as number;
    t.ok(bytes >= received && bytes < CACHED.length, `${received} <= ${bytes} < ${CACHED.length}`);
  });

  t.test('a client gone during a slow lookup: 499, no bytes, logged once', async (t) => {
    const sock = net.connect(s.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((resolve) => sock.on('connect', resolve));
    // The request, and right behind it a reset: the server reads both before the listing
    // of LISTED_FILES entries is ready, so no head is ever written.
    sock.write('GET /many/ HTTP/1.1\r\nHost: localhost\r\nUser-Agent: gone/1\r\n\r\n');
    sock.resetAndDestroy();
    const line = await waitAccess(s, '/many/');
    t.match(line, { method: 'GET', status: 499, bytes: 0, completed: false, reason: 'client-closed', userAgent: 'gone/1' });
    // Once the listing is ready (a later request for it is answered), no second line came for the first.
    const { data } = await rawExchange(s.port, 'GET /many/?again HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { timeoutMs: 10_000 });
    t.match(data.toString('latin1'), /^HTTP\/1\.1 200 /, 'the listing itself works');
    await waitAccess(s, '/many/?again');
    t.equal(accessFor(s, '/many/').length, 1, 'exactly one line for the request whose client left');
  });

  t.test('a refused head with a valid request line is logged with what it asked for', async (t) => {
    const { data } = await rawExchange(
      s.port,
      'PUT /upload.txt?x=1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: put-test/1.0\r\nReferer: http://example.com/form\r\nContent-Length: 5\r\n\r\nhello',
    );
    t.match(data.toString('latin1'), /^HTTP\/1\.1 413 /);
    const put = await waitAccess(s, '/upload.txt?x=1');
    t.match(put, { method: 'PUT', protocol: 'HTTP/1.1', status: 413, completed: true, referer: 'http://example.com/form', userAgent: 'put-test/1.0' });
    await rawExchange(s.port, 'POST /form HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    t.match(await waitAccess(s, '/form'), { method: 'POST', protocol: 'HTTP/1.0', status: 400 });
    // A request line that is not one: nothing of it is logged as if it were.
    const before = s.logs.length;
    await rawExchange(s.port, 'PUT /x HTTP/1.1 extra\r\nHost: localhost\r\n\r\n');
    const bad = await s.waitForLog((l) => l.kind === 'access' && s.logs.indexOf(l) >= before && l.status === 400);
    t.match(bad, { method: '-', path: '-', protocol: '-' });
  });
});

/** One server with a download stalled mid-body, stopped by `stop`: its one line says how it was cut and what the client got. */
async function cutDownload(t: Test, args: string[], stop: (s: Server) => Promise<void>, exitCode: number, reason: string, workers = 1): Promise<void> {
  const s = await startServer(t, { root, workers, args: [...CACHE_ARGS, '--keep-alive-timeout-ms', '30000', ...args] });
  const d = await stalledDownload(t, s.port, '/big.bin');
  await stop(s);
  const r = await s.exited(10_000);
  t.same(r, { code: exitCode, signal: null }, `exit code ${exitCode}`);
  const lines = accessFor(s, '/big.bin');
  t.equal(lines.length, 1, 'exactly one line for the download, written before the exit');
  const line: LogLine | undefined = lines[0];
  t.match(line, { method: 'GET', status: 200, completed: false, reason });
  const bytes = line?.bytes as number;
  t.ok(bytes > 0 && bytes < BIG.length, `part of the body (${bytes} of ${BIG.length})`);
  // A cut closes the socket: the kernel still delivers what it had accepted, and nothing more.
  t.equal(await drainClient(d), bytes, 'bytes is exactly what the client got in the end');
}

t.test('the drain deadline cuts a slow download: its line, with its bytes, and exit 1', (t) =>
  cutDownload(
    t,
    ['--drain-timeout-ms', '500'],
    async (s) => {
      process.kill(s.pid, 'SIGTERM');
    },
    1,
    'drain-deadline',
  ),
);

t.test('a second Ctrl+C during a download: its line too, and exit 130', (t) =>
  cutDownload(
    t,
    ['--drain-timeout-ms', '20000'],
    async (s) => {
      s.signalGroup('SIGINT');
      await s.waitForLog((l) => typeof l.worker === 'number' && typeof l.msg === 'string' && l.msg.startsWith('draining:'), 5000);
      s.signalGroup('SIGINT');
    },
    130,
    'forced',
  ),
);

t.test('a second SIGTERM to the primary alone (Docker, systemd): the workers still log what they cut', (t) =>
  cutDownload(
    t,
    ['--drain-timeout-ms', '20000'],
    async (s) => {
      process.kill(s.pid, 'SIGTERM');
      await s.waitForLog((l) => typeof l.worker === 'number' && typeof l.msg === 'string' && l.msg.startsWith('draining:'), 5000);
      process.kill(s.pid, 'SIGTERM');
    },
    130,
    'forced',
  ),
);

t.test('workers 0: a second Ctrl+C logs the cut download before the process exits', (t) =>
  cutDownload(
    t,
    ['--drain-timeout-ms', '20000'],
    async (s) => {
      s.signalGroup('SIGINT');
      await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining:'), 5000);
      s.signalGroup('SIGINT');
    },
    130,
    'forced',
    0,
  ),
);
