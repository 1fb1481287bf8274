/**
 * An HTTP/2 request's header list → the same Request the HTTP/1.1 parser makes (pure). nghttp2
 * has already framed it, decoded HPACK and refused what RFC 9113 §8.2 calls malformed at the
 * framing level (upper-case names, pseudo-header fields after regular ones); what is checked
 * here is what the HTTP/1.1 parser checks, with the same strictness, plus the pseudo-header
 * rules of §8.3.1 — so that a request refused on one protocol is refused on the other.
 *
 * A refusal is either a stream error (a malformed request, §8.1.1: RST_STREAM with
 * PROTOCOL_ERROR, no response) or a status the HTTP/1.1 parser would answer (413 for a body,
 * 431 for too many fields): HTTP/2 frames every message, so nothing is ambiguous and the
 * connection stays open either way.
 */
import { DEFAULT_LIMITS, isRequestTarget, isValidAuthority } from '../http/parse';
import { isFieldValue, isToken } from '../http/token';
import type { LoggedRequest, Request } from '../http/types';

export type H2RequestResult =
  | { kind: 'request'; request: Request }
  /** Malformed (RFC 9113 §8.1.1): reset the stream with PROTOCOL_ERROR; `reason` for tests and debug logs. */
  | { kind: 'malformed'; reason: string }
  /** Well-formed but refused as HTTP/1.1 refuses it: answer `status`; `request` is for the access log. */
  | { kind: 'refused'; status: 400 | 413 | 431; reason: string; request: LoggedRequest };

/**
 * Fields that make sense only on an HTTP/1.1 connection: a request carrying one is malformed
 * (§8.2.2); TE is allowed with the value "trailers" only.
 */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

const PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);

/**
 * `raw` is the header list as received, names and values alternating (the `rawHeaders` of
 * node:http2's 'stream' event); `endStream` whether the HEADERS frame ended the stream (no
 * body follows); `scheme` the listener's (https: cleartext HTTP/2 is not served, but the
 * session itself does not depend on TLS and is tested without it).
 */
export function requestFromHeaderList(raw: readonly string[], endStream: boolean, scheme: 'https' | 'http' = 'https', maxHeaders = DEFAULT_LIMITS.maxHeaders): H2RequestResult {
  const pseudo: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let hosts = 0;
  let count = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 0x3a /* ":" */) {
      if (!PSEUDO.has(name)) return malformed(`unknown pseudo-header field ${name}`);
      if (pseudo[name] !== undefined) return malformed(`duplicate ${name}`);
      if (count > 0) return malformed(`${name} after a regular field`);
      pseudo[name] = value;
      continue;
    }
    const bad = checkField(name, value);
    if (bad !== null) return malformed(bad);
    if (++count > maxHeaders) return refused(431, 'too many header fields', pseudo, headers);
    if (name === 'host') hosts++;
    const prev = headers[name];
    // Cookie crumbs are joined with "; " (RFC 9113 §8.2.3), every other repeated field with ", ".
    headers[name] = prev === undefined ? value : prev + (name === 'cookie' ? '; ' : ', ') + value;
  }
  return requestOf(pseudo, headers, hosts, endStream, scheme);
}

/** A regular field's name and value as the HTTP/1.1 parser accepts them, and none of HTTP/1.1's own. */
function checkField(name: string, value: string): string | null {
  if (!isToken(name) || name !== name.toLowerCase()) return `malformed field name ${JSON.stringify(name)}`;
  if (!isFieldValue(value) || value !== value.trim()) return `invalid field value of ${name}`;
  if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
  if (name === 'te' && value !== 'trailers') return 'TE other than "trailers"';
  return null;
}

function requestOf(pseudo: Record<string, string>, headers: Record<string, string>, hosts: number, endStream: boolean, scheme: string): H2RequestResult {
  const method = pseudo[':method'];
  const target = pseudo[':path'];
  if (method === undefined || !isToken(method)) return malformed('missing or malformed :method');
  if (method === 'CONNECT') return malformed('CONNECT is not supported');
  if (pseudo[':scheme'] !== scheme) return malformed(`:scheme is not ${scheme}`);
  if (target === undefined || target === '') return malformed('missing :path');
  if (target.charCodeAt(0) !== 0x2f && !(target === '*' && method === 'OPTIONS')) return malformed(`malformed :path ${JSON.stringify(target)}`);
  if (!isRequestTarget(target)) return malformed('invalid byte in :path');
  if (hosts > 1) return refused(400, 'duplicate Host header field', pseudo, headers);
  const authority = pseudo[':authority'];
  // §8.3.1: :authority when there is one; a Host beside it must name the same.
  const host = authority ?? headers.host;
  if (host === undefined || !isValidAuthority(host)) return refused(400, host === undefined ? 'missing :authority' : 'invalid :authority', pseudo, headers);
  if (authority !== undefined && headers.host !== undefined && headers.host.toLowerCase() !== authority.toLowerCase()) {
    return refused(400, 'Host differs from :authority', pseudo, headers);
  }
  const cl = headers['content-length'];
  if (cl !== undefined && !/^\d+$/.test(cl)) return malformed('invalid content-length');
  // A static server takes no request bodies: DATA frames after HEADERS, or a length above 0.
  if (!endStream || (cl !== undefined && !/^0+$/.test(cl))) return refused(413, 'request bodies are not accepted', pseudo, headers);
  const qm = target.indexOf('?');
  const path = qm === -1 ? target : target.slice(0, qm);
  const query = qm === -1 ? '' : target.slice(qm);
  return { kind: 'request', request: { method, target, path, query, minor: 1, headers, host, keepAlive: true } };
}

function malformed(reason: string): H2RequestResult {
  return { kind: 'malformed', reason };
}

function refused(status: 400 | 413 | 431, reason: string, pseudo: Record<string, string>, headers: Record<string, string>): H2RequestResult {
  return { kind: 'refused', status, reason, request: { method: pseudo[':method'] ?? '', target: pseudo[':path'] ?? '', minor: 1, headers } };
}
