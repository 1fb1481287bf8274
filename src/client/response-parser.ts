/**
 * An incremental HTTP/1.x response parser: bytes in, events out, no I/O.
 *
 * One parser reads one response (plus any 1xx interim responses before it).
 * Bytes that arrive after the response's end are handed back in the
 * `complete` event so that the caller can feed them to the parser of the next
 * pipelined response.
 *
 * This file is the state machine: it cuts the bytes into lines and body bytes
 * (Content-Length, chunked, or up to the close) under the size limits, and says
 * where a response stopped when the connection ends. What each line means and
 * how a head frames its body is response-grammar.ts. It is longer than our
 * usual 300 lines because a state machine reads best whole: every state's
 * transitions are in run() and onLine(), and its events and states are its
 * interface; spread over files, one state would be read in two places.
 */
import { countOf } from '../plural';
import {
  addFieldLine,
  framingOf,
  MalformedResponse,
  parseChunkSizeLine,
  parseStatusLine,
  persists,
  type Framing,
  type HeaderField,
  type ResponseHead,
} from './response-grammar';

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

// Each interim response resets the head limit, so without a cap a server could stream 1xx heads forever.
const MAX_INTERIM_RESPONSES = 100;
const EMPTY = Buffer.alloc(0);

export class ResponseParser {
  private state: State = 'status-line';
  private buf: Buffer = EMPTY;
  private readonly method: string;
  private readonly maxHeadBytes: number;
  private readonly maxLineBytes: number;

  private headBytes = 0;
  /** The head being read (the status line's fields, then its header fields). */
  private head: ResponseHead = { version: '', minor: 1, status: 0, reason: '', headers: [] };
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
      if (!(err instanceof MalformedResponse)) throw err;
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
        return `${conn} after ${countOf(this.bodyBytes, 'body byte')} of a chunked body, before its last chunk`;
      case 'trailers':
        return `${conn} after ${countOf(this.bodyBytes, 'body byte')}, in the trailer section of a chunked body`;
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
        case 'body-length':
          if (this.buf.length === 0) return;
          if (this.takeBody(events) === 0) this.finish(events);
          break;
        case 'body-close':
          if (this.buf.length > 0) this.emitData(this.buf, events);
          this.buf = EMPTY;
          return;
        case 'chunk-data':
          if (this.buf.length === 0) return;
          if (this.takeBody(events) === 0) this.state = 'chunk-data-end';
          break;
        case 'chunk-data-end': {
          // Chunk data must be followed by exactly CRLF (a bare LF is tolerated like elsewhere).
          if (this.buf.length === 0) return;
          if (this.buf[0] === 0x0a) {
            this.buf = this.buf.subarray(1);
          } else if (this.buf[0] === 0x0d) {
            if (this.buf.length < 2) return;
            if (this.buf[1] !== 0x0a) throw new MalformedResponse('chunk data not followed by CRLF');
            this.buf = this.buf.subarray(2);
          } else {
            throw new MalformedResponse('chunk data longer than its chunk size (no CRLF after the chunk)');
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
      if (this.buf.length > limit) throw new MalformedResponse(this.tooLong(inHead));
      return undefined;
    }
    if (lf + 1 > limit) throw new MalformedResponse(this.tooLong(inHead));
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
        this.head = { ...parseStatusLine(line), headers: [] };
        this.state = 'headers';
        return;
      case 'headers':
        if (line === '') {
          this.endOfHead(events);
          return;
        }
        addFieldLine(this.head.headers, line, 'header');
        return;
      case 'chunk-size':
        this.onChunkSize(line, events);
        return;
      case 'trailers':
        if (line === '') {
          this.finish(events);
          return;
        }
        addFieldLine(this.trailers, line, 'trailer');
        return;
      default:
        return;
    }
  }

  private endOfHead(events: ParserEvent[]): void {
    const { head } = this;
    if (head.status < 200) {
      if (head.status === 101) {
        throw new MalformedResponse('unexpected 101 Switching Protocols (no upgrade was requested)');
      }
      if (++this.interimCount > MAX_INTERIM_RESPONSES) {
        throw new MalformedResponse(`more than ${MAX_INTERIM_RESPONSES} interim (1xx) responses`);
      }
      events.push({ type: 'interim', head });
      this.state = 'status-line';
      this.headBytes = 0;
      return;
    }

    const framing = framingOf(head, this.method);
    this.keepAlive = persists(head, framing);

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

  private onChunkSize(line: string, events: ParserEvent[]): void {
    const { size, extensions } = parseChunkSizeLine(line);
    events.push({ type: 'chunk', size, extensions });
    if (size === 0) {
      this.state = 'trailers';
      return;
    }
    this.remaining = size;
    this.state = 'chunk-data';
  }

  /** Emits buffered body bytes up to `remaining` (of the body, or of the chunk); returns what remains. */
  private takeBody(events: ParserEvent[]): number {
    const n = Math.min(this.remaining, this.buf.length);
    this.emitData(this.buf.subarray(0, n), events);
    this.buf = this.buf.subarray(n);
    this.remaining -= n;
    return this.remaining;
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
