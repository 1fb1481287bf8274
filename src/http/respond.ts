/**
 * Status lines, the Date header, head serialization and error pages. Everything here is a
 * string or Buffer builder; connection.ts does the writing.
 */
import { STATUS_CODES } from 'node:http';
import { formatHttpDate } from './http-date';

export const SERVER_HEADERS = 'X-Content-Type-Options: nosniff\r\n';

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

/** A small HTML page for an error status. `detail` is shown escaped; never a stack trace. */
export function errorPage(status: number, detail?: string): Buffer {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  const p = detail ? `<p>${escapeHtml(detail)}</p>\n` : '';
  return Buffer.from(
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
      `<meta name="viewport" content="width=device-width, initial-scale=1"></head>\n` +
      `<body><h1>${title}</h1>\n${p}<hr><p>fleetserve</p></body></html>\n`,
    'utf8',
  );
}

export const HTML_TYPE = 'text/html; charset=utf-8';
