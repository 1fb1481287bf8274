/**
 * The metrics of one serving process (a cluster worker, or the single process), in
 * prom-client registries. Nothing here runs per request: the connection and the static
 * handler bump plain numbers (counters.ts), and each metric's collect() copies them in when
 * the primary asks for a snapshot. Only loaded when metricsPort is set.
 *
 * Two registries: the fleetserve metrics carry no worker label, so AggregatorRegistry sums
 * them across workers into server-wide totals; prom-client's process metrics (CPU, RSS,
 * event-loop lag, GC) carry `worker`, because a sum of heap sizes or an average of lags
 * across processes means nothing.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { DURATION_BUCKETS, HANDSHAKE_ERROR_LABELS, listenerSlot, METHOD_LABELS, PROTOCOL_LABELS, STATUS_CLASS_LABELS, type RequestCounters, type TlsCounters } from './counters';

/** A registry's metrics as AggregatorRegistry.aggregate() takes them. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** What the HTTPS listener exposes to the metrics. */
export interface TlsState {
  counters: TlsCounters;
  /** The certificates in force when scraped (after a reload in place: the new ones). */
  certificates(): readonly { readonly certFile: string; readonly info: { readonly notAfter: Date } }[];
}

/** Live state a serving process exposes to its metrics. */
export interface ServingState {
  counters: RequestCounters;
  /** Null without an HTTPS listener: then no TLS series at all. */
  tls: TlsState | null;
  openConnections(): number;
  cacheHits(): number;
  cacheMisses(): number;
  cacheSize(): { entries: number; bytes: number };
}

/** IPC between the primary and a worker for one scrape. */
export type MetricsRequest = { cmd: 'metrics'; id: number };
export type MetricsReply = { type: 'metrics'; id: number; metrics: MetricsJson[] } | { type: 'metrics-ready' } | { type: 'metrics-final'; metrics: MetricsJson };

/** How long an exiting worker waits for its final counts to reach the primary. */
const FINAL_SEND_MS = 1000;

/** A worker's end of the IPC channel to the primary: `process`, but for tests. */
export interface PrimaryChannel {
  on(event: 'message', listener: (m: MetricsRequest) => void): unknown;
  send?(m: MetricsReply, callback?: (err: Error | null) => void): boolean;
}

export class ServingMetrics {
  private readonly serving = new Registry();
  private readonly process: Registry;

  constructor(state: ServingState, workerLabel: string) {
    const registers = [this.serving];
    const c = state.counters;
    requestsCounter(registers, c);
    perListener(registers, c, 'fleetserve_http_response_body_bytes_total', 'Body bytes of HTTP responses sent, by the listener that answered (https, http).', c.responseBytes);
    perListener(registers, c, 'fleetserve_http_not_modified_total', '304 Not Modified responses (conditional requests answered from the validator), by listener.', c.notModified);
    perListener(registers, c, 'fleetserve_http_partial_content_total', '206 Partial Content responses (Range requests), by listener.', c.partialContent);
    protocolCounter(registers, c);
    counter(registers, 'fleetserve_connections_accepted_total', 'TCP connections accepted.', () => c.connectionsAccepted);
    counter(registers, 'fleetserve_file_cache_hits_total', 'GET/HEAD requests answered from a fresh file-cache entry.', state.cacheHits);
    counter(registers, 'fleetserve_file_cache_misses_total', 'GET/HEAD requests that needed the file system (not cached, or older than cacheValidMs).', state.cacheMisses);
    gauge(registers, 'fleetserve_connections_open', 'TCP connections open now.', state.openConnections);
    gauge(registers, 'fleetserve_file_cache_entries', 'Entries in the file caches now (summed over workers).', () => state.cacheSize().entries);
    gauge(registers, 'fleetserve_file_cache_bytes', 'Bytes of file bodies held in the file caches now (summed over workers).', () => state.cacheSize().bytes);
    this.serving.registerMetric(durationHistogram(c));
    if (state.tls !== null) tlsMetrics(registers, state.tls);
    this.process = processRegistry(workerLabel);
  }

  /** The monotonic fleetserve metrics (counters, histograms), for the primary to keep. */
  async finalCounts(): Promise<MetricsJson> {
    const all = (await this.serving.getMetricsAsJSON()) as MetricsJson;
    return all.filter((m) => String(m.type) === 'counter' || String(m.type) === 'histogram');
  }

  /** Both registries, for AggregatorRegistry.aggregate(). */
  async snapshot(): Promise<MetricsJson[]> {
    return [await this.serving.getMetricsAsJSON(), await processMetricsJson(this.process)];
  }

  /**
   * Answers the primary's scrape requests over the cluster IPC channel, and tells it when
   * it is ready to: a request sent to a worker that is still starting can be lost (seen on
   * Node 20 under load), so the primary asks only workers that said so.
   */
  answerPrimary(channel: PrimaryChannel = process): void {
    channel.on('message', (m: MetricsRequest) => {
      if (m?.cmd !== 'metrics') return;
      this.snapshot().then(
        (metrics) => sendToPrimary(channel, { type: 'metrics', id: m.id, metrics }),
        () => sendToPrimary(channel, { type: 'metrics', id: m.id, metrics: [] }),
      );
    });
    sendToPrimary(channel, { type: 'metrics-ready' });
  }
}

/**
 * Before a worker exits: hand its counters and histograms (not gauges, which end with it)
 * to the primary, which keeps adding them to the totals. Resolves once sent, or after
 * FINAL_SEND_MS at most: an exit is never held up for long.
 */
export async function sendFinalCounts(metrics: ServingMetrics, channel: PrimaryChannel = process): Promise<void> {
  const counts = await metrics.finalCounts();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, FINAL_SEND_MS);
    try {
      channel.send?.({ type: 'metrics-final', metrics: counts }, () => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

function sendToPrimary(channel: PrimaryChannel, m: MetricsReply): void {
  try {
    channel.send?.(m);
  } catch {
    // The channel closed (the primary is gone): there is nobody to answer.
  }
}

/** Responses by listener, method and status class: series for the listeners the process has. */
function requestsCounter(registers: Registry[], c: RequestCounters): void {
  new Counter({
    name: 'fleetserve_http_requests_total',
    help: 'HTTP responses by the listener that answered (https, http), request method (GET, HEAD, OPTIONS, other) and status class; requests the parser refused count as "other".',
    labelNames: ['listener', 'method', 'status_class'],
    registers,
    collect() {
      this.reset();
      for (const listener of c.listeners) {
        const base = listenerSlot(listener) * METHOD_LABELS.length * STATUS_CLASS_LABELS.length;
        for (let m = 0; m < METHOD_LABELS.length; m++) {
          for (let s = 0; s < STATUS_CLASS_LABELS.length; s++) {
            this.inc({ listener, method: METHOD_LABELS[m], status_class: STATUS_CLASS_LABELS[s] }, c.requests[base + m * STATUS_CLASS_LABELS.length + s]!);
          }
        }
      }
    },
  });
}

/** Responses by protocol: HTTP/2's series only where an HTTPS listener can speak it. */
function protocolCounter(registers: Registry[], c: RequestCounters): void {
  const protocols = c.listeners.includes('https') ? PROTOCOL_LABELS : PROTOCOL_LABELS.slice(0, 1);
  new Counter({
    name: 'fleetserve_http_responses_by_protocol_total',
    help: 'HTTP responses by protocol: HTTP/1.1 (HTTP/1.0 included) or HTTP/2 (a stream of an HTTP/2 connection).',
    labelNames: ['protocol'],
    registers,
    collect() {
      this.reset();
      protocols.forEach((protocol, i) => this.inc({ protocol }, c.byProtocol[i]!));
    },
  });
}

/** A counter with one series per listener of the process, read from a per-listener array. */
function perListener(registers: Registry[], c: RequestCounters, name: string, help: string, values: Float64Array): void {
  new Counter({
    name,
    help,
    labelNames: ['listener'],
    registers,
    collect() {
      this.reset();
      for (const listener of c.listeners) this.inc({ listener }, values[listenerSlot(listener)]!);
    },
  });
}

/**
 * The HTTPS listener's metrics. The expiry gauge is combined over workers with "min": during
 * a rolling reload old and new workers may serve different certificates from one file, and the
 * one that expires first is what an expiry alert must see.
 */
function tlsMetrics(registers: Registry[], tls: TlsState): void {
  const c = tls.counters;
  new Counter({
    name: 'fleetserve_tls_handshakes_total',
    help: 'TLS handshakes completed on the HTTPS listener; resumed="true": with a session ticket (no full handshake).',
    labelNames: ['resumed'],
    registers,
    collect() {
      this.reset();
      this.inc({ resumed: 'false' }, c.handshakes[0]!);
      this.inc({ resumed: 'true' }, c.handshakes[1]!);
    },
  });
  new Counter({
    name: 'fleetserve_tls_handshake_errors_total',
    help: 'TLS handshakes that failed, by reason: timeout (no complete handshake within headersTimeoutMs), protocol (not TLS: garbage, malformed records, plain-text HTTP), no_shared_cipher_or_version, other.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (let r = 0; r < HANDSHAKE_ERROR_LABELS.length; r++) this.inc({ reason: HANDSHAKE_ERROR_LABELS[r] }, c.handshakeErrors[r]!);
    },
  });
  new Gauge({
    name: 'fleetserve_tls_certificate_expiry_timestamp_seconds',
    help: 'The notAfter of each configured certificate (label file: its certificate file) as a Unix time in seconds; over workers, the soonest.',
    labelNames: ['file'],
    aggregator: 'min',
    registers,
    collect() {
      this.reset();
      for (const pair of tls.certificates()) this.set({ file: pair.certFile }, Math.floor(pair.info.notAfter.getTime() / 1000));
    },
  });
}

/** A counter whose value is read from a plain number at scrape time (the primary's too). */
export function counter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function gauge(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/**
 * prom-client's Histogram can only be fed one observation at a time; the bucket counts are
 * already kept per request in counters.ts, so this is a metric object in the shape prom-client
 * itself registers for aggregated metrics (name, help, type, aggregator, get()).
 */
function durationHistogram(c: RequestCounters): Metric {
  const name = 'fleetserve_http_request_duration_seconds';
  const help = 'Time from a complete request head to the last byte of the response handed to the kernel.';
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const values: MetricValue<string>[] = [];
      let cumulative = 0;
      for (let b = 0; b <= DURATION_BUCKETS.length; b++) {
        cumulative += c.durationCounts[b]!;
        values.push({ metricName: `${name}_bucket`, labels: { le: b < DURATION_BUCKETS.length ? DURATION_BUCKETS[b]! : '+Inf' }, value: cumulative } as MetricValue<string>);
      }
      values.push({ metricName: `${name}_sum`, labels: {}, value: c.durationSeconds } as MetricValue<string>);
      values.push({ metricName: `${name}_count`, labels: {}, value: cumulative } as MetricValue<string>);
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  return metric as unknown as Metric;
}

/** prom-client's default process metrics, each labelled with the process they describe. */
export function processRegistry(workerLabel: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ worker: workerLabel });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Every value carries its process's `worker` label, so no two processes' values are ever
 * combined; the aggregator is set to "first" so that none is dropped either (prom-client
 * marks process_start_time_seconds "omit" for aggregation).
 */
export async function processMetricsJson(registry: Registry): Promise<MetricsJson> {
  const metrics = (await registry.getMetricsAsJSON()) as MetricsJson;
  return metrics.map((m) => ({ ...m, aggregator: 'first' }));
}
