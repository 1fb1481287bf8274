/**
 * What a serving process counts per response when metrics are on: plain numbers in typed
 * arrays, so the hot path pays a few increments and a short bucket search (measured: well
 * under 0.1 µs per response) and never a prom-client label lookup. prom-client reads these
 * at scrape time (serving-metrics.ts). This module does not load prom-client, so a
 * connection can hold a RequestCounters without pulling it in.
 */

/** Method label values: anything else is "other", so a client cannot grow the label set. */
export const METHOD_LABELS = ['GET', 'HEAD', 'OPTIONS', 'other'] as const;
export const STATUS_CLASS_LABELS = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Upper bounds (seconds) of the request-duration histogram, from a cached hit to a slow disk. */
export const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const STATUS_CLASSES = STATUS_CLASS_LABELS.length;

export class RequestCounters {
  /** Responses by [method index * 5 + status class index]. */
  readonly requests = new Float64Array(METHOD_LABELS.length * STATUS_CLASSES);
  /** Responses per duration bucket, not cumulative; the last slot is above every bound (+Inf). */
  readonly durationCounts = new Float64Array(DURATION_BUCKETS.length + 1);
  durationSeconds = 0;
  /** Body bytes the kernel accepted (as the access log counts them: of a cut response, the part sent). */
  responseBytes = 0;
  notModified = 0;
  partialContent = 0;
  connectionsAccepted = 0;

  /** One response, complete or cut (its body bytes accepted by the kernel). */
  record(method: string, status: number, bytes: number, seconds: number): void {
    const m = method === 'GET' ? 0 : method === 'HEAD' ? 1 : method === 'OPTIONS' ? 2 : 3;
    let c = ((status / 100) | 0) - 1;
    if (c < 0) c = 0;
    else if (c >= STATUS_CLASSES) c = STATUS_CLASSES - 1;
    this.requests[m * STATUS_CLASSES + c]!++;
    if (status === 304) this.notModified++;
    else if (status === 206) this.partialContent++;
    this.responseBytes += bytes;
    this.durationSeconds += seconds;
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
    this.durationCounts[b]!++;
  }
}

/**
 * What the primary counts, as plain numbers whether metrics are on or off (so the code that
 * counts needs no check): read by PrimaryMetrics (metrics-server.ts) at scrape time.
 */
export class PrimaryCounters {
  /** Workers that died unexpectedly and were replaced. */
  workerRestarts = 0;
  /** Drain requests sent to workers (SIGINT/SIGTERM, and each worker a reload retires). */
  workerDrains = 0;
  /** Configuration reloads (SIGHUP) that began replacing workers: the reload code adds 1. */
  reloads = 0;
}
