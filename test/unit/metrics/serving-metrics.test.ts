// One serving process's metrics in-process: the exposition of its counters (method × status
// class, bytes, cache, connections, the duration histogram), what it hands over at exit, and
// its answers to the primary over a fake IPC channel.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { RequestCounters } from '../../../src/metrics/counters';
import { renderAggregate } from '../../../src/metrics/metrics-server';
import { sendFinalCounts, ServingMetrics, type MetricsReply, type PrimaryChannel, type ServingState } from '../../../src/metrics/serving-metrics';

function state(): ServingState & { counters: RequestCounters } {
  const counters = new RequestCounters();
  counters.record('GET', 200, 100, 0.0002);
  counters.record('GET', 200, 50, 0.003);
  counters.record('HEAD', 304, 0, 0.00005);
  counters.connectionsAccepted = 3;
  return { counters, openConnections: () => 2, cacheHits: () => 7, cacheMisses: () => 4, cacheSize: () => ({ entries: 5, bytes: 1234 }) };
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
    'fleetserve_http_requests_total{method="GET",status_class="2xx"} 2',
    'fleetserve_http_requests_total{method="HEAD",status_class="3xx"} 1',
    'fleetserve_http_requests_total{method="other",status_class="5xx"} 0',
    'fleetserve_http_response_body_bytes_total 150',
    'fleetserve_http_not_modified_total 1',
    'fleetserve_http_partial_content_total 0',
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
