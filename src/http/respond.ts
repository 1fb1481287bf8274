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
import { formatHttpDate } from './http-date';
import { contentRange, type MultipartByteranges, unsatisfiedRange } from './range';
import type { Reply } from './types';

export const SERVER_HEADERS = 'X-Content-Type-Options: nosniff\r\n';
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
 * "Date: ...\r\n", rebuilt at most once a second (RFC 9110 §6.6.1 asks for the time the
 * response was generated, at one-second resolution). `dateEpoch()` tells callers that
 * cache whole responses when theirs went stale.
 */
export function dateHeader(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${formatHttpDate(second * 1000)}\r\n`;
  }
  return dateLine;
}

export function dateEpoch(): number {
  return dateSecond;
}

/** How the connection is announced: nothing for 1.1 keep-alive (the default), else explicit. */
export function connectionHeader(close: boolean, minor: 0 | 1): string {
  if (close) return 'Connection: close\r\n';
  return minor === 0 ? 'Connection: keep-alive\r\n' : '';
}

/** A whole head: status line, Date, the given header lines (each ending CRLF), Connection, blank line. */
export function serializeHead(status: number, headerLines: string, close: boolean, minor: 0 | 1): string {
  return statusLine(status) + dateHeader() + headerLines + connectionHeader(close, minor) + '\r\n';
}

/** Text made safe inside HTML elements and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The look every built-in page shares (the listing adds its table): the system font, a
 * readable width, light or dark as the browser prefers (color-scheme: the browser's own
 * colours, no palette of ours to keep in step).
 */
export const PAGE_STYLE = `:root{color-scheme:light dark}
body{font:16px/1.4 system-ui,sans-serif;margin:1rem auto;padding:0 1rem;max-width:60rem}
h1{font-size:1.25rem;font-weight:600;overflow-wrap:anywhere}`;

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

/** One header line. */
export function fieldLine(name: string, value: string): string {
  return `${name}: ${value}\r\n`;
}

/** "ETag: ...\r\nLast-Modified: ...\r\n" of a representation, built once per representation. */
export function validatorLines(etag: string, lastModifiedMs: number): string {
  return `ETag: ${etag}\r\nLast-Modified: ${formatHttpDate(lastModifiedMs)}\r\n`;
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

/** A file's own fields, after the configured header rules (see files/entry.ts). */
export interface FileFieldValues {
  cacheControl: string;
  vary: string;
  /** The X-Content-Type-Options line (the server's, or a rule's). */
  nosniff: string;
  /** The lines of the other configured fields. */
  configured: string;
}

/**
 * The header lines every answer for a file carries. `otherCodings`: the file has (or will
 * have) other codings, so every answer says so, the uncompressed one included, or a shared
 * cache would hand it to every client.
 */
export function fileHeaderLines(f: FileFieldValues, otherCodings: boolean): string {
  const vary = otherCodings ? (f.vary === '' ? 'Accept-Encoding' : `Accept-Encoding, ${f.vary}`) : f.vary;
  let lines = `Cache-Control: ${f.cacheControl}\r\nAccept-Ranges: bytes\r\n`;
  if (vary !== '') lines += `Vary: ${vary}\r\n`;
  return lines + f.nosniff + f.configured;
}

/** The 200 head lines of `rep` at a URL: built once per representation and URL, kept by the cache. */
export function okHeaderLines(file: FileHeadParts, rep: RepresentationHeadParts): string {
  return `Content-Type: ${file.contentType}\r\n${file.headerLines}${rep.validatorLines}${encodingLine(rep)}Content-Length: ${rep.size}\r\n`;
}

/** A whole 200 response (head with the current Date, then `body`) for a keep-alive HTTP/1.1 exchange. */
export function wireResponse(okLines: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(serializeHead(200, okLines, false, 1), 'latin1'), body]);
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
