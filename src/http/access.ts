/**
 * What one connection tells the access log and the metrics about each response it finished:
 * one call per response, nothing at all when both are switched off (the hot path pays a
 * null check).
 */
import type { RequestCounters } from '../metrics/counters';
import type { AccessRecord, CutReason, ListenerInfo, LoggedRequest } from './types';

export type AccessSink = ((record: AccessRecord) => void) | null;

/**
 * The connection's two addresses: the client's (`remote`) and the socket's peer, the same
 * string without a proxy; and the listener it came in on.
 */
export interface ClientAddresses {
  readonly remote: string;
  readonly peer: string;
  readonly listener: ListenerInfo;
}

/**
 * Counts and logs one response; `started` is performance.now() when its head was complete.
 * `req` null: a head refused before its request line was valid ("-" method, path, protocol).
 * `reason` null: the kernel accepted every byte of it; `bytes` are the body bytes it accepted.
 * A trusted proxy's X-Forwarded-For (`req.forwarded`) names the client over the connection's.
 */
export function reportResponse(
  onAccess: AccessSink,
  counters: RequestCounters | null,
  client: ClientAddresses,
  req: LoggedRequest | null,
  status: number,
  bytes: number,
  reason: CutReason | null,
  started: number,
): void {
  if (onAccess === null && counters === null) return;
  const ms = performance.now() - started;
  const listener = client.listener;
  counters?.record(listener.name, req === null ? '-' : req.method, status, bytes, ms / 1000, req !== null && req.protocol === 'HTTP/2.0');
  if (onAccess === null) return;
  const fwd = req === null ? undefined : req.forwarded;
  const remote = fwd === undefined ? client.remote : fwd.for;
  const peer = remote === client.peer ? undefined : client.peer;
  const proto = fwd === undefined ? undefined : fwd.proto;
  const rounded = Math.round(ms * 1000) / 1000;
  if (req === null) {
    onAccess({ method: '-', path: '-', protocol: '-', status, bytes, completed: reason === null, reason, ms: rounded, remote, referer: '', userAgent: '', peer, proto, listener: listener.name, tls: listener.tls });
    return;
  }
  const headers = req.headers;
  onAccess({
    method: req.method,
    path: req.target,
    protocol: req.protocol ?? (req.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0'),
    status,
    bytes,
    completed: reason === null,
    reason,
    ms: rounded,
    remote,
    referer: headers['referer'] ?? '',
    userAgent: headers['user-agent'] ?? '',
    peer,
    proto,
    listener: listener.name,
    tls: listener.tls,
  });
}
