/**
 * What one connection tells the access log and the metrics about each response it finished:
 * one call per response, nothing at all when both are switched off (the hot path pays a
 * null check).
 */
import type { RequestCounters } from '../metrics/counters';
import type { AccessRecord, CutReason, LoggedRequest } from './types';

export type AccessSink = ((record: AccessRecord) => void) | null;

/**
 * Counts and logs one response; `started` is performance.now() when its head was complete.
 * `req` null: a head refused before its request line was valid ("-" method, path, protocol).
 * `reason` null: the kernel accepted every byte of it; `bytes` are the body bytes it accepted.
 */
export function reportResponse(
  onAccess: AccessSink,
  counters: RequestCounters | null,
  remote: string,
  req: LoggedRequest | null,
  status: number,
  bytes: number,
  reason: CutReason | null,
  started: number,
): void {
  if (onAccess === null && counters === null) return;
  const ms = performance.now() - started;
  counters?.record(req === null ? '-' : req.method, status, bytes, ms / 1000);
  if (onAccess === null) return;
  if (req === null) {
    onAccess({ method: '-', path: '-', protocol: '-', status, bytes, completed: reason === null, reason, ms: Math.round(ms * 1000) / 1000, remote, referer: '', userAgent: '' });
    return;
  }
  const headers = req.headers;
  onAccess({
    method: req.method,
    path: req.target,
    protocol: req.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
    status,
    bytes,
    completed: reason === null,
    reason,
    ms: Math.round(ms * 1000) / 1000,
    remote,
    referer: headers['referer'] ?? '',
    userAgent: headers['user-agent'] ?? '',
  });
}
