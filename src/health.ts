/**
 * The health check: one path answered before any file lookup (so a file of that name never
 * shadows it, and nothing about it is cached), `200 ok` while the process serves, `503` with
 * Connection: close from the moment a pre-drain or drain begins, so a load balancer or
 * Kubernetes stops sending traffic before connections are refused.
 */
import { SERVER_HEADERS } from './http/respond';
import type { Reply, Request } from './http/types';

const TEXT_HEADERS = `Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n${SERVER_HEADERS}`;
const OK_BODY = Buffer.from('ok\n');
const DRAINING_BODY = Buffer.from('draining\n');
const NOT_ALLOWED_BODY = Buffer.from('method not allowed\n');

const OK: Reply = { status: 200, headers: `${TEXT_HEADERS}Content-Length: ${OK_BODY.length}\r\n`, body: OK_BODY };
const DRAINING: Reply = {
  status: 503,
  headers: `${TEXT_HEADERS}Content-Length: ${DRAINING_BODY.length}\r\n`,
  body: DRAINING_BODY,
  close: true,
  note: 'draining',
};
const NOT_ALLOWED: Reply = {
  status: 405,
  headers: `${TEXT_HEADERS}Allow: GET, HEAD\r\nContent-Length: ${NOT_ALLOWED_BODY.length}\r\n`,
  body: NOT_ALLOWED_BODY,
};

/**
 * True when `target` (a request-target as sent, query included) asks for `healthPath`:
 * used to keep probes out of the access log without looking at every line twice.
 */
export function isHealthTarget(target: string, healthPath: string): boolean {
  if (healthPath === '' || !target.startsWith(healthPath)) return false;
  return target.length === healthPath.length || target.charCodeAt(healthPath.length) === 63; /* ? */
}

/** The answer to a request for the health path; `stopping` once a pre-drain or drain has begun. */
export function healthReply(req: Request, stopping: boolean): Reply {
  if (req.method !== 'GET' && req.method !== 'HEAD') return NOT_ALLOWED;
  return stopping ? DRAINING : OK;
}
