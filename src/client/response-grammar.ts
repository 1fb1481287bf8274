/**
 * The grammar of an HTTP/1.x response, line by line, and what its head says about its body:
 * the status line (RFC 9112 §4), header and trailer field lines with obs-fold (§5), the
 * chunk-size line and its extensions (§7.1), the body's framing (§6.3) and whether the
 * connection persists (§9.3).
 *
 * Pure functions on one line or on the fields already read: response-parser.ts cuts the
 * bytes into lines and bodies and asks these what each line means. A line that breaks the
 * grammar throws MalformedResponse, whose message is for people.
 */
import { hasControlChar, isPersistent, isToken, trimOws } from '../http/token';

/** One header field as received: name with its original case, value without surrounding whitespace. */
export type HeaderField = [name: string, value: string];

export interface StatusLine {
  /** "HTTP/1.1" as sent. */
  version: string;
  minor: number;
  status: number;
  /** Possibly empty; servers may omit it. */
  reason: string;
}

export interface ResponseHead extends StatusLine {
  headers: HeaderField[];
}

export type Framing =
  /** HEAD, 1xx, 204 and 304 responses end with their head. */
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** No length information: the body runs until the server closes. */
  | { kind: 'close' };

/** The bytes are not a valid response; the message says where and why. */
export class MalformedResponse extends Error {}

const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/;
// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
const CHUNK_EXT =
  /^(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*"))?)*[ \t]*$/;
// 13 hex digits stay below Number.MAX_SAFE_INTEGER; anything larger is not a real chunk.
const MAX_CHUNK_HEX_DIGITS = 13;
const MAX_HEADER_FIELDS = 1000;

/** Shows untrusted bytes in an error message without letting them steer the terminal. */
export function printable(text: string, max = 60): string {
  const cut = text.length > max ? text.slice(0, max) + '…' : text;
  return cut.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (c) =>
    c === '\\' ? '\\\\' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'),
  );
}

export function parseStatusLine(line: string): StatusLine {
  const m = STATUS_LINE.exec(line);
  if (!m) throw new MalformedResponse(`bad status line "${printable(line)}"`);
  const [, major, minor, status, reason = ''] = m;
  if (major !== '1') throw new MalformedResponse(`unsupported HTTP version HTTP/${major}.${minor}`);
  if (hasControlChar(reason)) {
    throw new MalformedResponse(`bad status line "${printable(line)}" (control character in the reason phrase)`);
  }
  const code = Number(status);
  if (code < 100) throw new MalformedResponse(`bad status code ${status}`);
  return { version: `HTTP/${major}.${minor}`, minor: Number(minor), status: code, reason };
}

/** Adds one header or trailer field line to `into`, or folds an obs-fold line into the last field. */
export function addFieldLine(into: HeaderField[], line: string, what: 'header' | 'trailer'): void {
  if (line[0] === ' ' || line[0] === '\t') {
    // obs-fold: RFC 9112 §5.2 tells user agents to replace it with a space.
    const last = into[into.length - 1];
    if (!last) throw new MalformedResponse(`bad ${what} line "${printable(line)}" (continuation without a field)`);
    checkValue(line, what);
    last[1] = (last[1] + ' ' + line.trim()).trim();
    return;
  }
  const colon = line.indexOf(':');
  const name = colon === -1 ? '' : line.slice(0, colon);
  if (!isToken(name)) throw new MalformedResponse(`bad ${what} line "${printable(line)}"`);
  const value = trimOws(line.slice(colon + 1));
  checkValue(line, what);
  if (into.length >= MAX_HEADER_FIELDS) throw new MalformedResponse(`more than ${MAX_HEADER_FIELDS} ${what} fields`);
  into.push([name, value]);
}

function checkValue(line: string, what: string): void {
  // A CR here is a bare CR inside the line (the line's own CRLF was already removed).
  if (/[\x00\r]/.test(line)) {
    throw new MalformedResponse(`bad ${what} line "${printable(line)}" (NUL or bare CR in the field)`);
  }
}

/** A chunk-size line: the size, and the raw extensions after it ("" when there are none). */
export function parseChunkSizeLine(line: string): { size: number; extensions: string } {
  const m = /^([0-9A-Fa-f]+)(.*)$/.exec(line);
  if (!m) throw new MalformedResponse(`bad chunk size "${printable(line)}"`);
  const [, hex, ext] = m as unknown as [string, string, string];
  if (hex.replace(/^0+(?=.)/, '').length > MAX_CHUNK_HEX_DIGITS) {
    throw new MalformedResponse(`chunk size ${printable(hex)} is too large`);
  }
  if (ext !== '' && !CHUNK_EXT.test(ext)) {
    throw new MalformedResponse(`bad chunk extension "${printable(ext)}"`);
  }
  return { size: parseInt(hex, 16), extensions: ext.trim() };
}

/**
 * How the body of a final response to `method` is delimited (RFC 9112 §6.3). A response
 * carrying both Content-Length and Transfer-Encoding is refused rather than guessed at: it
 * is the classic request-smuggling ambiguity, and a test client should point it out.
 */
export function framingOf(head: ResponseHead, method: string): Framing {
  const hasTE = hasField(head.headers, 'transfer-encoding');
  const hasCL = hasField(head.headers, 'content-length');
  if (hasTE && hasCL) throw new MalformedResponse('response has both Content-Length and Transfer-Encoding');

  let length: number | undefined;
  if (hasCL) {
    // Repeated identical values ("5, 5") are allowed by RFC 9110 §8.6; differing ones are not.
    const values = listValues(head.headers, 'content-length');
    if (values.length === 0) throw new MalformedResponse('empty Content-Length');
    for (const v of values) {
      if (!/^\d+$/.test(v)) throw new MalformedResponse(`bad Content-Length "${printable(v)}"`);
      if (v.replace(/^0+(?=.)/, '').length > 15) throw new MalformedResponse(`Content-Length ${printable(v)} is too large`);
      const n = Number(v);
      if (length !== undefined && n !== length) {
        throw new MalformedResponse(`conflicting Content-Length values (${values.join(', ')})`);
      }
      length = n;
    }
  }

  let chunked = false;
  if (hasTE) {
    const codings = listValues(head.headers, 'transfer-encoding').map((c) => c.toLowerCase());
    const at = codings.indexOf('chunked');
    if (at !== -1 && at !== codings.length - 1) {
      throw new MalformedResponse(`Transfer-Encoding "${codings.join(', ')}" has chunked before its last coding`);
    }
    chunked = at === codings.length - 1 && at !== -1;
  }

  if (method === 'HEAD' || head.status === 204 || head.status === 304) return { kind: 'none' };
  if (chunked) return { kind: 'chunked' };
  // RFC 9112 §6.3: a transfer coding other than chunked last leaves only the close to end the body.
  if (hasTE) return { kind: 'close' };
  if (length !== undefined) return { kind: 'length', length };
  return { kind: 'close' };
}

/** Whether the connection may carry another request after this response. */
export function persists(head: ResponseHead, framing: Framing): boolean {
  if (framing.kind === 'close') return false;
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means its framing cannot be trusted for reuse.
  if (head.minor === 0 && hasField(head.headers, 'transfer-encoding')) return false;
  const connection = head.headers.filter(([n]) => n.toLowerCase() === 'connection').map(([, v]) => v);
  // The same persistence rule as the server's (http/token.ts): HTTP/1.0 needs keep-alive, later versions persist unless close.
  return isPersistent(connection.length === 0 ? undefined : connection.join(','), head.minor === 0 ? 0 : 1);
}

function hasField(headers: HeaderField[], name: string): boolean {
  return headers.some(([n]) => n.toLowerCase() === name);
}

/** All values of a field, comma-split into list elements (RFC 9110 §5.6.1), empty elements dropped. */
function listValues(headers: HeaderField[], name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of headers) {
    if (n.toLowerCase() !== name) continue;
    for (const part of v.split(',')) {
      const item = part.trim();
      if (item !== '') out.push(item);
    }
  }
  return out;
}
