/**
 * A strict HTTP/1.1 request-head parser (RFC 9112 §2–§3, §5, §6; RFC 9110 §5).
 *
 * Pure: bytes in, a Request or a refusal out. A static server takes no request bodies, so
 * anything that could frame one (Transfer-Encoding, Content-Length > 0) or that two parsers
 * might read differently (obs-fold, bare CR or LF, control bytes, duplicate Host, whitespace
 * before the colon) is refused rather than guessed at: refusing is what keeps request
 * smuggling through a proxy in front of us impossible.
 *
 * It works on bytes with lookup tables, and makes strings only of what it keeps. Longer than
 * the ~300 lines other modules keep to: it is one grammar (request line, fields, target
 * forms, Host), and its refusals read best in the order the bytes arrive.
 */
import net from 'node:net';
import { isAllDigits, isDigit, isHexDigit, isPersistent, TCHAR } from './token';
import type { LoggedRequest, ParseErrorStatus, ParseResult, Request } from './types';

export interface Limits {
  /** Longest head, request line to the blank line included, before 431. */
  maxHeadBytes: number;
  /** Longest request-target before 414. */
  maxTargetBytes: number;
  /** Most header fields before 431. */
  maxHeaders: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxHeadBytes: 16 * 1024,
  maxTargetBytes: 8 * 1024,
  maxHeaders: 100,
});

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const HASH = 35;
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');
/** RFC 9112 §2.2 asks servers to skip at least one empty line before a request line. */
export const MAX_LEADING_EMPTY_LINES = 4;


/** field-value bytes (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text. CR, LF, NUL and other controls are not. */
const FIELD_VALUE = new Uint8Array(256);
FIELD_VALUE[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) FIELD_VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE[c] = 1;

/** request-target bytes: visible ASCII; a fragment ("#") is never part of a request-target. */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
TARGET[HASH] = 0;

/** Whether every character of `s` is a request-target byte, as the request line is read (HTTP/2's :path). */
export function isRequestTarget(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!TARGET[s.charCodeAt(i)]) return false;
  return true;
}

/** reg-name bytes (RFC 3986 §3.2.2): unreserved, sub-delims and "%" (checked as pct-encoded). */
const REG_NAME = new Uint8Array(256);
// Except ",": "a, b" is what two Host fields look like once a proxy combined them (RFC 9110 §5.3).
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+;=%") REG_NAME[c.charCodeAt(0)] = 1;
/** IPvFuture's tail (RFC 3986 §3.2.2): unreserved, sub-delims and ":". */
const IP_FUTURE = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:") IP_FUTURE[c.charCodeAt(0)] = 1;

/**
 * The header map: an object whose prototype chain holds nothing, so "__proto__" or
 * "constructor" are ordinary field names. (Object.create(null) gives the same safety but
 * starts in slow dictionary mode: 40x slower per request than this in V8.)
 */
const HeaderFields = function HeaderFields() {} as unknown as new () => object;
HeaderFields.prototype = Object.create(null);

/** A refusal before the request line was read as valid: the log shows "-" for it. */
function refuse(status: ParseErrorStatus, reason: string): ParseResult {
  return { kind: 'error', status, reason, request: null };
}

/**
 * A refusal after a valid request line: it carries the method, target, version and the
 * header fields parsed so far, so the access log shows what the client asked for.
 */
function refuseRequest(status: ParseErrorStatus, reason: string, method: string, target: string, minor: 0 | 1, headers: Record<string, string>): ParseResult {
  const request: LoggedRequest = { method, target, minor, headers };
  return { kind: 'error', status, reason, request };
}

/**
 * Parses one request head starting at `start`. Bytes after it (pipelined requests) are left
 * for the next call. An incomplete head is reported as such unless what has arrived already
 * breaks a size limit, so a client cannot make us buffer without bound.
 *
 * Longer than the house's ~70 lines on purpose: it is the RFC 9112 §2–§5 grammar as one pass
 * over the bytes (request line, then each field line), every refusal next to the rule it
 * enforces. Split into per-rule calls, the hot path would pay a call and a returned position
 * per field, and the reader would lose the order in which the grammar is checked.
 */
export function parseRequestHead(
  buf: Buffer,
  start = 0,
  end = buf.length,
  limits: Partial<Limits> = DEFAULT_LIMITS,
): ParseResult {
  const maxHead = limits.maxHeadBytes ?? DEFAULT_LIMITS.maxHeadBytes;
  const maxTarget = limits.maxTargetBytes ?? DEFAULT_LIMITS.maxTargetBytes;
  const maxHeaders = limits.maxHeaders ?? DEFAULT_LIMITS.maxHeaders;

  let p = start;
  for (let n = 0; n < MAX_LEADING_EMPTY_LINES && p + 1 < end && buf[p] === CR && buf[p + 1] === LF; n++) p += 2;
  const headStart = p;

  let headEnd = buf.indexOf(CRLF2, headStart);
  if (headEnd !== -1 && headEnd + 4 > end) headEnd = -1;
  if (headEnd === -1) return checkIncomplete(buf, headStart, end, maxHead, maxTarget);

  // Request line: method SP request-target SP HTTP-version CRLF
  let i = headStart;
  while (TCHAR[buf[i]!]) i++;
  if (i === headStart || buf[i] !== SP) return refuse(400, 'malformed request line');
  const method = buf.toString('latin1', headStart, i);
  const targetStart = i + 1;
  let j = targetStart;
  while (TARGET[buf[j]!]) j++;
  if (j - targetStart > maxTarget) return refuse(414, 'request-target too long');
  if (j === targetStart || buf[j] !== SP) return refuse(400, 'malformed request-target');
  const v = j + 1;
  if (
    buf[v] !== 0x48 || buf[v + 1] !== 0x54 || buf[v + 2] !== 0x54 || buf[v + 3] !== 0x50 || // HTTP
    buf[v + 4] !== 0x2f || !isDigit(buf[v + 5]!) || buf[v + 6] !== 0x2e || !isDigit(buf[v + 7]!) ||
    buf[v + 8] !== CR || buf[v + 9] !== LF
  ) {
    return refuse(400, 'malformed HTTP version');
  }
  // RFC 9113 §11.6 registers PRI for the HTTP/2 connection preface ("PRI * HTTP/2.0\r\n\r\nSM"):
  // no client sends it as a request, so it is an h2c (cleartext HTTP/2) client talking to an
  // HTTP/1.1 port. Refused as malformed (400, closed), before its version would make it a 505:
  // h2c is not served, and no HTTP/1.1 request is ever read from the frames that follow.
  if (method === 'PRI') return refuse(400, 'HTTP/2 connection preface on an HTTP/1.1 port (h2c is not served)');
  if (buf[v + 5] !== 0x31) return refuse(505, 'HTTP version not supported');
  // Any HTTP/1.x above 1.1 is answered as 1.1 (RFC 9110 §2.5).
  const minor: 0 | 1 = buf[v + 7] === 0x30 ? 0 : 1;
  const target = buf.toString('latin1', targetStart, j);
  // From here on a refusal carries what the request line (and the fields so far) said.
  const headers = new HeaderFields() as Record<string, string>;

  if (headEnd + 4 - headStart > maxHead) return refuseRequest(431, 'request header section too large', method, target, minor, headers);

  // Header fields, one per CRLF-terminated line, until the empty line at headEnd + 2.
  let count = 0;
  let hostCount = 0;
  let q = v + 10;
  const fieldsEnd = headEnd + 2;
  while (q < fieldsEnd) {
    if (buf[q] === SP || buf[q] === HTAB) return refuseRequest(400, 'obsolete line folding', method, target, minor, headers);
    let k = q;
    while (TCHAR[buf[k]!]) k++;
    if (k === q || buf[k] !== COLON) return refuseRequest(400, 'malformed header field name', method, target, minor, headers);
    let vs = k + 1;
    let ve = vs;
    while (FIELD_VALUE[buf[ve]!]) ve++;
    // The value must stop exactly at CRLF: a bare CR, a bare LF or a control byte ends it early.
    if (buf[ve] !== CR || buf[ve + 1] !== LF) return refuseRequest(400, 'invalid byte in header field value', method, target, minor, headers);
    const next = ve + 2;
    while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
    if (++count > maxHeaders) return refuseRequest(431, 'too many header fields', method, target, minor, headers);
    const name = lowerToken(buf, q, k);
    const value = buf.toString('latin1', vs, ve);
    if (name === 'host') hostCount++;
    const prev = headers[name];
    headers[name] = prev === undefined ? value : prev + ', ' + value;
    q = next;
  }

  if (hostCount > 1) return refuseRequest(400, 'duplicate Host header field', method, target, minor, headers);
  if (headers['transfer-encoding'] !== undefined) return refuseRequest(400, 'request bodies are not accepted (Transfer-Encoding)', method, target, minor, headers);
  const cl = headers['content-length'];
  if (cl !== undefined) {
    if (!isAllDigits(cl)) return refuseRequest(400, 'invalid Content-Length', method, target, minor, headers);
    if (!isAllZeros(cl)) return refuseRequest(413, 'request bodies are not accepted (Content-Length > 0)', method, target, minor, headers);
  }

  let host = headers.host;
  if (host === undefined) {
    if (minor === 1) return refuseRequest(400, 'missing Host header field', method, target, minor, headers);
    host = '';
  } else if (!isValidAuthority(host)) {
    return refuseRequest(400, 'invalid Host header field', method, target, minor, headers);
  }

  let path: string;
  let query = '';
  const c0 = target.charCodeAt(0);
  if (c0 === 0x2f /* "/" */) {
    const qm = target.indexOf('?');
    path = qm === -1 ? target : target.slice(0, qm);
    if (qm !== -1) query = target.slice(qm);
  } else if (target === '*') {
    path = '*';
  } else {
    const abs = splitAbsoluteForm(target);
    if (abs === null) {
      // authority-form (RFC 9112 §3.2.3) is CONNECT's, for proxies: a static server has no tunnel to open.
      return refuseRequest(400, method === 'CONNECT' ? 'CONNECT is not supported' : 'unsupported request-target form', method, target, minor, headers);
    }
    // RFC 9112 §3.2.2: the authority in an absolute-form target replaces the Host field.
    host = abs.authority;
    path = abs.path;
    query = abs.query;
  }

  // RFC 9112 §3.2: each form belongs to its methods. A request line that is not even of its
  // method's own form (CONNECT /x, GET *) is not a request we misunderstood but a broken one:
  // refuse it and close, as for any other malformed request line.
  if (method === 'CONNECT') return refuseRequest(400, 'CONNECT needs an authority-form target', method, target, minor, headers);
  if (path === '*' && method !== 'OPTIONS') return refuseRequest(400, 'asterisk-form is for OPTIONS only', method, target, minor, headers);

  const request: Request = {
    method,
    target,
    path,
    query,
    minor,
    headers,
    host,
    keepAlive: isPersistent(headers.connection, minor),
  };
  return { kind: 'request', request, consumed: headEnd + 4 - start };
}

/** What an incomplete head may already tell: a limit it has broken. */
function checkIncomplete(buf: Buffer, headStart: number, end: number, maxHead: number, maxTarget: number): ParseResult {
  // The request line (whole or in part) shows the target's length before the head is complete.
  const lf = buf.indexOf(LF, headStart);
  const lineEnd = lf === -1 || lf >= end ? end : lf;
  const sp = buf.indexOf(SP, headStart);
  if (sp !== -1 && sp < lineEnd) {
    const sp2 = buf.indexOf(SP, sp + 1);
    const targetEnd = sp2 === -1 || sp2 >= lineEnd ? lineEnd : sp2;
    if (targetEnd - sp - 1 > maxTarget) return refuse(414, 'request-target too long');
  }
  if (end - headStart > maxHead) return refuse(431, 'request header section too large');
  // A head that uses bare LF (or bare CR) line ends would never show CRLF CRLF: refuse it now
  // instead of waiting for the headers timeout.
  for (let i = headStart; i < end; i++) {
    const c = buf[i];
    if (c === LF && (i === headStart || buf[i - 1] !== CR)) return refuse(400, 'bare LF in request head');
    if (c === CR && i + 1 < end && buf[i + 1] !== LF) return refuse(400, 'bare CR in request head');
  }
  return { kind: 'incomplete' };
}

function isAllZeros(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 0x30) return false;
  return true;
}

/**
 * Field names that browsers, curl and load tools send, interned by length: a name that
 * matches one (case-insensitively) costs a byte comparison instead of a new string and a
 * toLowerCase(). Anything else is lower-cased the ordinary way.
 */
const KNOWN_NAMES: string[][] = [];
for (const name of [
  'host', 'connection', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'cache-control',
  'pragma', 'referer', 'cookie', 'origin', 'range', 'if-range', 'if-none-match', 'if-modified-since',
  'if-match', 'if-unmodified-since', 'content-length', 'transfer-encoding', 'upgrade-insecure-requests',
  'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest', 'sec-fetch-user', 'sec-ch-ua', 'sec-ch-ua-mobile',
  'sec-ch-ua-platform', 'dnt', 'priority', 'te', 'x-forwarded-for', 'x-forwarded-proto', 'x-real-ip',
  'authorization', 'keep-alive', 'purpose', 'sec-purpose',
]) {
  (KNOWN_NAMES[name.length] ??= []).push(name);
}

/** The lower-cased field name in buf[from, to) (a token: ASCII only). */
function lowerToken(buf: Buffer, from: number, to: number): string {
  const candidates = KNOWN_NAMES[to - from];
  if (candidates !== undefined) {
    next: for (const name of candidates) {
      for (let i = 0; i < name.length; i++) {
        const c = buf[from + i]!;
        // ASCII letters differ from their lower case by 0x20 only; other tchars must match exactly.
        if (c !== name.charCodeAt(i) && !(c >= 0x41 && c <= 0x5a && (c | 0x20) === name.charCodeAt(i))) continue next;
      }
      return name;
    }
  }
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) return buf.toString('latin1', from, to).toLowerCase();
  }
  return buf.toString('latin1', from, to);
}

/**
 * Host = uri-host [ ":" port ] (RFC 9110 §7.2), with uri-host = IP-literal / IPv4address /
 * reg-name and port = *DIGIT (RFC 3986 §3.2.2–3.2.3). Empty is refused: an "http" URI with an
 * empty host is invalid (RFC 9110 §4.2.1). No userinfo: "user@host" is not a Host; no ","
 * in a reg-name (see REG_NAME).
 */
export function isValidAuthority(authority: string): boolean {
  const n = authority.length;
  if (n === 0) return false;
  let i: number;
  if (authority.charCodeAt(0) === 0x5b /* "[" */) {
    const close = authority.indexOf(']');
    if (close === -1 || !isIpLiteral(authority.slice(1, close))) return false;
    i = close + 1;
  } else {
    i = 0;
    while (i < n && authority.charCodeAt(i) !== COLON) {
      const c = authority.charCodeAt(i);
      if (c > 0xff || !REG_NAME[c]) return false;
      if (c === 0x25 /* "%" */ && !(isHexDigit(authority.charCodeAt(i + 1)) && isHexDigit(authority.charCodeAt(i + 2)))) return false;
      i++;
    }
    if (i === 0) return false; // ":80" has no host
  }
  if (i === n) return true;
  if (authority.charCodeAt(i) !== COLON) return false;
  for (let k = i + 1; k < n; k++) if (!isDigit(authority.charCodeAt(k))) return false;
  return true;
}

/** The inside of "[...]": an IPv6 address or IPvFuture ("v" 1*HEXDIG "." 1*(unreserved / sub-delims / ":")). */
function isIpLiteral(inside: string): boolean {
  if (inside.length > 0 && (inside[0] === 'v' || inside[0] === 'V')) {
    const dot = inside.indexOf('.');
    if (dot < 2 || dot === inside.length - 1) return false;
    for (let k = 1; k < dot; k++) if (!isHexDigit(inside.charCodeAt(k))) return false;
    for (let k = dot + 1; k < inside.length; k++) {
      const c = inside.charCodeAt(k);
      if (c > 0xff || !IP_FUTURE[c]) return false;
    }
    return true;
  }
  // Zone identifiers ("%25eth0", RFC 6874) name an interface of the client's machine: never a Host.
  return !inside.includes('%') && net.isIPv6(inside);
}

function splitAbsoluteForm(target: string): { authority: string; path: string; query: string } | null {
  const lower = target.slice(0, 8).toLowerCase();
  let rest: string;
  if (lower.startsWith('http://')) rest = target.slice(7);
  else if (lower.startsWith('https://')) rest = target.slice(8);
  else return null;
  let a = 0;
  while (a < rest.length && rest[a] !== '/' && rest[a] !== '?') a++;
  const authority = rest.slice(0, a);
  if (!isValidAuthority(authority)) return null;
  const tail = rest.slice(a);
  const qm = tail.indexOf('?');
  const rawPath = qm === -1 ? tail : tail.slice(0, qm);
  return { authority, path: rawPath === '' ? '/' : rawPath, query: qm === -1 ? '' : tail.slice(qm) };
}
