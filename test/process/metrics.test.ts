// Prometheus metrics as an operator scrapes them: known traffic over raw TCP to a cluster of
// two workers, then GET /metrics parsed by a real exposition-format parser; the totals must
// be exactly the traffic sent, summed over both workers. Also: the metrics listener is its
// own port (never the public one), and with metrics off nothing but the public port listens.
import t from 'tap';
import { makeSite, parseResponses, PROJECT, rawExchange, hasResponses, spawnServer, startServer, type LogLine } from '../fixtures/server';
import { freePort, poll } from '../fixtures/wire';
import { httpGet, listeningPortsOf, processTree, scrape, sumOf, valueOf } from '../fixtures/ops';

const A = 'A body, 23 bytes long.\n';
let root: string;
t.before(() => {
  root = makeSite(t, { 'a.txt': A, 'index.html': '<h1>hi</h1>\n' });
});

/** The per-response counters' label of a plain server's one listener. */
const HTTP = { listener: 'http' };
const isListening = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('listening on');

t.test('two workers: every count adds up exactly to the traffic sent', async (t) => {
  const metricsPort = await freePort();
  // Round-robin: the primary hands connections out in turn, so both workers serve some.
  const s = await startServer(t, { root, workers: 2, args: ['--metrics-port', String(metricsPort), '--scheduling', 'rr'] });

  const first = parseResponses((await rawExchange(s.port, 'GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).data)[0]!;
  const etag = first.headers['etag']!;
  t.ok(etag, 'the file has an ETag');

  // Per connection, pipelined: GET 200 x2, GET 404, HEAD 200, GET 304, GET 206, OPTIONS 204, PUT 405 (closes).
  const perConnection =
    'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /a.txt?again HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /missing HTTP/1.1\r\nHost: x\r\n\r\n' +
    'HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n' +
    `GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\n\r\n` +
    'GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n' +
    'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n' +
    'PUT /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n';
  const CONNECTIONS = 10;
  const noBody = (i: number) => i === 3; // the HEAD
  let bodyBytes = first.body.length;
  const statuses: number[] = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const got = await rawExchange(s.port, perConnection, { until: hasResponses(8, noBody), timeoutMs: 5000 });
    const rs = parseResponses(got.data, noBody);
    t.equal(rs.length, 8, `connection ${c}: 8 responses`);
    for (const [i, r] of rs.entries()) {
      statuses.push(r.status);
      if (!noBody(i)) bodyBytes += r.body.length;
    }
  }
  t.same(statuses.slice(0, 8), [200, 200, 404, 200, 304, 206, 204, 405]);

  // Both workers answered (their access lines say who), and the scrape sees everything they did.
  await poll(async () => s.logs.filter((l) => l.kind === 'access').length === 1 + 8 * CONNECTIONS, 30, 100);
  const byWorker = new Map<unknown, number>();
  for (const l of s.logs) if (l.kind === 'access') byWorker.set(l.worker, (byWorker.get(l.worker) ?? 0) + 1);
  t.same([...byWorker.keys()].sort(), [1, 2], 'both workers served requests');

  const m = (await poll(async () => {
    const sc = await scrape(metricsPort);
    return valueOf(sc, 'fleetserve_connections_open') === 0 ? sc : null;
  }, 30, 100))!;
  t.ok(m, 'scraped, with no connection left open');
  t.equal(m.status, 200);
  t.match(m.contentType, /^text\/plain; version=0\.0\.4/);

  const req = (method: string, statusClass: string) => valueOf(m, 'fleetserve_http_requests_total', { listener: 'http', method, status_class: statusClass });
  t.equal(req('GET', '2xx'), 1 + 3 * CONNECTIONS, 'GET 2xx: 200, 200, 206 per connection, and the first');
  t.equal(req('GET', '3xx'), CONNECTIONS, 'GET 3xx (304)');
  t.equal(req('GET', '4xx'), CONNECTIONS, 'GET 4xx (404)');
  t.equal(req('HEAD', '2xx'), CONNECTIONS);
  t.equal(req('OPTIONS', '2xx'), CONNECTIONS);
  t.equal(req('other', '4xx'), CONNECTIONS, 'PUT (405) counts as "other"');
  t.equal(sumOf(m, 'fleetserve_http_requests_total'), 1 + 8 * CONNECTIONS, 'nothing else was counted');
  t.equal(m.families.get('fleetserve_http_requests_total')!.metrics.length, 20, 'a bounded label set: 4 methods x 5 classes, for the one listener (plain HTTP)');
  t.equal(valueOf(m, 'fleetserve_http_not_modified_total', HTTP), CONNECTIONS);
  t.equal(valueOf(m, 'fleetserve_http_partial_content_total', HTTP), CONNECTIONS);
  t.equal(valueOf(m, 'fleetserve_http_response_body_bytes_total', HTTP), bodyBytes, 'body bytes as received');
  t.notOk(m.families.has('fleetserve_tls_handshakes_total'), 'no TLS metrics without HTTPS');
  t.equal(valueOf(m, 'fleetserve_connections_accepted_total'), 1 + CONNECTIONS);
  t.equal(valueOf(m, 'fleetserve_file_cache_hits_total') + valueOf(m, 'fleetserve_file_cache_misses_total'), 1 + 6 * CONNECTIONS, 'every GET/HEAD is a hit or a miss');
  t.ok(valueOf(m, 'fleetserve_file_cache_hits_total') > 0 && valueOf(m, 'fleetserve_file_cache_misses_total') > 0, 'both happen');

  const hist = m.families.get('fleetserve_http_request_duration_seconds')!;
  t.equal(hist.type, 'HISTOGRAM');
  t.equal(hist.metrics.length, 1);
  t.equal(Number(hist.metrics[0]!.count), 1 + 8 * CONNECTIONS, 'one observation per response');
  t.equal(Number(hist.metrics[0]!.buckets!['+Inf']), 1 + 8 * CONNECTIONS);
  t.ok(Number(hist.metrics[0]!.sum) > 0);

  t.equal(valueOf(m, 'fleetserve_workers'), 2);
  t.equal(valueOf(m, 'fleetserve_worker_restarts_total'), 0);
  t.equal(valueOf(m, 'fleetserve_reloads_total'), 0);
  // Process metrics are per process, never summed into one number.
  for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'process_start_time_seconds']) {
    const workers = m.families.get(name)!.metrics.map((x) => x.labels?.worker).sort();
    t.same(workers, ['1', '2', 'primary'], `${name}: one series per process`);
  }
  t.ok(m.families.has('nodejs_gc_duration_seconds'), 'GC metrics');

  const other = await httpGet(metricsPort, '/');
  t.equal(other.status, 404, 'only /metrics is served');
  t.equal((await httpGet(metricsPort, '/metrics', 'HEAD')).status, 200);
  t.equal((await httpGet(metricsPort, '/metrics', 'POST')).status, 405);
});

t.test('a worker that dies is counted as a restart and its process series go away', async (t) => {
  const metricsPort = await freePort();
  // Port 0: the replacement must join the socket the other worker still holds.
  const s = await startServer(t, { root, workers: 2, args: ['--metrics-port', String(metricsPort)] });
  const workerPids = processTree(s.pid).slice(1);
  t.equal(workerPids.length, 2, 'two workers');
  process.kill(workerPids[0]!, 'SIGKILL');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('replacing it'));
  const m = (await poll(async () => {
    const sc = await scrape(metricsPort);
    return valueOf(sc, 'fleetserve_workers') === 2 && sc.families.get('process_resident_memory_bytes')!.metrics.length === 3 ? sc : null;
  }, 50, 100))!;
  t.ok(m, 'two workers again, both answering');
  t.notOk(s.logs.some((l) => /did not answer/.test(String(l.msg))), 'no scrape waited for a worker');
  t.equal(valueOf(m, 'fleetserve_worker_restarts_total'), 1);
  t.equal(valueOf(m, 'fleetserve_worker_drains_total'), 0);
  const series = m.families.get('process_resident_memory_bytes')!.metrics.map((x) => x.labels?.worker);
  t.notOk(series.includes('1'), `the dead worker 1 has no series left (${series.join(', ')})`);
});

t.test('single process (workers 0) serves its own metrics', async (t) => {
  const metricsPort = await freePort();
  const s = await startServer(t, { root, workers: 0, args: ['--metrics-port', String(metricsPort)] });
  for (let i = 0; i < 3; i++) await rawExchange(s.port, 'GET /a.txt HTTP/1.0\r\n\r\n');
  const m = await scrape(metricsPort);
  t.equal(valueOf(m, 'fleetserve_http_requests_total', { ...HTTP, method: 'GET', status_class: '2xx' }), 3);
  t.equal(valueOf(m, 'fleetserve_http_response_body_bytes_total', HTTP), 3 * A.length);
  t.same(m.families.get('process_resident_memory_bytes')!.metrics.map((x) => x.labels?.worker), ['single']);
  t.notOk(m.families.has('fleetserve_workers'), 'no primary, no worker gauge');
});

t.test('the metrics port is never the public port, and one that is taken stops the start', async (t) => {
  const port = await freePort();
  const same = spawnServer({ args: ['--root', root, '--host', '127.0.0.1', '--port', String(port), '--metrics-port', String(port), '--workers', '1'] });
  t.teardown(() => same.kill());
  t.same(await same.exited(), { code: 2, signal: null }, 'configuration error');
  t.match(same.stderr(), /^fleetserve: metricsPort: \d+ is the public port/);

  const busy = await freePort();
  const blocker = (await import('node:net')).createServer().listen(busy, '127.0.0.1');
  t.teardown(() => blocker.close());
  await new Promise((r) => blocker.once('listening', r));
  for (const workers of ['2', '0']) {
    const s = spawnServer({ args: ['--root', root, '--host', '127.0.0.1', '--port', '0', '--metrics-port', String(busy), '--workers', workers, '--log-pretty', 'false'] });
    t.teardown(() => s.kill());
    t.same(await s.exited(), { code: 1, signal: null }, `workers ${workers}: exit 1`);
    t.equal(s.stderr(), `fleetserve: metrics listener: port ${busy} on 127.0.0.1 is already in use\n`);
    t.notOk(s.logs.some(isListening), `workers ${workers}: the public port was never opened`);
  }
});

t.test('single process: a reload in place keeps the cache counters (a counter never goes down)', async (t) => {
  const metricsPort = await freePort();
  const s = await startServer(t, { root, workers: 0, args: ['--metrics-port', String(metricsPort)] });
  for (let i = 0; i < 3; i++) await rawExchange(s.port, 'GET /a.txt HTTP/1.0\r\n\r\n');
  const before = await scrape(metricsPort);
  const hits = valueOf(before, 'fleetserve_file_cache_hits_total');
  const misses = valueOf(before, 'fleetserve_file_cache_misses_total');
  t.equal(hits + misses, 3, 'three lookups counted');
  process.kill(s.pid, 'SIGHUP');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload finished in place'));
  await rawExchange(s.port, 'GET /a.txt HTTP/1.0\r\n\r\n'); // a miss: the new handler's cache is empty
  const after = await scrape(metricsPort);
  t.equal(valueOf(after, 'fleetserve_file_cache_hits_total'), hits, 'hits kept across the reload');
  t.equal(valueOf(after, 'fleetserve_file_cache_misses_total'), misses + 1, 'misses kept, plus the new one');
});

t.test('metrics off (the default): only the public port listens; on: exactly one more', async (t) => {
  const off = await startServer(t, { root, workers: 2 });
  const offPorts = (await poll(async () => {
    const p = listeningPortsOf(processTree(off.pid));
    return p.length > 0 ? p : null;
  }, 20, 100))!;
  t.same(offPorts, [off.port], 'metrics off: nothing listens but the public port');

  const metricsPort = await freePort();
  const on = await startServer(t, { root, workers: 2, args: ['--metrics-port', String(metricsPort)] });
  t.same(listeningPortsOf(processTree(on.pid)), [on.port, metricsPort].sort((a, b) => a - b));
  t.equal(on.logs.find((l) => l.msg === `metrics on http://127.0.0.1:${metricsPort}/metrics`)?.worker, 'primary', 'the primary says where');
});

t.test('totals never go down when a worker drains and exits: its final counts are kept', async (t) => {
  const metricsPort = await freePort();
  const port = await freePort(); // fixed, as in the restart test above
  const s = await startServer(t, { root, workers: 2, args: ['--metrics-port', String(metricsPort), '--port', String(port), '--scheduling', 'rr'] });
  const N = 12;
  for (let i = 0; i < N; i++) await rawExchange(s.port, 'GET /a.txt HTTP/1.0\r\n\r\n');
  await poll(async () => s.logs.filter((l) => l.kind === 'access').length === N, 30, 100);
  const served = new Set(s.logs.filter((l) => l.kind === 'access').map((l) => l.pid as number));
  t.equal(served.size, 2, 'both workers served');
  const before = await scrape(metricsPort);
  t.equal(sumOf(before, 'fleetserve_http_requests_total'), N);

  const [retiring] = [...served];
  process.kill(retiring!, 'SIGTERM'); // this worker alone drains and exits 0; the primary replaces it
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('replacing it') && l.workerPid === retiring);
  const after = (await poll(async () => {
    const sc = await scrape(metricsPort);
    return sc.families.get('process_resident_memory_bytes')!.metrics.length === 3 ? sc : null;
  }, 50, 100))!;
  t.ok(after, 'the replacement answers scrapes');
  t.equal(sumOf(after, 'fleetserve_http_requests_total'), N, 'requests total unchanged');
  t.equal(valueOf(after, 'fleetserve_http_response_body_bytes_total', HTTP), N * A.length, 'bytes total unchanged');
  t.equal(valueOf(after, 'fleetserve_connections_accepted_total'), N);
  const hist = after.families.get('fleetserve_http_request_duration_seconds')!.metrics[0]!;
  t.equal(Number(hist.count), N, 'histogram count unchanged');
  t.equal(valueOf(after, 'fleetserve_connections_open'), 0, 'gauges are not carried over');

  await rawExchange(s.port, 'GET /a.txt HTTP/1.0\r\n\r\n');
  t.equal(sumOf(await scrape(metricsPort), 'fleetserve_http_requests_total'), N + 1, 'and counting goes on');
});

t.test('a reload is counted, with one drain per retired worker, and keeps the totals', async (t) => {
  const metricsPort = await freePort();
  const s = await startServer(t, { root, workers: 2, args: ['--metrics-port', String(metricsPort)] });
  const N = 5;
  for (let i = 0; i < N; i++) await rawExchange(s.port, 'GET /a.txt HTTP/1.0\r\n\r\n');
  await poll(async () => s.logs.filter((l) => l.kind === 'access').length === N, 30, 100);
  t.equal(valueOf(await scrape(metricsPort), 'fleetserve_reloads_total'), 0, 'no reload yet');
  process.kill(s.pid, 'SIGHUP');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload finished'), 15000);
  const m = (await poll(async () => {
    const sc = await scrape(metricsPort);
    return valueOf(sc, 'fleetserve_workers') === 2 && sc.families.get('process_resident_memory_bytes')!.metrics.length === 3 ? sc : null;
  }, 50, 100))!;
  t.ok(m, 'two new workers answer scrapes');
  t.equal(valueOf(m, 'fleetserve_reloads_total'), 1);
  t.equal(valueOf(m, 'fleetserve_worker_drains_total'), 2, 'both old workers were drained');
  t.equal(valueOf(m, 'fleetserve_worker_restarts_total'), 0, 'a retired worker is not a crash');
  t.equal(sumOf(m, 'fleetserve_http_requests_total'), N, 'the retired workers handed over their counts');
});

t.test('with metrics off, serving code never loads prom-client', async (t) => {
  // What a worker and the primary load up front; the metrics modules are required only
  // when metricsPort is set.
  const { execFileSync } = await import('node:child_process');
  const code = "for (const m of ['process/worker', 'process/primary', 'process/https', 'tls/acceptor', 'metrics/counters', 'logs/logger', 'http/connection']) require('./dist/' + m + '.js');" + "process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('prom-client'))));";
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', code], { cwd: PROJECT, encoding: 'utf8' })) as string[];
  t.same(loaded, []);
});
