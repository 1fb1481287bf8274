// One serving process's metrics in-process: the exposition of its counters (listener × method
// × status class, bytes, cache, connections, the duration histogram), the HTTPS listener's
// (handshakes, failures, certificate expiry, combined over workers), what it hands over at
// exit, and its answers to the primary over a fake IPC channel.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { RequestCounters, TlsCounters } from '../../../src/metrics/counters';
import { renderAggregate } from '../../../src/metrics/metrics-server';
import { sendFinalCounts, ServingMetrics, type MetricsReply, type PrimaryChannel, type ServingState, type TlsState } from '../../../src/metrics/serving-metrics';

function state(tls: TlsState | null = null): ServingState & { counters: RequestCounters } {
  const counters = new RequestCounters(['http']);
  counters.record('http', 'GET', 200, 100, 0.0002);
  counters.record('http', 'GET', 200, 50, 0.003);
  counters.record('http', 'HEAD', 304, 0, 0.00005);
  counters.connectionsAccepted = 3;
  return { counters, tls, openConnections: () => 2, cacheHits: () => 7, cacheMisses: () => 4, cacheSize: () => ({ entries: 5, bytes: 1234 }) };
}

/** A fake IPC channel: what is sent, and messages the test delivers. */
class Channel extends EventEmitter implements PrimaryChannel {
  readonly sent: MetricsReply[] = [];
  constructor(private readonly reply: 'ack' | 'never' | 'throw' = 'ack') {
    super();
  }
  send(m: MetricsReply, callback?: (err: Error | null) => void): boolean {
    if (this.reply === 'throw') throw new Error('channel closed');
    this.sent.push(m);
    if (this.reply === 'ack') setImmediate(() => callback?.(null));
    return true;
  }
}

t.test('the exposition of one process: its counters, gauges and histogram, process metrics with its label', async (t) => {
  const text = await renderAggregate(await new ServingMetrics(state(), '3').snapshot());
  for (const line of [
    'fleetserve_http_requests_total{listener="http",method="GET",status_class="2xx"} 2',
    'fleetserve_http_requests_total{listener="http",method="HEAD",status_class="3xx"} 1',
    'fleetserve_http_requests_total{listener="http",method="other",status_class="5xx"} 0',
    'fleetserve_http_response_body_bytes_total{listener="http"} 150',
    'fleetserve_http_not_modified_total{listener="http"} 1',
    'fleetserve_http_partial_content_total{listener="http"} 0',
    'fleetserve_http_responses_by_protocol_total{protocol="HTTP/1.1"} 3',
    'fleetserve_connections_accepted_total 3',
    'fleetserve_file_cache_hits_total 7',
    'fleetserve_file_cache_misses_total 4',
    'fleetserve_connections_open 2',
    'fleetserve_file_cache_entries 5',
    'fleetserve_file_cache_bytes 1234',
    'fleetserve_http_request_duration_seconds_bucket{le="0.0001"} 1',
    'fleetserve_http_request_duration_seconds_bucket{le="0.00025"} 2',
    'fleetserve_http_request_duration_seconds_bucket{le="0.0025"} 2',
    'fleetserve_http_request_duration_seconds_bucket{le="0.005"} 3',
    'fleetserve_http_request_duration_seconds_bucket{le="+Inf"} 3',
    'fleetserve_http_request_duration_seconds_count 3',
  ]) {
    t.ok(text.split('\n').includes(line), line);
  }
  t.match(text, /^process_resident_memory_bytes\{worker="3"\} \d+$/m, 'process metrics carry the worker label');
  t.notMatch(text, /^fleetserve_\w+\{[^}]*worker=/m, 'the fleetserve metrics do not (they are summed)');
  t.notMatch(text, /listener="https"/, 'no series for a listener the process does not have');
  t.notMatch(text, /protocol="HTTP\/2"/, 'nor for HTTP/2 without HTTPS');
  t.notMatch(text, /fleetserve_tls_/, 'no TLS series without an HTTPS listener');
  t.equal(text.split('\n').filter((l) => l.startsWith('fleetserve_http_requests_total{')).length, 20, '4 methods x 5 classes for the one listener');
});

/** An HTTPS listener's state: its counters, and the certificates it serves now (changeable). */
function tlsState(certs: { certFile: string; notAfter: string }[]): TlsState & { certs: typeof certs } {
  const counters = new TlsCounters();
  const state = {
    counters,
    certs,
    certificates: () => state.certs.map((c) => ({ certFile: c.certFile, info: { notAfter: new Date(c.notAfter) } })),
  };
  return state;
}

t.test('with an HTTPS listener: handshakes, failures by reason, one expiry series per certificate in force', async (t) => {
  const tls = tlsState([
    { certFile: '/etc/tls/a.pem', notAfter: '2027-03-01T12:00:00Z' },
    { certFile: '/etc/tls/b "x".pem', notAfter: '2027-01-15T00:00:30Z' },
  ]);
  tls.counters.handshake(false);
  tls.counters.handshake(true);
  tls.counters.handshake(true);
  tls.counters.handshakeFailed('no-shared');
  tls.counters.handshakeFailed('timeout');
  tls.counters.handshakeFailed('timeout');
  const s = state(tls);
  const counters = new RequestCounters(['http', 'https']);
  counters.record('https', 'GET', 200, 7, 0.001);
  counters.record('http', 'GET', 308, 0, 0.001);
  const metrics = new ServingMetrics({ ...s, counters }, '1');
  const lines = (await renderAggregate(await metrics.snapshot())).split('\n');
  const series = (prefix: string) => lines.filter((l) => l.startsWith(prefix));
  t.same(series('fleetserve_tls_'), [
    'fleetserve_tls_handshakes_total{resumed="false"} 1',
    'fleetserve_tls_handshakes_total{resumed="true"} 2',
    'fleetserve_tls_handshake_errors_total{reason="timeout"} 2',
    'fleetserve_tls_handshake_errors_total{reason="protocol"} 0',
    'fleetserve_tls_handshake_errors_total{reason="no_shared_cipher_or_version"} 1',
    'fleetserve_tls_handshake_errors_total{reason="other"} 0',
    `fleetserve_tls_certificate_expiry_timestamp_seconds{file="/etc/tls/a.pem"} ${Date.parse('2027-03-01T12:00:00Z') / 1000}`,
    `fleetserve_tls_certificate_expiry_timestamp_seconds{file="/etc/tls/b \\"x\\".pem"} ${Date.parse('2027-01-15T00:00:30Z') / 1000}`,
  ]);
  t.same(series('fleetserve_http_response_body_bytes_total{'), ['fleetserve_http_response_body_bytes_total{listener="http"} 0', 'fleetserve_http_response_body_bytes_total{listener="https"} 7']);
  t.ok(lines.includes('fleetserve_http_requests_total{listener="https",method="GET",status_class="2xx"} 1'));
  t.ok(lines.includes('fleetserve_http_requests_total{listener="http",method="GET",status_class="3xx"} 1'));
  t.equal(series('fleetserve_http_requests_total{').length, 40, '2 listeners x 4 methods x 5 classes');

  // A reload in place replaced the certificates: the next scrape shows the set in force, and only it.
  tls.certs = [{ certFile: '/etc/tls/a.pem', notAfter: '2027-06-01T00:00:00Z' }];
  const after = (await renderAggregate(await metrics.snapshot())).split('\n').filter((l) => l.startsWith('fleetserve_tls_certificate_'));
  t.same(after, [`fleetserve_tls_certificate_expiry_timestamp_seconds{file="/etc/tls/a.pem"} ${Date.parse('2027-06-01T00:00:00Z') / 1000}`]);
  const final = (await metrics.finalCounts()).map((m) => m.name);
  t.ok(final.includes('fleetserve_tls_handshakes_total') && final.includes('fleetserve_tls_handshake_errors_total'), 'the TLS counters are handed over at exit');
  t.notOk(final.includes('fleetserve_tls_certificate_expiry_timestamp_seconds'), 'the expiry gauge is not');
});

t.test('over workers: TLS counters are summed, each certificate\'s expiry is the soonest any worker serves', async (t) => {
  const file = '/etc/tls/site.pem';
  const old = tlsState([{ certFile: file, notAfter: '2027-01-01T00:00:00Z' }]);
  const renewed = tlsState([{ certFile: file, notAfter: '2027-04-01T00:00:00Z' }]);
  old.counters.handshake(false);
  renewed.counters.handshake(false);
  renewed.counters.handshake(true);
  // A rolling reload half done: one worker still serves the old certificate from the file.
  const snapshots = [...(await new ServingMetrics(state(old), '1').snapshot()), ...(await new ServingMetrics(state(renewed), '2').snapshot())];
  const lines = (await renderAggregate(snapshots)).split('\n');
  t.ok(lines.includes('fleetserve_tls_handshakes_total{resumed="false"} 2'));
  t.ok(lines.includes('fleetserve_tls_handshakes_total{resumed="true"} 1'));
  t.same(lines.filter((l) => l.startsWith('fleetserve_tls_certificate_')), [`fleetserve_tls_certificate_expiry_timestamp_seconds{file="${file}"} ${Date.parse('2027-01-01T00:00:00Z') / 1000}`]);
});

t.test('the final counts at exit are the counters and the histogram, never a gauge', async (t) => {
  const names = (await new ServingMetrics(state(), '1').finalCounts()).map((m) => `${m.name} ${String(m.type)}`);
  t.ok(names.includes('fleetserve_http_requests_total counter'));
  t.ok(names.includes('fleetserve_http_request_duration_seconds histogram'));
  t.notOk(names.some((n) => n.endsWith(' gauge')), names.join(', '));
  t.notOk(names.some((n) => n.startsWith('process_')), 'nor process metrics');
});

t.test('answering the primary: ready at once, a snapshot for each request by its id', async (t) => {
  const channel = new Channel();
  new ServingMetrics(state(), '2').answerPrimary(channel);
  t.same(channel.sent, [{ type: 'metrics-ready' }]);
  channel.emit('message', { cmd: 'reopen' });
  channel.emit('message', { cmd: 'metrics', id: 41 });
  while (channel.sent.length < 2) await new Promise((r) => setImmediate(r));
  const reply = channel.sent[1] as Extract<MetricsReply, { type: 'metrics' }>;
  t.equal(reply.type, 'metrics');
  t.equal(reply.id, 41);
  t.equal(reply.metrics.length, 2, 'both registries');
  t.equal(channel.sent.length, 2, 'a message that is not a metrics request is not answered');
});

t.test('sendFinalCounts resolves once the counts are sent, or without waiting when it cannot send', async (t) => {
  const acked = new Channel('ack');
  await sendFinalCounts(new ServingMetrics(state(), '1'), acked);
  t.equal(acked.sent[0]?.type, 'metrics-final');
  const t0 = performance.now();
  await sendFinalCounts(new ServingMetrics(state(), '1'), new Channel('throw'));
  t.ok(performance.now() - t0 < 500, 'a closed channel: at once');
  const t1 = performance.now();
  await sendFinalCounts(new ServingMetrics(state(), '1'), new Channel('never'));
  const waited = performance.now() - t1;
  t.ok(waited >= 950 && waited < 2000, `no acknowledgement: gave up after ${waited.toFixed(0)} ms (the limit is 1000)`);
});
