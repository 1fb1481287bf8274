// The process as a user and an operator see it: CLI exit codes, log lines, the drain on
// SIGINT/SIGTERM (DESIGN.md "The shutdown protocol"), port conflicts, worker crashes and
// the single-process mode. Every server is forked from dist/main.js in its own process
// group on 127.0.0.1.
import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import { hasResponses, makeSite, parseResponses, rawExchange, req, spawnServer, startServer, type LogLine, type Server } from '../fixtures/server';
import { bigBuffer, Client, Download, freePort, groupGone, listeningAddresses, poll, sha256, sleep, tryRequest } from '../fixtures/wire';

const BIG = bigBuffer(64 * 1024 * 1024);
const BIG_SHA = sha256(BIG);
const A = 'A body\n';
let root: string;

t.before(() => {
  root = makeSite(t, { 'index.html': '<h1>hi</h1>\n', 'a.txt': A, 'big.bin': BIG });
});

const isListening = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('listening on');
const isAccess = (l: LogLine) => l.kind === 'access';
const isWorkerDraining = (l: LogLine) => typeof l.worker === 'number' && typeof l.msg === 'string' && l.msg.startsWith('draining:');

/** Starts a server with exactly these args (no defaults added) and waits for "listening". */
async function launch(t: Test, args: string[]): Promise<Server> {
  const s = spawnServer({ args: ['--log-pretty', 'false', ...args] });
  t.teardown(() => s.kill());
  const line = await s.waitForLog(isListening);
  return { ...s, port: line.port as number };
}


/** Starts the 64 MiB download and stops reading once 1 MiB of body has arrived. */
async function pausedDownload(t: Test, port: number): Promise<Download> {
  const d = await Download.start(port, '/big.bin');
  t.teardown(() => d.destroy());
  t.ok(await d.waitBody(1024 * 1024, 5000), 'download started');
  d.pause();
  return d;
}

t.test('CLI: a bad configuration exits 2 with one line on stderr naming the key', async (t) => {
  const cases: { args: string[]; env?: Record<string, string>; key: RegExp }[] = [
    { args: ['--port', '99999'], key: /\bport\b/ },
    { args: ['--port', 'abc'], key: /\bport\b/ },
    { args: ['--workers', '-1'], key: /\bworkers\b/ },
    { args: [], env: { FLEETSERVE_LOG_LEVEL: 'loud' }, key: /\blogLevel\b/ },
    { args: ['--access-log=maybe'], key: /\baccessLog\b/ },
    { args: ['--root', '/nonexistent/fleetserve-test-root'], key: /\broot\b.*does not exist/ },
    { args: ['--prot', '80'], key: /--prot\b/ },
  ];
  const runs = cases.map((c) => {
    const s = spawnServer({ args: ['--host', '127.0.0.1', ...c.args], env: c.env });
    t.teardown(() => s.kill());
    return s.exited(10_000).then((r) => ({ c, s, r }));
  });
  for (const { c, s, r } of await Promise.all(runs)) {
    const name = JSON.stringify(c.args.length ? c.args : c.env);
    t.equal(r.code, 2, `${name}: exit code 2`);
    const lines = s.stderr().split('\n').filter((l) => l !== '');
    t.equal(lines.length, 1, `${name}: exactly one stderr line: ${JSON.stringify(s.stderr())}`);
    t.match(lines[0] ?? '', c.key, `${name}: names the key`);
    t.notMatch(s.stderr(), /\n\s+at /, `${name}: no stack trace`);
    t.notOk(s.logs.some(isListening), `${name}: nothing started`);
  }
});

t.test('CLI: --help exits 0 and prints the options', async (t) => {
  const s = spawnServer({ args: ['--help'] });
  t.teardown(() => s.kill());
  const r = await s.exited(10_000);
  t.equal(r.code, 0);
  t.match(s.stdout(), /--port\b/);
  t.match(s.stdout(), /--drain-timeout-ms\b/);
  t.equal(s.stderr(), '');
  t.notOk(s.logs.some(isListening), 'does not start serving');
});

t.test('the "listening" line, access log lines, JSON lines tagged with the worker', async (t) => {
  const s = await startServer(t, { root, workers: 2 });
  const listening = s.logs.filter(isListening);
  t.equal(listening.length, 1, 'one listening line');
  const l = listening[0]!;
  t.equal(l.url, `http://127.0.0.1:${s.port}/`, 'url');
  t.match(l.msg, `http://127.0.0.1:${s.port}/`, 'url in the message');
  t.equal(l.workers, 2, 'workers count');
  t.equal(l.pid, s.pid, 'pid of the primary');
  t.equal(l.worker, 'primary');

  const { data } = await rawExchange(s.port, req('/a.txt') + req('/missing') + req('/a.txt', '', 'HEAD'), { until: hasResponses(3, (i) => i === 2) });
  const rs = parseResponses(data, (i) => i === 2);
  t.same(rs.map((r) => r.status), [200, 404, 200]);
  await s.waitForLog((x) => isAccess(x) && x.method === 'HEAD', 5000);
  const access = s.logs.filter(isAccess);
  t.equal(access.length, 3, 'one access line per response');
  const [get, missing, head] = access;
  t.match(get, { method: 'GET', path: '/a.txt', status: 200, bytes: A.length, remote: '127.0.0.1' });
  t.match(missing, { method: 'GET', path: '/missing', status: 404, bytes: rs[1]!.body.length, remote: '127.0.0.1' });
  t.match(head, { method: 'HEAD', path: '/a.txt', status: 200, bytes: 0, remote: '127.0.0.1' });
  for (const a of access) {
    t.ok(typeof a.ms === 'number' && a.ms >= 0 && a.ms < 5000, `ms is a duration (${a.ms})`);
    t.ok(typeof a.worker === 'number' && a.worker >= 1, 'tagged with a worker id');
    t.ok(typeof a.pid === 'number' && a.pid !== s.pid, 'pid of a worker, not the primary');
  }

  // A response just before the signal: its access line must not be lost at exit.
  const last = await rawExchange(s.port, req('/a.txt?last=1', 'Connection: close\r\n'), { timeoutMs: 3000 });
  t.equal(parseResponses(last.data)[0]?.status, 200);
  process.kill(s.pid, 'SIGTERM');
  const r = await s.exited(10_000);
  t.equal(r.code, 0, 'clean exit');
  t.ok(s.logs.some((x) => isAccess(x) && typeof x.path === 'string' && x.path.startsWith('/a.txt?last=1')), 'the access line of the last response was flushed before exit');
  const lines = s.stdout().split('\n').filter((x) => x !== '');
  let bad = 0;
  const workers = new Set<unknown>();
  for (const line of lines) {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      bad++;
      t.fail(`not JSON: ${line}`);
      continue;
    }
    const w = o.worker;
    if (!(w === 'primary' || (typeof w === 'number' && Number.isInteger(w) && w >= 1)) || typeof o.pid !== 'number') {
      bad++;
      t.fail(`line without worker id / pid: ${line}`);
    }
    workers.add(w);
  }
  t.equal(bad, 0, `all ${lines.length} stdout lines are JSON with worker and pid`);
  t.ok(workers.has('primary'), 'lines from the primary');
  t.ok([...workers].some((w) => typeof w === 'number'), 'lines from workers');
  t.equal(s.stderr(), '', 'nothing on stderr');
});

t.test('--access-log false: no access lines', async (t) => {
  const s = await startServer(t, { root, args: ['--access-log', 'false'] });
  const { data } = await rawExchange(s.port, req('/a.txt') + req('/missing'), { until: hasResponses(2) });
  t.equal(parseResponses(data).length, 2, 'requests answered');
  // No wait for the access log's flush interval: the drain flushes the batch before the exit,
  // so whatever would have been written is on stdout once the process has exited.
  process.kill(s.pid, 'SIGTERM');
  t.equal((await s.exited(10_000)).code, 0);
  t.equal(s.logs.filter(isAccess).length, 0, 'no access lines');
  t.notOk(s.logs.some((l) => l.path === '/a.txt' || l.status === 200), 'no line about the requests');
  t.ok(s.logs.length >= 2, 'lifecycle lines are still logged');
});

async function drainDuringDownload(t: Test, how: 'SIGINT to the group' | 'SIGTERM to the primary', workers: number): Promise<void> {
  const s = await startServer(t, { root, workers, args: ['--drain-timeout-ms', '8000', '--keep-alive-timeout-ms', '30000'] });
  const d = await pausedDownload(t, s.port);
  await sleep(100);
  t.ok(d.bodyBytes < BIG.length / 2, `the download is in flight when the signal is sent (${d.bodyBytes} bytes so far)`);
  const signalledAt = performance.now();
  if (how === 'SIGINT to the group') s.signalGroup('SIGINT');
  else process.kill(s.pid, 'SIGTERM');
  // Every serving process has begun draining (workers 0: the single process).
  const draining = () => s.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('draining:')).length;
  await s.waitForLog(() => draining() >= Math.max(workers, 1), 5000).catch(() => undefined);
  t.equal(draining(), Math.max(workers, 1), 'every serving process logged "draining"');

  const late = await tryRequest(s.port, '127.0.0.1', 2000);
  t.equal(late.outcome, 'refused', `a new connection after the signal is refused (${late.code ?? late.data.toString('latin1').slice(0, 40)})`);
  t.equal(s.proc.exitCode, null, 'still running while the download is in flight');

  t.ok(await d.readSlowly(20, 20, 8000, () => d.bodyBytes >= BIG.length), 'the rest of the body arrived');
  t.equal(d.status, 200);
  t.equal(d.bodyBytes, BIG.length, 'byte count');
  t.equal(d.sha256(), BIG_SHA, 'content hash');
  t.ok(await d.waitClosed(2000), 'the server closes the connection after the body');
  const r = await s.exited(10_000);
  t.same(r, { code: 0, signal: null }, 'exit code 0');
  t.ok(performance.now() - signalledAt < 9000, 'before the drain deadline');
  // The serving process that had the download says it drained it, and how long that took.
  const drained = s.logs.find((l) => typeof l.msg === 'string' && /^drained [1-9]\d* connections? in \d+ ms/.test(l.msg));
  t.ok(drained, `a line says how many connections drained and how long it took: ${JSON.stringify(s.logs.filter((l) => /drain/.test(l.msg)).map((l) => l.msg))}`);
  t.ok(typeof drained?.ms === 'number' && typeof drained?.connections === 'number', 'with numbers');
  if (workers > 0) t.ok(s.logs.some((l) => l.worker === 'primary' && /drained|exiting/.test(l.msg)), 'the primary says it exits');
  t.equal(s.stderr(), '', 'nothing on stderr');
}

t.test('Ctrl+C (SIGINT to the process group) during a 64 MiB download: complete body, exit 0', (t) => drainDuringDownload(t, 'SIGINT to the group', 2));

t.test('SIGTERM to the primary alone during a 64 MiB download: complete body, exit 0', (t) => drainDuringDownload(t, 'SIGTERM to the primary', 2));

t.test('workers 0 (single process): serves, logs, and drains on Ctrl+C', async (t) => {
  const s = await startServer(t, { root, workers: 0 });
  const l = s.logs.find(isListening)!;
  t.equal(l.workers, 0);
  t.equal(l.pid, s.pid);
  t.equal(l.url, `http://127.0.0.1:${s.port}/`);
  const { data } = await rawExchange(s.port, req('/a.txt'), { until: hasResponses(1) });
  t.equal(parseResponses(data)[0]?.body.toString(), A);
  const a = await s.waitForLog(isAccess, 5000);
  t.equal(a.pid, s.pid, 'served by the process itself');
  s.kill(); // this one was only for the checks above; the drain runs on a fresh one below
  await s.exited(5000);
  await drainDuringDownload(t, 'SIGINT to the group', 0);
});

t.test('workers 0: SIGTERM drains too', (t) => drainDuringDownload(t, 'SIGTERM to the primary', 0));

t.test('idle keep-alive connections are closed at once on drain', async (t) => {
  const s = await startServer(t, { root, args: ['--keep-alive-timeout-ms', '30000'] });
  const used = await Client.connect(s.port);
  const silent = await Client.connect(s.port);
  t.teardown(() => (used.destroy(), silent.destroy()));
  used.write(req('/a.txt'));
  await used.waitFor(hasResponses(1), 3000, 'a response');
  await sleep(200);
  const signalledAt = performance.now();
  process.kill(s.pid, 'SIGTERM');
  t.ok(await used.waitClosed(1000), 'the idle connection that served a request is closed within 1 s');
  t.ok(await silent.waitClosed(1000), 'the connection that never sent a byte is closed within 1 s');
  t.ok(Math.max(used.closedAt, silent.closedAt) - signalledAt < 1000, 'well before keepAliveTimeoutMs (30 s)');
  t.equal(silent.received, 0, 'no bytes to the silent one');
  t.equal(used.data().length, parseResponses(used.data())[0]!.rawHead.length + 4 + A.length, 'nothing more to the used one');
  const r = await s.exited(5000);
  t.equal(r.code, 0);
  const drain = s.logs.find(isWorkerDraining);
  t.match(drain, { open: 2, idle: 2 }, 'the worker counted 2 open, 2 idle');
});

t.test('a response whose head is written after the signal says Connection: close', async (t) => {
  const s = await startServer(t, { root, args: ['--keep-alive-timeout-ms', '30000'] });
  // (1) A request head half sent before the signal, finished after it.
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  c.write('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n');
  // (2) A big download with a request pipelined behind it, paused mid-body.
  const p = await Client.connect(s.port);
  t.teardown(() => p.destroy());
  p.write(req('/big.bin') + req('/a.txt'));
  await p.waitFor((d) => d.length > 1024 * 1024, 5000, '1 MiB of the big body');
  p.sock.pause();
  await sleep(200);

  process.kill(s.pid, 'SIGTERM');
  const drain = await s.waitForLog(isWorkerDraining, 5000);
  t.match(drain, { open: 2, idle: 0 }, 'neither connection was idle');
  await sleep(100);
  t.notOk(c.closed, 'the connection with a partial head stays open');
  c.write('\r\n');
  await c.waitFor(hasResponses(1), 3000, 'the response');
  const [r] = parseResponses(c.data());
  t.equal(r!.status, 200);
  t.equal(r!.body.toString(), A);
  t.equal(r!.headers.connection, 'close', 'Connection: close');
  t.ok(await c.waitClosed(2000), 'and the server closes');

  p.sock.resume();
  t.ok(await p.waitClosed(10_000), 'the pipelined connection ends after its responses');
  const rs = parseResponses(p.data());
  t.equal(rs[0]?.status, 200);
  t.equal(rs[0]?.body.length, BIG.length, 'the big body is complete');
  t.equal(sha256(rs[0]!.body), BIG_SHA, 'content hash');
  t.notMatch(rs[0]?.headers.connection ?? '', /close/, 'its head was written before the signal');
  t.ok(rs.length <= 2, 'no extra responses');
  if (rs.length === 2) {
    // Dropping it (the client retries) is allowed; answering it without "close" is not.
    t.equal(rs[1]!.headers.connection, 'close', 'the pipelined response written after the signal says close');
    t.equal(rs[1]!.body.toString(), A);
  }
  t.same(await s.exited(5000), { code: 0, signal: null }, 'exit 0');
});

t.test('drain deadline: a reader that stops is cut, the exit code is 1', async (t) => {
  const s = await startServer(t, { root, args: ['--drain-timeout-ms', '500'] });
  const d = await pausedDownload(t, s.port);
  const signalledAt = performance.now();
  process.kill(s.pid, 'SIGTERM');
  const r = await s.exited(6000);
  const took = performance.now() - signalledAt;
  t.ok(took >= 400 && took < 4000, `exited soon after the 500 ms deadline (${Math.round(took)} ms)`);
  t.same(r, { code: 1, signal: null }, 'exited by itself with code 1 (as the README promises), not killed');
  const cut = s.logs.find((l) => typeof l.msg === 'string' && /drain timeout/.test(l.msg));
  t.ok(cut, 'a line says what was cut');
  t.ok(typeof cut?.cut === 'number' && (cut.cut as number) >= 1, `at least 1 connection cut (${cut?.cut})`);
  d.resume();
  await d.waitClosed(3000);
  t.ok(d.bodyBytes < BIG.length, 'the client did not get the whole body');
});

t.test('the stop line says how long the drain may take and that a second signal stops at once', async (t) => {
  const stopLine = (l: LogLine) => typeof l.msg === 'string' && /^SIG(INT|TERM): draining/.test(l.msg);
  // The three servers start and stop side by side: each is its own process group.
  const [single, two, pre] = await Promise.all([
    startServer(t, { root, workers: 0, args: ['--drain-timeout-ms', '7000'] }),
    startServer(t, { root, workers: 2, args: ['--drain-timeout-ms', '7000'] }),
    startServer(t, { root, workers: 1, args: ['--drain-timeout-ms', '7000', '--pre-drain-delay-ms', '200'] }),
  ]);
  single.signalGroup('SIGINT');
  two.signalGroup('SIGINT');
  process.kill(pre.pid, 'SIGTERM');
  const [singleExit, twoExit, preExit] = await Promise.all([single.exited(10_000), two.exited(10_000), pre.exited(10_000)]);
  for (const [workers, s, exit] of [[0, single, singleExit], [2, two, twoExit]] as const) {
    t.same(exit.code, 0, `workers ${workers}: drained`);
    const lines = s.logs.filter(stopLine);
    t.equal(lines.length, 1, `workers ${workers}: one stop line (Ctrl+C reaches every process)`);
    const { level, time, pid, ...rest } = lines[0]!;
    t.ok(level === 30 && typeof time === 'string' && pid === s.pid, 'from the primary (or the single process)');
    if (workers === 0) {
      t.same(rest, { worker: 'single', signal: 'SIGINT', drainTimeoutMs: 7000, preDrainDelayMs: 0, msg: 'SIGINT: draining, up to 7000 ms; Ctrl+C again to stop at once' });
    } else {
      t.same(rest, { worker: 'primary', signal: 'SIGINT', workers: 2, drainTimeoutMs: 7000, preDrainDelayMs: 0, reloading: false, msg: 'SIGINT: draining 2 workers, up to 7000 ms; Ctrl+C again to stop at once' });
    }
  }
  t.same(preExit.code, 0);
  t.same(pre.logs.filter(stopLine).map((l) => l.msg), ['SIGTERM: draining 1 worker after a 200 ms pre-drain, then up to 7000 ms; a second SIGTERM stops at once']);
});

t.test('a second SIGINT forces an immediate exit (130)', async (t) => {
  const s = await startServer(t, { root, args: ['--drain-timeout-ms', '20000'] });
  await pausedDownload(t, s.port);
  s.signalGroup('SIGINT');
  await s.waitForLog((l) => l.worker === 'primary' && /^SIGINT: draining/.test(l.msg), 5000);
  await s.waitForLog(isWorkerDraining, 5000);
  const secondAt = performance.now();
  s.signalGroup('SIGINT');
  const r = await s.exited(5000);
  t.same(r, { code: 130, signal: null }, 'exit code 130');
  t.ok(performance.now() - secondAt < 1500, `at once (${Math.round(performance.now() - secondAt)} ms), not after the 20 s deadline`);
  t.ok(await groupGone(s.pid), 'no process of the group is left');
});

t.test('port in use: exit 1, one line on stderr, no respawn loop', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  // Both process models side by side (each its own process group).
  await Promise.all([2, 0].map(async (workers) => {
    const started = performance.now();
    const s = spawnServer({ args: ['--host', '127.0.0.1', '--port', String(port), '--workers', String(workers), '--log-pretty', 'false', '--root', root] });
    t.teardown(() => s.kill());
    const r = await s.exited(8000);
    const took = performance.now() - started;
    t.same(r, { code: 1, signal: null }, `workers ${workers}: exit code 1`);
    t.ok(took < 5000, `workers ${workers}: exits within a few seconds (${Math.round(took)} ms)`);
    const lines = s.stderr().split('\n').filter((l) => l !== '');
    t.equal(lines.length, 1, `workers ${workers}: exactly one stderr line: ${JSON.stringify(s.stderr())}`);
    t.match(lines[0] ?? '', `port ${port} on 127.0.0.1 is already in use`, `workers ${workers}: says so`);
    t.notMatch(s.stderr(), /\bat .*\(|Error:|EADDRINUSE/, `workers ${workers}: no stack trace or raw error`);
    t.notOk(s.logs.some(isListening), `workers ${workers}: never claims to listen`);
    t.notOk(s.logs.some((l) => /replacing|died/.test(l.msg)), `workers ${workers}: no respawn`);
    t.ok(await groupGone(s.pid), `workers ${workers}: no process left behind`);
  }));
});

t.test('a killed worker is logged and replaced', async (t) => {
  // A fixed port: with port 0 a replacement of the only worker could bind a new one.
  const port = await freePort();
  const s = await launch(t, ['--host', '127.0.0.1', '--port', String(port), '--workers', '1', '--root', root]);
  const { data } = await rawExchange(port, req('/a.txt'), { until: hasResponses(1) });
  t.equal(parseResponses(data)[0]?.status, 200);
  const first = await s.waitForLog(isAccess, 5000);
  const victim = first.pid as number;
  t.ok(Number.isInteger(victim) && victim !== s.pid, 'worker pid from the access log');
  process.kill(victim, 'SIGKILL');
  const died = await s.waitForLog((l) => /died/.test(l.msg) && l.workerPid === victim, 5000);
  t.equal(died.worker, 'primary', 'the primary logs it');
  t.match(died.msg, /SIGKILL/, 'with the signal');
  t.match(died.msg, /replac/, 'and says it is replaced');
  const ok = await poll(async () => {
    const r = await rawExchange(port, req('/a.txt', 'Connection: close\r\n'), { timeoutMs: 1000 });
    return r.data.toString('latin1').startsWith('HTTP/1.1 200 ') ? r : null;
  }, 50, 100);
  t.ok(ok, 'the server answers again');
  const next = await s.waitForLog((l) => isAccess(l) && l.pid !== victim, 5000);
  t.ok(next.pid !== victim && next.pid !== s.pid, `a new worker (pid ${next.pid}) answers`);
  t.equal(s.proc.exitCode, null, 'the primary keeps running');
  process.kill(s.pid, 'SIGTERM');
  t.equal((await s.exited(10_000)).code, 0, 'and still drains cleanly');
});

t.test('port 0: a replaced worker keeps serving on the announced port', async (t) => {
  // --port 0 is documented ("any free port"); the listening line announces one URL, and a
  // crash of the only worker must not move the server to another port.
  const s = await startServer(t, { root, workers: 1 });
  const { data } = await rawExchange(s.port, req('/a.txt'), { until: hasResponses(1) });
  t.equal(parseResponses(data)[0]?.status, 200);
  const victim = (await s.waitForLog(isAccess, 5000)).pid as number;
  process.kill(victim, 'SIGKILL');
  await s.waitForLog((l) => /died/.test(l.msg) && l.workerPid === victim, 5000);
  const ok = await poll(async () => {
    const r = await rawExchange(s.port, req('/a.txt', 'Connection: close\r\n'), { timeoutMs: 1000 });
    return r.data.toString('latin1').startsWith('HTTP/1.1 200 ') ? r : null;
  }, 40, 100);
  t.ok(ok, `the announced ${s.port} answers again after the replacement`);
  t.same(listeningAddresses(s.port), ['127.0.0.1'], 'still listening on the announced port');
});

t.test('--host 127.0.0.1 listens on 127.0.0.1 only', async (t) => {
  const s = await startServer(t, { root, workers: 1 });
  const addrs = listeningAddresses(s.port);
  t.ok(addrs.length >= 1, 'the listening socket is visible in /proc/net/tcp');
  t.same([...new Set(addrs)], ['127.0.0.1'], `bound to 127.0.0.1 only (${addrs.join(', ')})`);
  const other = await tryRequest(s.port, '127.0.0.2', 2000);
  t.equal(other.outcome, 'refused', 'another loopback address is refused');
  t.equal(other.code, 'ECONNREFUSED');
  const self = await tryRequest(s.port, '127.0.0.1', 2000);
  t.equal(self.outcome, 'answered', '127.0.0.1 answers');
  t.match(self.data.toString('latin1'), /^HTTP\/1\.1 200 /);
});
