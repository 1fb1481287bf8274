/**
 * render: every response head fleetserve sends is built here — status lines, the Date
 * header, the header lines of each kind of answer, error pages — and nowhere else.
 * Everything here is a string, Buffer or Reply builder; connection.ts does the writing.
 *
 * A Reply's `headers` hold the lines other than the status line, Date and Connection, which
 * serializeHead adds when the connection writes it (only then is Connection known).
 */
import { STATUS_CODES } from 'node:http';
import { RETRY_AFTER_SECONDS } from '../errors';
import type { FileBody, MultipartBody } from '../files/stream';
import { SERVER_HEADERS } from './fields';
import { formatHttpDate } from './http-date';
import { escapeHtml, PAGE_STYLE } from './html';
import { contentRange, type MultipartByteranges, unsatisfiedRange } from './range';
import type { Reply } from './types';

export const HTML_TYPE = 'text/html; charset=utf-8';
const ALLOW = 'Allow: GET, HEAD, OPTIONS\r\n';

const statusLines = new Map<number, string>();
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    statusLines.set(status, line);
  }
  return line;
}

let dateSecond = -1;
let dateLine = '';

/**
 * "Date: ...\r\n" for the time `now` (RFC 9110 §6.6.1 asks for the time the response was
 * generated, at one-second resolution): the caller reads the clock and says when. The line
 * of the last second asked for is remembered, so it is built at most once a second.
 */
export function dateHeader(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${formatHttpDate(second * 1000)}\r\n`;
  }
  return dateLine;
}

/** How the connection is announced: nothing for 1.1 keep-alive (the default), else explicit. */
export function connectionHeader(close: boolean, minor: 0 | 1): string {
  if (close) return 'Connection: close\r\n';
  return minor === 0 ? 'Connection: keep-alive\r\n' : '';
}

/** A whole head: status line, Date, the given header lines (each ending CRLF), Connection, blank line. */
export function serializeHead(status: number, headerLines: string, close: boolean, minor: 0 | 1, now: number): string {
  return statusLine(status) + dateHeader(now) + headerLines + connectionHeader(close, minor) + '\r\n';
}

const ERROR_PAGE_STYLE = `${PAGE_STYLE}
p{overflow-wrap:anywhere}footer{margin-top:2rem;padding-top:.5rem;border-top:1px solid #8884;font-size:.875rem;opacity:.75}`;

/** What a visitor reads under the title of the commonest errors when nothing more is said. */
const ERROR_EXPLANATION: Readonly<Record<number, string>> = {
  400: 'The server could not understand this request.',
  403: 'You may not see this page.',
  404: 'There is nothing at this address.',
  405: 'This method is not allowed here.',
  500: 'Something went wrong on the server.',
  503: 'The server cannot answer right now: try again in a moment.',
};

/** Pages without a detail, built once per status: they are the same bytes every time. */
const plainErrorPages = new Map<number, Buffer>();

/** A small HTML page for an error status. `detail` is shown escaped; never a stack trace. */
export function errorPage(status: number, detail?: string): Buffer {
  if (detail === undefined) {
    let page = plainErrorPages.get(status);
    if (page === undefined) {
      page = renderErrorPage(status, ERROR_EXPLANATION[status]);
      plainErrorPages.set(status, page);
    }
    return page;
  }
  return renderErrorPage(status, detail);
}

function renderErrorPage(status: number, detail: string | undefined): Buffer {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  const p = detail ? `<p>${escapeHtml(detail)}</p>\n` : '';
  return Buffer.from(
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${ERROR_PAGE_STYLE}</style></head>
<body><h1>${title}</h1>
${p}<footer>fleetserve</footer></body></html>
`,
    'utf8',
  );
}

/**
 * The whole 503 a worker at its connection limit writes to a socket it cannot take (and
 * then closes): built once, without Date, which a 5xx may go without (RFC 9110 §6.6.1).
 */
export function connectionLimitResponse(): Buffer {
  const body = errorPage(503, 'This server is at its connection limit: try again in a moment.');
  const head = `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${RETRY_AFTER_SECONDS}\r\nContent-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

// ---- errors and answers that are not a file -------------------------------------------

/**
 * An error page, never stored by caches. `close`: errors about the request's framing (400 from
 * the parser, 408, a 500 of ours) end the connection; answers about a path keep it.
 */
export function errorReply(status: number, close = true, extraLines = ''): Reply {
  const body = errorPage(status);
  return { status, headers: `${extraLines}Content-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n${SERVER_HEADERS}`, body, close };
}

/** 503 for trouble that passes (no descriptors, a file being rewritten): ask again in a moment (as nginx answers). */
export function transientErrorReply(): Reply {
  return errorReply(503, false, `Retry-After: ${RETRY_AFTER_SECONDS}\r\n`);
}

export function methodNotAllowedReply(): Reply {
  return errorReply(405, false, ALLOW);
}

/**
 * A short text/plain answer that no cache keeps (the health check's `ok`, `draining`).
 * `extraLines` come first (an Allow field, say); `close` ends the connection after it.
 */
export function plainTextReply(status: number, text: string, close = false, extraLines = ''): Reply {
  const body = Buffer.from(text);
  return { status, headers: `${extraLines}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n${SERVER_HEADERS}`, body, close };
}

/** `ruleLines`: nosniff and the header rules of the path (CORS preflights ask here first). */
export function optionsReply(ruleLines: string): Reply {
  return { status: 204, headers: ALLOW + ruleLines, body: null };
}

/**
 * `location`: percent-encoded, the query already added; a local one starts with exactly one
 * "/". `status`: 301, or what a configured redirect rule says (302, 307, 308).
 */
export function redirectReply(location: string, status = 301): Reply {
  const body = errorPage(status, `Moved to ${location}`);
  return { status, headers: `Location: ${location}\r\nContent-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\n${SERVER_HEADERS}`, body };
}

/** 401 with the challenge of a basic-auth rule (`challenge`: its WWW-Authenticate line): kept open, never stored. */
export function unauthorizedReply(challenge: string): Reply {
  return errorReply(401, false, challenge);
}

/** 429 for a client with too many failed sign-ins: when to try again, in words and in Retry-After. */
export function tooManySignInsReply(retryAfterSeconds: number): Reply {
  const body = errorPage(429, `Too many failed sign-ins from your address: try again in ${retryAfterSeconds} s.`);
  return {
    status: 429,
    headers: `Retry-After: ${retryAfterSeconds}\r\nContent-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n${SERVER_HEADERS}`,
    body,
  };
}

/** `page`: the site's 404.html, or the built-in page; `ruleLines` from the header rules of the path asked for. */
export function notFoundReply(page: Buffer, ruleLines: string, head: boolean): Reply {
  return { status: 404, headers: `Content-Type: ${HTML_TYPE}\r\nContent-Length: ${page.length}\r\nCache-Control: no-cache\r\n${ruleLines}`, body: head ? null : page };
}

/** A sort link the server never wrote: say what is wrong (escaped), keep the connection. */
export function listingQueryErrorReply(message: string, head: boolean): Reply {
  const body = errorPage(400, `Bad listing query: ${message}. Use ?sort=name|size|date&order=asc|desc.`);
  return { status: 400, headers: `Content-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n${SERVER_HEADERS}`, body: head ? null : body };
}

export function listingReply(json: boolean, body: Buffer, head: boolean): Reply {
  const type = json ? 'application/json; charset=utf-8' : HTML_TYPE;
  return { status: 200, headers: `Content-Type: ${type}\r\nContent-Length: ${body.length}\r\nCache-Control: no-cache\r\nVary: Accept\r\n${SERVER_HEADERS}`, body: head ? null : body };
}

// ---- a file ---------------------------------------------------------------------------

/** The per-URL parts of a file's heads (built once per cache entry by the lookup). */
export interface FileHeadParts {
  contentType: string;
  /** Cache-Control, Accept-Ranges, Vary, nosniff and configured headers. */
  headerLines: string;
}

/** The per-representation parts of a file's heads. */
export interface RepresentationHeadParts {
  /** "ETag: ...\r\nLast-Modified: ...\r\n" */
  validatorLines: string;
  coding: string | null;
  size: number;
}

function encodingLine(rep: RepresentationHeadParts): string {
  return rep.coding === null ? '' : `Content-Encoding: ${rep.coding}\r\n`;
}

/** The 200 head lines of `rep` at a URL: built once per representation and URL, kept by the cache. */
export function okHeaderLines(file: FileHeadParts, rep: RepresentationHeadParts): string {
  return `Content-Type: ${file.contentType}\r\n${file.headerLines}${rep.validatorLines}${encodingLine(rep)}Content-Length: ${rep.size}\r\n`;
}

/** A whole 200 response (head with the Date of `now`, then `body`) for a keep-alive HTTP/1.1 exchange. */
export function wireResponse(okLines: string, body: Buffer, now: number): Buffer {
  return Buffer.concat([Buffer.from(serializeHead(200, okLines, false, 1, now), 'latin1'), body]);
}

/**
 * A representation's 200 head lines at one URL, built once, and its whole response to a
 * keep-alive HTTP/1.1 GET for the second `wireSecond`. Render builds it; the lookup keeps it
 * on the file entry without reading it.
 */
export interface PreparedHead {
  rep: RepresentationHeadParts;
  okLines: string;
  wire: Buffer | null;
  wireSecond: number;
}

/** A file entry as render sees it: its head parts, and where its prepared heads are kept (opaque to the lookup). */
export interface HeadHolder extends FileHeadParts {
  heads: unknown[];
}

/** Most representations one entry prepares heads for: copies evicted and made again add more. */
const MAX_PREPARED = 8;

/** The prepared 200 head of `rep` served for `entry`, built on first use and kept on the entry. */
export function preparedHead(entry: HeadHolder, rep: RepresentationHeadParts): PreparedHead {
  // Only this function puts anything into `heads`.
  const list = entry.heads as PreparedHead[];
  for (let i = 0; i < list.length; i++) if (list[i]!.rep === rep) return list[i]!;
  if (list.length >= MAX_PREPARED) list.length = 1; // keep the file itself
  const p: PreparedHead = { rep, okLines: okHeaderLines(entry, rep), wire: null, wireSecond: -1 };
  list.push(p);
  return p;
}

/** The fast path's reply from a prepared head: its whole response, rebuilt when the second of `now` (the Date) is not the one it was built for. */
export function preparedWireReply(p: PreparedHead, body: Buffer, now: number): Reply {
  const second = Math.floor(now / 1000);
  if (p.wireSecond !== second || p.wire === null) {
    p.wire = wireResponse(p.okLines, body, now);
    p.wireSecond = second;
  }
  return wireReply(p.okLines, body, p.wire);
}

/** Whole responses with a listener's header lines in them, by the prepared response they were made from. */
const withListenerLines = new WeakMap<Buffer, { lines: string; wire: Buffer }>();

/**
 * The prepared whole response `wire` (head, then a body of `bodyLength` bytes) with a
 * listener's header lines (the HTTPS listener's HSTS) added after its own, the bytes the
 * head serialized with them would be. Made once per prepared response, which is itself made
 * again only when the second changes, so HTTPS keeps the fast path.
 */
export function wireWithListenerLines(wire: Buffer, bodyLength: number, lines: string): Buffer {
  const made = withListenerLines.get(wire);
  if (made !== undefined && made.lines === lines) return made.wire;
  // A keep-alive HTTP/1.1 head ends with its lines and the blank line (no Connection field).
  const headEnd = wire.length - bodyLength - 2;
  const out = Buffer.concat([wire.subarray(0, headEnd), Buffer.from(lines, 'latin1'), wire.subarray(headEnd)]);
  withListenerLines.set(wire, { lines, wire: out });
  return out;
}

/** 200 with the whole representation; `body` null for HEAD. */
export function okReply(okLines: string, body: Buffer | FileBody | null): Reply {
  return { status: 200, headers: okLines, body };
}

/** 304 (RFC 9110 §15.4.5): the fields a 200 would have carried that describe caching. */
export function notModifiedReply(file: FileHeadParts, validatorLines: string): Reply {
  return { status: 304, headers: file.headerLines + validatorLines, body: null };
}

export function preconditionFailedReply(): Reply {
  const body = errorPage(412);
  return { status: 412, headers: `Content-Type: ${HTML_TYPE}\r\nContent-Length: ${body.length}\r\n${SERVER_HEADERS}`, body };
}

export function rangeNotSatisfiableReply(file: FileHeadParts, rep: RepresentationHeadParts): Reply {
  return { status: 416, headers: `Content-Range: ${unsatisfiedRange(rep.size)}\r\nContent-Length: 0\r\n${file.headerLines}${rep.validatorLines}`, body: null };
}

/** 206 with bytes [start, end); `body` null for HEAD. */
export function partialReply(file: FileHeadParts, rep: RepresentationHeadParts, start: number, end: number, body: Buffer | FileBody | null): Reply {
  const headers =
    `Content-Type: ${file.contentType}\r\n${file.headerLines}${rep.validatorLines}` +
    encodingLine(rep) +
    `Content-Range: ${contentRange(start, end - 1, rep.size)}\r\nContent-Length: ${end - start}\r\n`;
  return { status: 206, headers, body };
}

/** 206 multipart/byteranges framed by `mp`; `body` null for HEAD. */
export function multipartReply(file: FileHeadParts, rep: RepresentationHeadParts, mp: MultipartByteranges, body: Buffer | MultipartBody | null): Reply {
  const headers = `Content-Type: ${mp.contentType}\r\n${file.headerLines}${rep.validatorLines}` + encodingLine(rep) + `Content-Length: ${mp.length}\r\n`;
  return { status: 206, headers, body };
}

/** The multipart body of `mp` cut from a representation held in memory. Part ends from range.ts are inclusive. */
export function multipartFromMemory(mp: MultipartByteranges, bytes: Buffer): Buffer {
  const chunks: Buffer[] = [];
  for (const part of mp.parts) chunks.push(part.head, bytes.subarray(part.start, part.end + 1));
  chunks.push(mp.tail);
  return Buffer.concat(chunks, mp.length);
}

/** The fast path's reply: `wire` is the whole response, written as is on a keep-alive HTTP/1.1 connection. */
export function wireReply(okLines: string, body: Buffer, wire: Buffer): Reply {
  return { status: 200, headers: okLines, body, wire };
}
