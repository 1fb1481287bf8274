/**
 * What one connection tells the access log and the metrics about each response it finished:
 * one call per response, nothing at all when both are switched off (the hot path pays a
 * null check).
 */
import type { RequestCounters } from '../metrics/counters';
import type { AccessRecord, Request } from './types';

export type AccessSink = ((record: AccessRecord) => void) | null;

/** The connection's two addresses: the client's (`remote`) and the socket's peer; the same string without a proxy. */
export interface ClientAddresses {
  readonly remote: string;
  readonly peer: string;
}

/** Counts and logs one response; `started` is performance.now() when its head was complete. */
export function reportResponse(onAccess: AccessSink, counters: RequestCounters | null, client: ClientAddresses, req: Request, status: number, bytes: number, started: number): void {
  if (onAccess === null && counters === null) return;
  const ms = performance.now() - started;
  counters?.record(req.method, status, bytes, ms / 1000);
  if (onAccess === null) return;
  const headers = req.headers;
  const fwd = req.forwarded;
  const remote = fwd === undefined ? client.remote : fwd.for;
  onAccess({
    method: req.method,
    path: req.target,
    protocol: req.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
    status,
    bytes,
    ms: Math.round(ms * 1000) / 1000,
    remote,
    referer: headers['referer'] ?? '',
    userAgent: headers['user-agent'] ?? '',
    peer: remote === client.peer ? undefined : client.peer,
    proto: fwd === undefined ? undefined : fwd.proto,
  });
}

/** Counts and logs a refusal sent before any request could be read (a "-" method, path and protocol). */
export function reportRefusal(onAccess: AccessSink, counters: RequestCounters | null, client: ClientAddresses, status: number, bytes: number): void {
  counters?.record('-', status, bytes, 0);
  const { remote, peer } = client;
  onAccess?.({ method: '-', path: '-', protocol: '-', status, bytes, ms: 0, remote, referer: '', userAgent: '', peer: remote === peer ? undefined : peer, proto: undefined });
}
