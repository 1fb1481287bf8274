/**
 * An incremental HTTP/1.x response parser: bytes in, events out, no I/O.
 *
 * One parser reads one response (plus any 1xx interim responses before it).
 * Bytes that arrive after the response's end are handed back in the
 * `complete` event so that the caller can feed them to the parser of the next
 * pipelined response. Framing follows RFC 9112 §6.3, except that a response
 * carrying both Content-Length and Transfer-Encoding is refused: it is the
 * classic request-smuggling ambiguity, and a test client should point it out
 * rather than guess.
 */
import { hasControlChar, isPersistent, isToken, trimOws } from '../http/token';

/** One header field as received: name with its original case, value without surrounding whitespace. */
export type HeaderField = [name: string, value: string];

export interface ResponseHead {
  /** "HTTP/1.1" as sent. */
  version: string;
  minor: number;
  status: number;
  /** Possibly empty; servers may omit it. */
  reason: string;
  headers: HeaderField[];
}

export type Framing =
  /** HEAD, 1xx, 204 and 304 responses end with their head. */
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** No length information: the body runs until the server closes. */
  | { kind: 'close' };

export type ParseErrorKind =
  /** The bytes are not a valid response. */
  | 'malformed'
  /** The connection ended before the response did. */
  | 'incomplete';

export type ParserEvent =
  | { type: 'interim'; head: ResponseHead }
  | { type: 'head'; head: ResponseHead; framing: Framing; keepAlive: boolean }
  /** Only with chunked framing; `extensions` is the raw text after the size, "" when there are none. */
  | { type: 'chunk'; size: number; extensions: string }
  | { type: 'data'; data: Buffer }
  | {
      type: 'complete';
      trailers: HeaderField[];
      bodyBytes: number;
      keepAlive: boolean;
      /** Bytes received after this response's end (the start of the next pipelined response). */
      rest: Buffer;
    }
  | {
      type: 'error';
      kind: ParseErrorKind;
      message: string;
      /** True when the connection ended before a single byte of this response arrived. */
      empty: boolean;
    };

export interface ParserOptions {
  /** The request method; responses to HEAD never have a body whatever their headers say. */
  method: string;
  /** Largest accepted head (status line + fields), interim heads counted separately. */
  maxHeadBytes?: number;
  /** Largest accepted chunk-size line or trailer line. */
  maxLineBytes?: number;
}

export interface ParserProgress {
  phase: State;
  /** Bytes of this response received so far, head included. */
  received: number;
  /** Decoded body bytes so far. */
  bodyBytes: number;
  /** Announced body length, when Content-Length framing is in use. */
  expected: number | undefined;
}

type State =
  | 'status-line'
  | 'headers'
  | 'body-length'
  | 'body-close'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-data-end'
  | 'trailers'
  | 'done'
  | 'failed';

const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/;
// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
const CHUNK_EXT =
  /^(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*"))?)*[ \t]*$/;
// 13 hex digits stay below Number.MAX_SAFE_INTEGER; anything larger is not a real chunk.
const MAX_CHUNK_HEX_DIGITS = 13;
const MAX_HEADER_FIELDS = 1000;
// Each interim response resets the head limit, so without a cap a server could stream 1xx heads forever.
const MAX_INTERIM_RESPONSES = 100;
const EMPTY = Buffer.alloc(0);

/** Shows untrusted bytes in an error message without letting them steer the terminal. */
export function printable(text: string, max = 60): string {
  const cut = text.length > max ? text.slice(0, max) + '…' : text;
  return cut.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (c) =>
    c === '\\' ? '\\\\' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'),
  );
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

export class ResponseParser {
  private state: State = 'status-line';
  private buf: Buffer = EMPTY;
  private readonly method: string;
  private readonly maxHeadBytes: number;
  private readonly maxLineBytes: number;

  private headBytes = 0;
  private version = '';
  private minor = 1;
  private status = 0;
  private reason = '';
  private headers: HeaderField[] = [];
  private trailers: HeaderField[] = [];
  private keepAlive = true;
  private interimCount = 0;

  private received = 0;
  private bodyBytes = 0;
  private expected: number | undefined;
  private remaining = 0;

  constructor(options: ParserOptions) {
    this.method = options.method.toUpperCase();
    this.maxHeadBytes = options.maxHeadBytes ?? 64 * 1024;
    this.maxLineBytes = options.maxLineBytes ?? 8 * 1024;
  }

  /** Where the parser stands, for error messages about a timeout or an abort. */
  progress(): ParserProgress {
    return {
      phase: this.state,
      received: this.received,
      bodyBytes: this.bodyBytes,
      expected: this.expected,
    };
  }

  get done(): boolean {
    return this.state === 'done' || this.state === 'failed';
  }

  /** Feeds bytes from the connection. After `complete` or `error`, further input is ignored. */
  feed(chunk: Buffer): ParserEvent[] {
    if (this.done) return [];
    this.received += chunk.length;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const events: ParserEvent[] = [];
    try {
      this.run(events);
    } catch (err) {
      if (!(err instanceof Malformed)) throw err;
      this.state = 'failed';
      this.buf = EMPTY;
      events.push({ type: 'error', kind: 'malformed', message: err.message, empty: false });
    }
    return events;
  }

  /**
   * The connection ended (`how` says whether cleanly or by a reset). Completes a
   * close-delimited body; anything else that is still open is an incomplete response.
   */
  end(how: 'closed' | 'reset' = 'closed'): ParserEvent[] {
    if (this.done) return [];
    if (this.state === 'body-close') {
      this.state = 'done';
      return [this.completeEvent()];
    }
    const message = this.incompleteMessage(how);
    const empty = this.received === 0;
    this.state = 'failed';
    return [{ type: 'error', kind: 'incomplete', message, empty }];
  }

  private incompleteMessage(how: string): string {
    const conn = `connection ${how}`;
    switch (this.state) {
      case 'status-line':
        if (this.received === 0) return `${conn} before any response`;
        if (this.interimCount > 0 && this.headBytes === 0) {
          return `${conn} after a 1xx interim response, before the final response`;
        }
        return `${conn} in the middle of the status line`;
      case 'headers':
        return `${conn} in the middle of the response headers`;
      case 'body-length':
        return `${conn} after ${this.bodyBytes} of ${this.expected} body bytes`;
      case 'chunk-size':
      case 'chunk-data':
      case 'chunk-data-end':
        return `${conn} after ${this.bodyBytes} body bytes of a chunked body, before its last chunk`;
      case 'trailers':
        return `${conn} after ${this.bodyBytes} body bytes, in the trailer section of a chunked body`;
      default:
        return `${conn} unexpectedly`;
    }
  }

  private run(events: ParserEvent[]): void {
    for (;;) {
      switch (this.state) {
        case 'status-line':
        case 'headers':
        case 'chunk-size':
        case 'trailers': {
          const line = this.takeLine();
          if (line === undefined) return;
          this.onLine(line, events);
          break;
        }
        case 'body-length': {
          if (this.buf.length === 0) return;
          const n = Math.min(this.remaining, this.buf.length);
          this.emitData(this.buf.subarray(0, n), events);
          this.buf = this.buf.subarray(n);
          this.remaining -= n;
          if (this.remaining === 0) this.finish(events);
          break;
        }
        case 'body-close':
          if (this.buf.length > 0) this.emitData(this.buf, events);
          this.buf = EMPTY;
          return;
        case 'chunk-data': {
          if (this.buf.length === 0) return;
          const n = Math.min(this.remaining, this.buf.length);
          this.emitData(this.buf.subarray(0, n), events);
          this.buf = this.buf.subarray(n);
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'chunk-data-end';
          break;
        }
        case 'chunk-data-end': {
          // Chunk data must be followed by exactly CRLF (a bare LF is tolerated like elsewhere).
          if (this.buf.length === 0) return;
          if (this.buf[0] === 0x0a) {
            this.buf = this.buf.subarray(1);
          } else if (this.buf[0] === 0x0d) {
            if (this.buf.length < 2) return;
            if (this.buf[1] !== 0x0a) throw new Malformed('chunk data not followed by CRLF');
            this.buf = this.buf.subarray(2);
          } else {
            throw new Malformed('chunk data longer than its chunk size (no CRLF after the chunk)');
          }
          this.state = 'chunk-size';
          break;
        }
        case 'done':
        case 'failed':
          return;
      }
    }
  }

  /** Takes one LF-terminated line off the buffer, CR stripped, or undefined when none is complete yet. */
  private takeLine(): string | undefined {
    const inHead = this.state === 'status-line' || this.state === 'headers';
    const limit = inHead ? this.maxHeadBytes - this.headBytes : this.maxLineBytes;
    const lf = this.buf.indexOf(0x0a);
    if (lf === -1) {
      if (this.buf.length > limit) throw new Malformed(this.tooLong(inHead));
      return undefined;
    }
    if (lf + 1 > limit) throw new Malformed(this.tooLong(inHead));
    if (inHead) this.headBytes += lf + 1;
    const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = this.buf.toString('latin1', 0, end);
    this.buf = this.buf.subarray(lf + 1);
    return line;
  }

  private tooLong(inHead: boolean): string {
    if (inHead) return `response head larger than ${this.maxHeadBytes} bytes`;
    return this.state === 'trailers'
      ? `trailer line longer than ${this.maxLineBytes} bytes`
      : `chunk-size line longer than ${this.maxLineBytes} bytes`;
  }

  private onLine(line: string, events: ParserEvent[]): void {
    switch (this.state) {
      case 'status-line':
        // Old servers sometimes send a stray CRLF after a body; skipping it is harmless.
        if (line === '') return;
        this.parseStatusLine(line);
        this.state = 'headers';
        return;
      case 'headers':
        if (line === '') {
          this.endOfHead(events);
          return;
        }
        this.addField(this.headers, line, 'header');
        return;
      case 'chunk-size':
        this.parseChunkSize(line, events);
        return;
      case 'trailers':
        if (line === '') {
          this.finish(events);
          return;
        }
        this.addField(this.trailers, line, 'trailer');
        return;
      default:
        return;
    }
  }

  private parseStatusLine(line: string): void {
    const m = STATUS_LINE.exec(line);
    if (!m) throw new Malformed(`bad status line "${printable(line)}"`);
    const [, major, minor, status, reason = ''] = m;
    if (major !== '1') throw new Malformed(`unsupported HTTP version HTTP/${major}.${minor}`);
    if (hasControlChar(reason)) {
      throw new Malformed(`bad status line "${printable(line)}" (control character in the reason phrase)`);
    }
    const code = Number(status);
    if (code < 100) throw new Malformed(`bad status code ${status}`);
    this.version = `HTTP/${major}.${minor}`;
    this.minor = Number(minor);
    this.status = code;
    this.reason = reason;
    this.headers = [];
  }

  private addField(into: HeaderField[], line: string, what: 'header' | 'trailer'): void {
    if (line[0] === ' ' || line[0] === '\t') {
      // obs-fold: RFC 9112 §5.2 tells user agents to replace it with a space.
      const last = into[into.length - 1];
      if (!last) throw new Malformed(`bad ${what} line "${printable(line)}" (continuation without a field)`);
      this.checkValue(line, what);
      last[1] = (last[1] + ' ' + line.trim()).trim();
      return;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!isToken(name)) throw new Malformed(`bad ${what} line "${printable(line)}"`);
    const value = trimOws(line.slice(colon + 1));
    this.checkValue(line, what);
    if (into.length >= MAX_HEADER_FIELDS) throw new Malformed(`more than ${MAX_HEADER_FIELDS} ${what} fields`);
    into.push([name, value]);
  }

  private checkValue(line: string, what: string): void {
    // A CR here is a bare CR inside the line (the line's own CRLF was already removed).
    if (/[\x00\r]/.test(line)) {
      throw new Malformed(`bad ${what} line "${printable(line)}" (NUL or bare CR in the field)`);
    }
  }

  private endOfHead(events: ParserEvent[]): void {
    const head: ResponseHead = {
      version: this.version,
      minor: this.minor,
      status: this.status,
      reason: this.reason,
      headers: this.headers,
    };
    if (this.status < 200) {
      if (this.status === 101) {
        throw new Malformed('unexpected 101 Switching Protocols (no upgrade was requested)');
      }
      if (++this.interimCount > MAX_INTERIM_RESPONSES) {
        throw new Malformed(`more than ${MAX_INTERIM_RESPONSES} interim (1xx) responses`);
      }
      events.push({ type: 'interim', head });
      this.state = 'status-line';
      this.headBytes = 0;
      return;
    }

    const framing = this.framing(head);
    const connection = head.headers.filter(([n]) => n.toLowerCase() === 'connection').map(([, v]) => v);
    // The same persistence rule as the server's (token.ts): HTTP/1.0 needs keep-alive, later versions persist unless close.
    this.keepAlive = framing.kind !== 'close' && isPersistent(connection.length === 0 ? undefined : connection.join(','), this.minor === 0 ? 0 : 1);
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means its framing cannot be trusted for reuse.
    if (this.minor === 0 && hasField(head.headers, 'transfer-encoding')) this.keepAlive = false;

    events.push({ type: 'head', head, framing, keepAlive: this.keepAlive });
    switch (framing.kind) {
      case 'none':
        this.finish(events);
        return;
      case 'length':
        this.expected = framing.length;
        this.remaining = framing.length;
        if (framing.length === 0) this.finish(events);
        else this.state = 'body-length';
        return;
      case 'chunked':
        this.state = 'chunk-size';
        return;
      case 'close':
        this.state = 'body-close';
        return;
    }
  }

  private framing(head: ResponseHead): Framing {
    const hasTE = hasField(head.headers, 'transfer-encoding');
    const hasCL = hasField(head.headers, 'content-length');
    if (hasTE && hasCL) throw new Malformed('response has both Content-Length and Transfer-Encoding');

    let length: number | undefined;
    if (hasCL) {
      // Repeated identical values ("5, 5") are allowed by RFC 9110 §8.6; differing ones are not.
      const values = listValues(head.headers, 'content-length');
      if (values.length === 0) throw new Malformed('empty Content-Length');
      for (const v of values) {
        if (!/^\d+$/.test(v)) throw new Malformed(`bad Content-Length "${printable(v)}"`);
        if (v.replace(/^0+(?=.)/, '').length > 15) throw new Malformed(`Content-Length ${printable(v)} is too large`);
        const n = Number(v);
        if (length !== undefined && n !== length) {
          throw new Malformed(`conflicting Content-Length values (${values.join(', ')})`);
        }
        length = n;
      }
    }

    let chunked = false;
    if (hasTE) {
      const codings = listValues(head.headers, 'transfer-encoding').map((c) => c.toLowerCase());
      const at = codings.indexOf('chunked');
      if (at !== -1 && at !== codings.length - 1) {
        throw new Malformed(`Transfer-Encoding "${codings.join(', ')}" has chunked before its last coding`);
      }
      chunked = at === codings.length - 1 && at !== -1;
    }

    if (this.method === 'HEAD' || this.status === 204 || this.status === 304) return { kind: 'none' };
    if (chunked) return { kind: 'chunked' };
    // RFC 9112 §6.3: a transfer coding other than chunked last leaves only the close to end the body.
    if (hasTE) return { kind: 'close' };
    if (length !== undefined) return { kind: 'length', length };
    return { kind: 'close' };
  }

  private parseChunkSize(line: string, events: ParserEvent[]): void {
    const m = /^([0-9A-Fa-f]+)(.*)$/.exec(line);
    if (!m) throw new Malformed(`bad chunk size "${printable(line)}"`);
    const [, hex, ext] = m as unknown as [string, string, string];
    if (hex.replace(/^0+(?=.)/, '').length > MAX_CHUNK_HEX_DIGITS) {
      throw new Malformed(`chunk size ${printable(hex)} is too large`);
    }
    if (ext !== '' && !CHUNK_EXT.test(ext)) {
      throw new Malformed(`bad chunk extension "${printable(ext)}"`);
    }
    const size = parseInt(hex, 16);
    events.push({ type: 'chunk', size, extensions: ext.trim() });
    if (size === 0) {
      this.state = 'trailers';
      return;
    }
    this.remaining = size;
    this.state = 'chunk-data';
  }

  private emitData(data: Buffer, events: ParserEvent[]): void {
    this.bodyBytes += data.length;
    events.push({ type: 'data', data });
  }

  private finish(events: ParserEvent[]): void {
    this.state = 'done';
    events.push(this.completeEvent());
  }

  private completeEvent(): ParserEvent {
    const rest = this.buf;
    this.buf = EMPTY;
    return {
      type: 'complete',
      trailers: this.trailers,
      bodyBytes: this.bodyBytes,
      keepAlive: this.keepAlive,
      rest,
    };
  }
}

class Malformed extends Error {}
