/**
 * The health check: one path answered before any file lookup (so a file of that name never
 * shadows it, and nothing about it is cached), `200 ok` while the process serves, `503` with
 * Connection: close from the moment a pre-drain or drain begins, so a load balancer or
 * Kubernetes stops sending traffic before connections are refused.
 */
import { plainTextReply } from '../http/respond';
import type { Reply, Request } from '../http/types';

// Built once: a probe every second costs nothing but the write.
const OK: Reply = plainTextReply(200, 'ok\n');
const DRAINING: Reply = plainTextReply(503, 'draining\n', true);
const NO_CERTIFICATE: Reply = plainTextReply(503, 'no certificate yet\n');
const NOT_ALLOWED: Reply = plainTextReply(405, 'method not allowed\n', false, 'Allow: GET, HEAD\r\n');

/**
 * True when `target` (a request-target as sent, query included) asks for `healthPath`:
 * used to keep probes out of the access log without looking at every line twice.
 */
export function isHealthTarget(target: string, healthPath: string): boolean {
  if (healthPath === '' || !target.startsWith(healthPath)) return false;
  return target.length === healthPath.length || target.charCodeAt(healthPath.length) === 63; /* ? */
}

/**
 * The answer to a request for the health path; `stopping` once a pre-drain or drain has
 * begun; `ready` false while HTTPS has no certificate yet (ACME before its first one).
 */
export function healthReply(req: Request, stopping: boolean, ready = true): Reply {
  if (req.method !== 'GET' && req.method !== 'HEAD') return NOT_ALLOWED;
  if (stopping) return DRAINING;
  return ready ? OK : NO_CERTIFICATE;
}
