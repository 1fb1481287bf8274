// The health check and the pre-drain: 200 "ok" while serving, 503 + Connection: close once
// a (pre-)drain has begun, never shadowed by a file, and with preDrainDelayMs the health
// check fails at once while everything else is still served for that long. Every server is
// forked from dist/main.js on 127.0.0.1.
import t from 'tap';
import type { Test } from 'tap';
import { hasResponses, makeSite, parseResponses, rawExchange, req, spawnServer, type LogLine, type Server } from '../fixtures/server';
import { Client, groupGone, poll, sleep } from '../fixtures/wire';

const A = 'A body\n';
let root: string;
t.before(() => {
  // Files named like the health paths: the health check must win over them.
  root = makeSite(t, { 'a.txt': A, healthz: 'a file called healthz\n', status: 'a file called status\n' });
});

const isListening = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('listening on');

async function launch(t: Test, args: string[]): Promise<Server> {
  const s = spawnServer({ args: ['--host', '127.0.0.1', '--port', '0', '--log-pretty', 'false', '--root', root, ...args] });
  t.teardown(() => s.kill());
  const line = await s.waitForLog(isListening);
  return { ...s, port: line.port as number };
}

async function get(port: number, path: string, method = 'GET') {
  const { data } = await rawExchange(port, req(path, 'Connection: close\r\n', method), { timeoutMs: 3000 });
  return parseResponses(data, () => method === 'HEAD')[0]!;
}


t.test('200 ok, before any file lookup, for GET, HEAD and with a query; not access-logged', async (t) => {
  const s = await launch(t, ['--workers', '1']);
  const ok = await get(s.port, '/healthz');
  t.equal(ok.status, 200);
  t.equal(ok.body.toString(), 'ok\n', 'body "ok", not the file named healthz');
  t.equal(ok.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(ok.headers['cache-control'], 'no-store', 'never cached');
  t.equal(ok.headers['content-length'], '3');
  t.notOk(ok.headers.etag, 'no validators: nothing about it is cached');
  const head = await get(s.port, '/healthz', 'HEAD');
  t.equal(head.status, 200, 'HEAD');
  t.equal(head.headers['content-length'], '3');
  t.equal(head.body.length, 0, 'HEAD: no body');
  const query = await get(s.port, '/healthz?probe=1');
  t.equal(query.status, 200, 'a query string still matches');
  t.equal(query.body.toString(), 'ok\n');
  const post = await get(s.port, '/healthz', 'POST');
  t.equal(post.status, 405, 'other methods: 405');
  t.equal(post.headers.allow, 'GET, HEAD');
  t.equal((await get(s.port, '/healthz/')).body.toString('latin1').includes('ok\n'), false, '/healthz/ is not the health path');
  t.equal((await get(s.port, '/a.txt')).body.toString(), A, 'files are served as before');
  await s.waitForLog((l) => l.kind === 'access' && l.path === '/a.txt', 5000);
  const logged = s.logs.filter((l) => l.kind === 'access').map((l) => l.path);
  t.notOk(logged.some((p) => typeof p === 'string' && p.startsWith('/healthz?') || p === '/healthz'), `health probes are not access-logged (${logged.join(' ')})`);
  t.ok(logged.includes('/healthz/'), 'other paths are');
});

t.test('healthPath "" turns it off (the file is served); another healthPath moves it', async (t) => {
  const [off, moved] = await Promise.all([launch(t, ['--workers', '0', '--health-path', '']), launch(t, ['--workers', '0', '--health-path', '/status'])]);
  t.equal((await get(off.port, '/healthz')).body.toString(), 'a file called healthz\n', 'off: the file');
  t.equal((await get(moved.port, '/status')).body.toString(), 'ok\n', '/status: the health check');
  t.equal((await get(moved.port, '/healthz')).body.toString(), 'a file called healthz\n', '/healthz: now a file');
});

t.test('503 with Connection: close once the drain has begun (no pre-drain)', async (t) => {
  const s = await launch(t, ['--workers', '1']);
  // A request head in progress when the drain begins is still answered (with close).
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  await sleep(100);
  process.kill(s.pid, 'SIGTERM');
  await s.waitForLog((l) => typeof l.worker === 'number' && /^draining:/.test(l.msg), 5000);
  c.write('\r\n');
  const data = await c.waitFor(hasResponses(1), 3000, 'the health answer');
  const r = parseResponses(data)[0]!;
  t.equal(r.status, 503);
  t.equal(r.headers.connection, 'close');
  t.equal(r.headers['cache-control'], 'no-store');
  t.equal(r.body.toString(), 'draining\n');
  t.ok(await c.waitClosed(3000), 'then the connection closes');
  t.equal((await s.exited(10_000)).code, 0);
});

/**
 * The pre-drain, timed from the signal: the health check fails at once; files are served
 * normally (keep-alive, no Connection: close) on old and new connections until the delay;
 * the process is gone after the delay and well before twice the delay.
 */
async function preDrain(t: Test, workers: number, signal: (s: Server) => void) {
  const DELAY = 1500;
  const s = await launch(t, ['--workers', String(workers), '--pre-drain-delay-ms', String(DELAY)]);
  t.equal((await get(s.port, '/healthz')).status, 200, 'healthy before');
  const keep = await Client.connect(s.port);
  t.teardown(() => keep.destroy());
  keep.write(req('/a.txt'));
  await keep.waitFor(hasResponses(1), 3000);
  const t0 = performance.now();
  signal(s);
  const failing = await poll(async () => ((await get(s.port, '/healthz')).status === 503 ? performance.now() - t0 : null), 20, 20);
  t.ok(failing !== null && failing < 500, `health answers 503 at once (${Math.round(failing ?? -1)} ms)`);
  const h = await get(s.port, '/healthz');
  t.equal(h.status, 503);
  t.equal(h.headers.connection, 'close', '503 says Connection: close');
  let served = 0;
  while (performance.now() - t0 < DELAY - 300) {
    const fresh = await get(s.port, '/a.txt');
    t.equal(fresh.status, 200, 'a new connection is served during the delay');
    const before = keep.data().length;
    keep.write(req('/a.txt'));
    const got = await keep.waitFor((d) => hasResponses(1)(d.subarray(before)), 3000);
    const r = parseResponses(got.subarray(before))[0]!;
    t.equal(r.status, 200, 'the open keep-alive connection is served during the delay');
    t.equal(r.headers.connection, undefined, 'and stays keep-alive (no Connection: close)');
    served++;
    await sleep(200);
  }
  t.ok(served >= 3, `requests served during the delay (${served})`);
  const r = await s.exited(2 * DELAY);
  const gone = performance.now() - t0;
  t.equal(r.code, 0, 'clean exit');
  t.ok(gone >= DELAY - 50, `the drain waited for the delay (${Math.round(gone)} ms)`);
  t.ok(gone < 2 * DELAY, `and the process was gone before twice the delay (${Math.round(gone)} ms)`);
  t.ok(await groupGone(s.pid), 'no process left');
  t.ok(s.logs.some((l) => /^pre-drain: health check answers 503 now, draining in 1500 ms/.test(l.msg)), 'the pre-drain is logged');
}

t.test('pre-drain: SIGTERM to the primary only (systemd, docker stop)', (t) => preDrain(t, 2, (s) => process.kill(s.pid, 'SIGTERM')));
t.test('pre-drain: SIGINT to the whole group (Ctrl+C)', (t) => preDrain(t, 2, (s) => s.signalGroup('SIGINT')));
t.test('pre-drain: single process (workers 0)', (t) => preDrain(t, 0, (s) => process.kill(s.pid, 'SIGTERM')));

t.test('a second signal during the pre-drain stops at once (130)', async (t) => {
  const s = await launch(t, ['--workers', '2', '--pre-drain-delay-ms', '5000']);
  const t0 = performance.now();
  s.signalGroup('SIGINT');
  // Every process must have taken the first signal, or the kernel may merge the two.
  await s.waitForLog((l) => l.worker === 'primary' && /^SIGINT: draining/.test(l.msg), 3000);
  await poll(async () => s.logs.filter((l) => /^pre-drain/.test(l.msg)).length === 2, 30, 50);
  s.signalGroup('SIGINT');
  const r = await s.exited(3000);
  t.equal(r.code, 130, 'exit 130');
  t.ok(performance.now() - t0 < 2500, 'long before the 5 s delay');
  t.ok(await groupGone(s.pid), 'no process left');
});
