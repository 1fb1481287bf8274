/**
 * A Reply (the header lines render made for HTTP/1.1) → the header object of an HTTP/2
 * response (pure): `:status`, `date`, the reply's fields with lower-cased names, the
 * listener's lines (HSTS), and none of HTTP/1.1's connection-specific fields, which RFC 9113
 * §8.2.2 forbids in HTTP/2. The lines of a file's 200 are the same string for every response
 * of it, so what they become is kept, by that string, in a bounded table.
 */
import { dateHeader } from '../http/respond';
import type { Reply } from '../http/types';
import { CONNECTION_SPECIFIC } from './request';

/** node:http2's header object: names to a value, or to the values of a repeated field. */
export type H2Headers = Record<string, string | string[] | number>;

/** Most header-line strings remembered: more distinct ones than this start the table again. */
const MAX_KEPT = 2048;
const kept = new Map<string, Readonly<H2Headers>>();

/** The fields of `lines` ("Name: value\r\n" each) as an HTTP/2 header object, made once per string. */
export function fieldsOf(lines: string): Readonly<H2Headers> {
  let fields = kept.get(lines);
  if (fields === undefined) {
    if (kept.size >= MAX_KEPT) kept.clear();
    fields = Object.freeze(parseLines(lines));
    kept.set(lines, fields);
  }
  return fields;
}

function parseLines(lines: string): H2Headers {
  const out: H2Headers = {};
  let at = 0;
  while (at < lines.length) {
    const end = lines.indexOf('\r\n', at);
    const line = lines.slice(at, end === -1 ? lines.length : end);
    at = end === -1 ? lines.length : end + 2;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) continue;
    const value = line.slice(colon + 1).trim();
    const prev = out[name];
    // set-cookie and the like stay separate fields; a static server's replies repeat few.
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }
  return out;
}

/** The headers to respond with: a new object each time (node:http2 may keep what it is given). */
export function responseHeaders(reply: Reply, listenerLines: string, now: number): H2Headers {
  // The Date value is the HTTP/1.1 line of this second without its name and CRLF: made once a second.
  const headers: H2Headers = { ':status': reply.status, date: dateHeader(now).slice(6, -2) };
  Object.assign(headers, fieldsOf(reply.headers));
  if (listenerLines !== '') Object.assign(headers, fieldsOf(listenerLines));
  return headers;
}
