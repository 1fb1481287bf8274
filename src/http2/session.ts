/**
 * One HTTP/2 connection (an Http2Session nghttp2 frames): each stream's header list becomes
 * the Request the HTTP/1.1 parser would make (request.ts), goes to the same handler, and its
 * Reply goes back as HTTP/2 headers (response.ts) and a body — a buffer, or a file range or
 * multipart body from the one owner of descriptors (files/stream.ts) with the stream's flow
 * control as the backpressure. A stream the client resets wakes its sender at once, which
 * closes the file.
 *
 * What nghttp2 and node:http2 bound already (header list size, rejected streams, invalid
 * frames, outstanding pings and settings, session memory) is set where the session is
 * created; this file adds a cap of its own on streams the client resets (rapid reset,
 * CVE-2023-44487): past it the session ends with GOAWAY ENHANCE_YOUR_CALM.
 */
import http2 from 'node:http2';
import type { CutReason, LoggedRequest, Reply, Request } from '../http/types';
import { errorReply } from '../http/respond';
import { discardBody, sendBody, type BodySink, type FileBody, type MultipartBody, type SendControl } from '../files/stream';
import { requestFromHeaderList } from './request';
import { responseHeaders } from './response';

const { NGHTTP2_PROTOCOL_ERROR, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

export interface StreamOptions {
  /** The listener's scheme, which every request must name: https. */
  readonly scheme: 'https' | 'http';
  handle(req: Request, remote: string): Reply | Promise<Reply>;
  /** The listener's header lines (HSTS). */
  readonly listenerHeaders: string;
  /** A stream whose body makes no progress for this long is cancelled. */
  readonly sendTimeoutMs: number;
  /** Client resets allowed per `resetWindowMs` before the session is ended. */
  readonly maxResets: number;
  readonly resetWindowMs: number;
  /** One call per stream answered (or cut): `req` null for a malformed one, which gets no response. */
  report(req: LoggedRequest | null, status: number, bytes: number, reason: CutReason | null, started: number): void;
  onError(err: unknown, what: string): void;
}

/** The HEADERS frame ended the stream: no body follows. */
const END_STREAM = 0x1;

export class H2Session {
  private open = 0;
  private resets: number[] = [];
  private ended = false;

  constructor(
    readonly session: http2.ServerHttp2Session,
    private readonly opts: StreamOptions,
    private readonly remote: string,
  ) {
    session.on('stream', (stream: http2.ServerHttp2Stream, _headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) => this.stream(stream, flags, raw));
    session.on('error', () => undefined); // the session's 'close' follows; nothing to answer
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
      stream.close(NGHTTP2_PROTOCOL_ERROR);
      this.opts.report(null, 400, 0, 'client-closed', started);
      return;
    }
    this.open++;
    stream.once('aborted', () => this.countReset());
    stream.once('close', () => this.open--);
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
      stream.close(NGHTTP2_CANCEL);
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
        if (alive()) stream.close(NGHTTP2_CANCEL);
        this.opts.report(req, status, taken, timedOut ? 'send-timeout' : 'client-closed', started);
      },
    );
  }

  /** Rapid reset: too many client resets in the window end the session. */
  private countReset(): void {
    const now = performance.now();
    this.resets.push(now);
    while (this.resets.length > 0 && now - this.resets[0]! > this.opts.resetWindowMs) this.resets.shift();
    if (this.resets.length > this.opts.maxResets && !this.ended) {
      this.ended = true;
      this.session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
      this.session.destroy();
    }
  }
}
