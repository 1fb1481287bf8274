/**
 * One HTTP/2 connection (an Http2Session nghttp2 frames): each stream's header list becomes
 * the Request the HTTP/1.1 parser would make (request.ts), goes to the same handler, and its
 * Reply goes back as HTTP/2 headers (response.ts) and a body — a buffer, or a file range or
 * multipart body from the one owner of descriptors (files/stream.ts) with the stream's flow
 * control as the backpressure. A stream the client resets wakes its sender at once, which
 * closes the file.
 *
 * What nghttp2 and node:http2 bound already (header list size, rejected streams, invalid
 * frames, session memory) is set where the session is created; this file adds caps of its
 * own (FloodCaps) on streams the client resets (rapid reset, CVE-2023-44487), PINGs and
 * SETTINGS: past one, the session ends with GOAWAY ENHANCE_YOUR_CALM.
 */
import http2 from 'node:http2';
import type { CutReason, LoggedRequest, Reply, Request } from '../http/types';
import { errorReply } from '../http/respond';
import { discardBody, sendBody, type BodySink, type FileBody, type MultipartBody, type SendControl } from '../files/stream';
import { requestFromHeaderList } from './request';
import { responseHeaders } from './response';

const { NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

export interface StreamOptions {
  /** The listener's scheme, which every request must name: https. */
  readonly scheme: 'https' | 'http';
  handle(req: Request, remote: string): Reply | Promise<Reply>;
  /** The listener's header lines (HSTS). */
  readonly listenerHeaders: string;
  /** A stream whose body makes no progress for this long is cancelled. */
  readonly sendTimeoutMs: number;
  /** What a client may send per `floodWindowMs` before its session is ended (see FloodCaps). */
  readonly caps: FloodCaps;
  /** One call per stream answered (or cut): `req` null for a malformed one, which gets no response. */
  report(req: LoggedRequest | null, status: number, bytes: number, reason: CutReason | null, started: number): void;
  onError(err: unknown, what: string): void;
  /** A client went past a cap: `what` names the flood (for a warning line and a count). */
  onFlood(what: string): void;
}

/**
 * Per session and `windowMs`: streams the client resets (rapid reset), PINGs and SETTINGS it
 * sends (each costs us an acknowledgement). Past any of them, GOAWAY ENHANCE_YOUR_CALM and
 * the session closes: a browser stays far below them (it resets a stream when a page is left,
 * pings rarely, settles its settings once).
 */
export interface FloodCaps {
  readonly windowMs: number;
  readonly resets: number;
  readonly pings: number;
  readonly settings: number;
}

export const FLOOD_CAPS: FloodCaps = Object.freeze({ windowMs: 10_000, resets: 200, pings: 100, settings: 100 });

/** Events in a sliding window: `hit()` says whether this one is past the cap. */
class RateCap {
  private times: number[] = [];
  constructor(
    private readonly cap: number,
    private readonly windowMs: number,
  ) {}

  hit(now: number): boolean {
    const times = this.times;
    times.push(now);
    let old = 0;
    while (old < times.length && now - times[old]! > this.windowMs) old++;
    if (old > 0) times.splice(0, old);
    return times.length > this.cap;
  }
}

/** The HEADERS frame ended the stream: no body follows. */
const END_STREAM = 0x1;

export class H2Session {
  private open = 0;
  private ended = false;
  private readonly resets: RateCap;
  /** Streams this side reset (a refusal, a timeout): not counted as the client's resets. */
  private readonly ownResets = new WeakSet<http2.ServerHttp2Stream>();

  constructor(
    readonly session: http2.ServerHttp2Session,
    private readonly opts: StreamOptions,
    private readonly remote: string,
  ) {
    session.on('stream', (stream: http2.ServerHttp2Stream, _headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) => this.stream(stream, flags, raw));
    session.on('error', () => undefined); // the session's 'close' follows; nothing to answer
    const { windowMs, resets, pings, settings } = opts.caps;
    this.resets = new RateCap(resets, windowMs);
    const pingCap = new RateCap(pings, windowMs);
    const settingsCap = new RateCap(settings, windowMs);
    session.on('ping', () => pingCap.hit(performance.now()) && this.calm('PING flood'));
    session.on('remoteSettings', () => settingsCap.hit(performance.now()) && this.calm('SETTINGS flood'));
  }

  /** No stream is being answered. */
  get idle(): boolean {
    return this.open === 0;
  }

  /** GOAWAY with the last stream id: streams under way finish, then the session closes. */
  drain(): void {
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  cut(): void {
    this.session.destroy();
  }

  private stream(stream: http2.ServerHttp2Stream, flags: number, raw: string[]): void {
    const started = performance.now();
    stream.on('error', () => undefined); // a reset or a refusal of ours shows as 'aborted' and 'close'
    const parsed = requestFromHeaderList(raw, (flags & END_STREAM) !== 0, this.opts.scheme);
    if (parsed.kind === 'malformed') {
      this.reset(stream, NGHTTP2_PROTOCOL_ERROR);
      this.opts.report(null, 400, 0, 'client-closed', started);
      return;
    }
    this.open++;
    stream.once('close', () => {
      this.open--;
      // A reset of the client's (RST_STREAM from it), whether our answer was under way or not.
      if (stream.rstCode !== undefined && stream.rstCode !== NGHTTP2_NO_ERROR && !this.ownResets.has(stream) && this.resets.hit(performance.now())) this.calm('rapid reset');
    });
    if (parsed.kind === 'refused') {
      this.answer(stream, parsed.request, errorReply(parsed.status), started);
      return;
    }
    const req = parsed.request;
    let reply: Reply | Promise<Reply>;
    try {
      reply = this.opts.handle(req, this.remote);
    } catch (err) {
      this.opts.onError(err, 'handler failed');
      reply = errorReply(500);
    }
    if (reply instanceof Promise) {
      reply.then(
        (r) => this.answer(stream, req, r, started),
        (err: unknown) => {
          this.opts.onError(err, 'handler failed');
          this.answer(stream, req, errorReply(500), started);
        },
      );
    } else {
      this.answer(stream, req, reply, started);
    }
  }

  private answer(stream: http2.ServerHttp2Stream, req: LoggedRequest, reply: Reply, started: number): void {
    const body = reply.body;
    if (stream.closed || stream.destroyed) {
      discardBody(body);
      this.opts.report(req, reply.status, 0, 'client-closed', started);
      return;
    }
    const headers = responseHeaders(reply, this.opts.listenerHeaders, Date.now());
    if (body === null || req.method === 'HEAD') {
      discardBody(body);
      stream.respond(headers, { endStream: true });
      this.opts.report(req, reply.status, 0, null, started);
      return;
    }
    stream.respond(headers);
    if (Buffer.isBuffer(body)) {
      stream.end(body, () => this.opts.report(req, reply.status, body.length, null, started));
      return;
    }
    this.sendFile(stream, req, reply.status, body, started);
  }

  private sendFile(stream: http2.ServerHttp2Stream, req: LoggedRequest, status: number, body: FileBody | MultipartBody, started: number): void {
    let wake: (() => void) | null = null;
    let taken = 0;
    const alive = () => !stream.closed && !stream.destroyed;
    // A reset or a cancel wakes a sender parked on flow control: it sees the stream gone and closes the file.
    stream.once('close', () => wake?.());
    // The send timeout on write progress, as on HTTP/1.1 (send-watch.ts): Node's own
    // stream.setTimeout skips a firing while writes are queued, so a stalled reader would
    // be cancelled only after twice the value. A completed write (nghttp2 took the chunk)
    // starts the count again.
    let timedOut = false;
    const stall = setTimeout(() => {
      timedOut = true;
      this.reset(stream, NGHTTP2_CANCEL);
    }, this.opts.sendTimeoutMs);
    stream.once('close', () => clearTimeout(stall));
    const ctl: SendControl = {
      alive,
      waitFor: (register) => new Promise<void>((resolve) => register((wake = resolve))),
      progress: () => stall.refresh(),
    };
    const sink: BodySink = {
      write: (chunk, done) =>
        stream.write(chunk, (err?: Error | null) => {
          if (!err) taken += chunk.length;
          done(err);
        }),
    };
    sendBody(sink, body, ctl).then(
      (bytes) => {
        clearTimeout(stall);
        stream.end(() => this.opts.report(req, status, bytes, null, started));
      },
      () => {
        if (alive()) this.reset(stream, NGHTTP2_CANCEL);
        this.opts.report(req, status, taken, timedOut ? 'send-timeout' : 'client-closed', started);
      },
    );
  }

  private reset(stream: http2.ServerHttp2Stream, code: number): void {
    this.ownResets.add(stream);
    stream.close(code);
  }

  /** A flood: GOAWAY ENHANCE_YOUR_CALM, then the session ends (its streams with it). */
  private calm(what: string): void {
    if (this.ended) return;
    this.ended = true;
    this.opts.onFlood(what);
    this.session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    this.session.destroy();
  }
}
