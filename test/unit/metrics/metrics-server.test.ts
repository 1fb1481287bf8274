// The metrics endpoint in-process: the listener's answers (on 127.0.0.1, port 0) and its
// bind failure, and the primary's scrape of its workers over a fake node:cluster: sums,
// workers that exit mid-scrape, final counts of exited workers kept in the totals.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import t, { type Test } from 'tap';
import { PrimaryCounters, RequestCounters } from '../../../src/metrics/counters';
import { PrimaryMetrics, startMetricsServer } from '../../../src/metrics/metrics-server';
import { ServingMetrics, type MetricsJson } from '../../../src/metrics/serving-metrics';
import { captureLoggers, FakeWorker } from '../../fixtures/cluster-fakes';
import { httpGet } from '../../fixtures/ops';

function serve(t: Test, render: () => Promise<string>) {
  const { loggers, lines } = captureLoggers();
  return new Promise<{ port: number; lines: typeof lines; url: string }>((resolve, reject) => {
    const server: http.Server = startMetricsServer('127.0.0.1', 0, render, loggers.log, (url) => resolve({ port: (server.address() as net.AddressInfo).port, lines, url }), reject);
    t.teardown(() => server.close());
  });
}

t.test('GET and HEAD /metrics answer the rendered text; other paths 404, other methods 405', async (t) => {
  const s = await serve(t, async () => '# the text\n');
  t.equal(s.url, 'http://127.0.0.1:0/metrics', 'the URL as configured');
  t.equal(s.lines.at(-1)?.msg, 'metrics on http://127.0.0.1:0/metrics');
  const ok = await httpGet(s.port, '/metrics?x=1');
  t.same([ok.status, ok.body, ok.headers['cache-control']], [200, '# the text\n', 'no-store']);
  t.match(ok.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const head = await httpGet(s.port, '/metrics', 'HEAD');
  t.same([head.status, head.body], [200, '']);
  const other = await httpGet(s.port, '/');
  t.same([other.status, other.body], [404, 'not found: the metrics are at /metrics\n']);
  const post = await httpGet(s.port, '/metrics', 'POST');
  t.same([post.status, post.headers.allow, post.body], [405, 'GET, HEAD', 'method not allowed\n']);
});

t.test('a render that fails is a 500 and an error line, and the listener goes on', async (t) => {
  let fail = true;
  const s = await serve(t, async () => {
    if (fail) throw new Error('registry broken');
    return 'ok\n';
  });
  const res = await httpGet(s.port, '/metrics');
  t.same([res.status, res.body], [500, 'metrics could not be rendered\n']);
  t.equal(s.lines.at(-1)?.msg, 'metrics: rendering failed');
  t.equal(s.lines.at(-1)?.level, 50);
  fail = false;
  t.equal((await httpGet(s.port, '/metrics')).body, 'ok\n');
});

t.test('a port that cannot be bound is one line for the caller, and onListening never runs', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.teardown(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const { loggers } = captureLoggers();
  let listened = false;
  const message = await new Promise<string>((resolve) => {
    const server = startMetricsServer('127.0.0.1', port, async () => '', loggers.log, () => (listened = true), resolve);
    t.teardown(() => server.close());
  });
  t.equal(message, `metrics listener: port ${port} on 127.0.0.1 is already in use`);
  t.notOk(listened);
});

/** A worker's snapshot with `n` GETs answered 200. */
async function snapshotOf(n: number, label: string): Promise<MetricsJson[]> {
  const counters = new RequestCounters(['http']);
  for (let i = 0; i < n; i++) counters.record('http', 'GET', 200, 10, 0.001);
  const state = { counters, tls: null, openConnections: () => 1, cacheHits: () => 0, cacheMisses: () => 0, cacheSize: () => ({ entries: 0, bytes: 0 }) };
  return new ServingMetrics(state, label).snapshot();
}

function primary(alive = 2) {
  const { loggers, lines } = captureLoggers();
  const cluster = new EventEmitter();
  const counters = new PrimaryCounters();
  counters.workerRestarts = 4;
  counters.reloads = 1;
  const metrics = new PrimaryMetrics(counters, loggers.log, () => alive, cluster);
  const workers = [new FakeWorker({}), new FakeWorker({})];
  for (const w of workers) cluster.emit('message', w, { type: 'metrics-ready' });
  /** The scrape request `w` was sent last, once it was sent. */
  const request = async (w: FakeWorker) => {
    while (!w.sent.some((m) => (m as { cmd: string }).cmd === 'metrics')) await new Promise((r) => setImmediate(r));
    return w.sent.pop() as unknown as { cmd: 'metrics'; id: number };
  };
  const answer = async (w: FakeWorker, n: number) => cluster.emit('message', w, { type: 'metrics', id: (await request(w)).id, metrics: await snapshotOf(n, String(w.id)) });
  return { metrics, cluster, workers, lines, request, answer };
}

const requests = (text: string) => Number(/^fleetserve_http_requests_total\{listener="http",method="GET",status_class="2xx"\} (\d+)$/m.exec(text)?.[1]);

t.test('the primary sums its workers\' answers with its own counters', async (t) => {
  const p = primary();
  const [a, b] = p.workers;
  const rendered = p.metrics.render();
  await p.answer(a!, 3);
  await p.answer(b!, 5);
  const text = await rendered;
  t.equal(requests(text), 8, 'summed over the workers');
  t.match(text, /^fleetserve_connections_open 2$/m);
  t.match(text, /^fleetserve_worker_restarts_total 4$/m);
  t.match(text, /^fleetserve_reloads_total 1$/m);
  t.match(text, /^fleetserve_workers 2$/m, 'the pool\'s count of workers alive');
  t.match(text, /^process_resident_memory_bytes\{worker="primary"\} \d+$/m);
  t.match(text, new RegExp(`^process_resident_memory_bytes\\{worker="${a!.id}"\\} \\d+$`, 'm'), 'and each worker\'s, by label');
});

t.test('a worker that exits during a scrape is left out at once; its final counts stay in the totals', async (t) => {
  const p = primary();
  const [a, b] = p.workers;
  const first = p.metrics.render();
  await p.answer(a!, 3);
  await p.request(b!);
  p.cluster.emit('message', b, { type: 'metrics-final', metrics: (await snapshotOf(5, String(b!.id)))[0] });
  b!.dead = true;
  const t0 = performance.now();
  p.cluster.emit('exit', b, 0, null);
  const text = await first;
  t.ok(performance.now() - t0 < 1000, 'no wait for an answer that cannot come');
  t.equal(requests(text), 8, 'its final counts replace its answer');
  const second = p.metrics.render();
  await p.answer(a!, 4);
  t.equal(requests(await second), 9, 'and stay after it is gone: a counter never goes down');
  t.notOk(b!.sent.some((m) => (m as { cmd: string }).cmd === 'metrics'), 'an exited worker is not asked again');
});

t.test('a worker whose final counts came right after its answer is counted once', async (t) => {
  const p = primary();
  const [a, b] = p.workers;
  const answer = await snapshotOf(5, String(b!.id));
  const rendered = p.metrics.render();
  await p.answer(a!, 3);
  const { id } = await p.request(b!);
  // Both before the scrape's result is read: the final counts must not add to the answer.
  p.cluster.emit('message', b, { type: 'metrics', id, metrics: answer });
  p.cluster.emit('message', b, { type: 'metrics-final', metrics: answer[0] });
  t.equal(requests(await rendered), 8);
});
