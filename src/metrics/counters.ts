/**
 * What a serving process counts per response when metrics are on: plain numbers in typed
 * arrays, so the hot path pays a few increments and a short bucket search (measured: well
 * under 0.1 µs per response) and never a prom-client label lookup. prom-client reads these
 * at scrape time (serving-metrics.ts). This module does not load prom-client, so a
 * connection can hold a RequestCounters without pulling it in.
 */
import type { ListenerName } from '../http/types';
import type { HandshakeFailure } from '../tls/context';

/** Listener label values, in the order of the counters' listener slots. */
export const LISTENER_LABELS: readonly ListenerName[] = ['http', 'https'];
/** Method label values: anything else is "other", so a client cannot grow the label set. */
export const METHOD_LABELS = ['GET', 'HEAD', 'OPTIONS', 'other'] as const;
export const STATUS_CLASS_LABELS = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Protocol label values, in the order of `byProtocol`. */
export const PROTOCOL_LABELS = ['HTTP/1.1', 'HTTP/2'] as const;
/** Upper bounds (seconds) of the request-duration histogram, from a cached hit to a slow disk. */
export const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const STATUS_CLASSES = STATUS_CLASS_LABELS.length;
const PER_LISTENER = METHOD_LABELS.length * STATUS_CLASSES;

/** The slot of a listener in LISTENER_LABELS (and in every per-listener array), without a search on the hot path. */
export function listenerSlot(listener: ListenerName): number {
  return listener === 'http' ? 0 : 1;
}

/**
 * The per-response counts are kept per listener (https, http), so the metrics say which one
 * answered; the duration histogram is not (the time is the same pipeline's whichever
 * listener, and a label would double its 19 series).
 */
export class RequestCounters {
  /** Responses by [listener slot * 20 + method index * 5 + status class index]. */
  readonly requests = new Float64Array(LISTENER_LABELS.length * PER_LISTENER);
  /** Responses per duration bucket, not cumulative; the last slot is above every bound (+Inf). */
  readonly durationCounts = new Float64Array(DURATION_BUCKETS.length + 1);
  durationSeconds = 0;
  /** Body bytes the kernel accepted (as the access log counts them: of a cut response, the part sent), per listener slot. */
  readonly responseBytes = new Float64Array(LISTENER_LABELS.length);
  readonly notModified = new Float64Array(LISTENER_LABELS.length);
  readonly partialContent = new Float64Array(LISTENER_LABELS.length);
  /** Responses by protocol (PROTOCOL_LABELS; HTTP/1.0 counts as HTTP/1.1): how many streams HTTP/2 answers. */
  readonly byProtocol = new Float64Array(PROTOCOL_LABELS.length);
  connectionsAccepted = 0;

  /** `listeners`: the listeners this process has, the only ones its metrics show series for. */
  constructor(readonly listeners: readonly ListenerName[]) {}

  /** One response, complete or cut (its body bytes accepted by the kernel), answered on `listener`; `h2`: on an HTTP/2 stream. */
  record(listener: ListenerName, method: string, status: number, bytes: number, seconds: number, h2 = false): void {
    const l = listenerSlot(listener);
    this.byProtocol[h2 ? 1 : 0]!++;
    const m = method === 'GET' ? 0 : method === 'HEAD' ? 1 : method === 'OPTIONS' ? 2 : 3;
    let c = ((status / 100) | 0) - 1;
    if (c < 0) c = 0;
    else if (c >= STATUS_CLASSES) c = STATUS_CLASSES - 1;
    this.requests[l * PER_LISTENER + m * STATUS_CLASSES + c]!++;
    if (status === 304) this.notModified[l]!++;
    else if (status === 206) this.partialContent[l]!++;
    this.responseBytes[l]! += bytes;
    this.durationSeconds += seconds;
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
    this.durationCounts[b]!++;
  }
}

/**
 * Why a TLS handshake failed, as the metrics label it (a fixed set, documented in
 * docs/operations.md): `no_shared_cipher_or_version` is tls/context.ts's "no-shared" (no
 * version, cipher suite, group, signature algorithm or ALPN protocol in common).
 */
export const HANDSHAKE_ERROR_LABELS = ['timeout', 'protocol', 'no_shared_cipher_or_version', 'other'] as const;
const HANDSHAKE_ERROR_SLOT: Readonly<Record<HandshakeFailure, number>> = { timeout: 0, protocol: 1, 'no-shared': 2, other: 3 };

/** What the HTTPS listener counts when metrics are on: once per connection, never per request. */
export class TlsCounters {
  /** Completed handshakes: [0] full, [1] resumed (a session ticket). */
  readonly handshakes = new Float64Array(2);
  /** Failed handshakes, by the slots of HANDSHAKE_ERROR_LABELS. */
  readonly handshakeErrors = new Float64Array(HANDSHAKE_ERROR_LABELS.length);

  handshake(resumed: boolean): void {
    this.handshakes[resumed ? 1 : 0]!++;
  }

  handshakeFailed(reason: HandshakeFailure): void {
    this.handshakeErrors[HANDSHAKE_ERROR_SLOT[reason]]!++;
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
  /** ACME orders that ended (the first issuance and each renewal), by result. */
  readonly acmeRenewals = { success: 0, failure: 0 };
}
