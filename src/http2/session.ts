/**
 * One HTTP/2 connection (an Http2Session nghttp2 frames): each stream's header list becomes
 * the Request the HTTP/1.1 parser would make (request.ts), goes to the same handler with the
 * same connection options, and its Reply goes back as HTTP/2 headers (response.ts) and a
 * body — a buffer, or a file range or multipart body from the one owner of descriptors
 * (files/stream.ts) with the stream's flow control as the backpressure. A stream the client
 * resets wakes its sender at once, which closes the file. Each stream gets one access record
 * (protocol "HTTP/2.0"), as each HTTP/1.1 response does.
 *
 * What nghttp2 and node:http2 bound already (header list size, rejected streams, invalid
 * frames, session memory) is set where the session is created (openSession); this file adds
 * caps of its own (FloodCaps) on streams the client resets (rapid reset, CVE-2023-44487),
 * PINGs and SETTINGS: past one, the session ends with GOAWAY ENHANCE_YOUR_CALM.
 */
import http2 from 'node:http2';
import type tls from 'node:tls';
import { reportResponse, type ClientAddresses } from '../http/access';
import { FRESH_GRACE_MS, type ConnectionOptions } from '../http/connection';
import type { ForwardedFields } from '../http/forwarded';
import { errorReply } from '../http/respond';
import type { CutReason, LoggedRequest, Reply } from '../http/types';
import { DEFAULT_LIMITS } from '../http/parse';
import { discardBody, sendBody, type BodySink, type FileBody, type MultipartBody, type SendControl } from '../files/stream';
import { requestFromHeaderList } from './request';
import { responseHeaders } from './response';

const { NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

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

/** What an HTTP/2 session adds to the connection options its listener gives every connection. */
export interface SessionOptions {
  /** The listener's scheme, which every request must name: https (cleartext HTTP/2 is not served). */
  readonly scheme: 'https' | 'http';
  readonly caps: FloodCaps;
  /** A client went past a cap: `what` names the flood (for a warning line). */
  onFlood(what: string, remote: string): void;
}

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

/**
 * How long a session ended for a flood stays open after its GOAWAY, taking no new stream:
 * closed at once, the socket would be reset while the flooder's frames are still unread, and
 * the reset can wipe the GOAWAY from the client's buffer before it reads why.
 */
const CALM_LINGER_MS = 200;

/** One stream's response on its way: reported exactly once, however it ends. */
interface Exchange {
  readonly req: LoggedRequest | null;
  readonly started: number;
  /** The status of the head sent; 0 until one is. */
  status: number;
  /** Body bytes nghttp2 has taken. */
  taken: number;
  reported: boolean;
}

/**
 * Makes the server side of an HTTP/2 connection on a TLS socket whose ALPN agreed on h2:
 * node:http2's performServerHandshake (Node 20.12+, 22, 24), which builds the session on
 * the socket it is given and nothing else — no http2 server whose compatibility layer would
 * make request and response objects for every stream, and no 'connection' emitted into one
 * (the path nodejs/node#34532 broke for injected sockets). The socket's handshake, timeouts
 * and ticket keys stay the TLS acceptor's.
 */
export function openSession(socket: tls.TLSSocket, maxConcurrentStreams: number): http2.ServerHttp2Session {
  return http2.performServerHandshake(socket, {
    settings: {
      // Inside settings: at the top level Node ignores it and advertises no limit.
      maxConcurrentStreams,
      // The same bound as an HTTP/1.1 head (nghttp2 resets a stream past it).
      maxHeaderListSize: DEFAULT_LIMITS.maxHeadBytes,
      enablePush: false,
    },
    maxHeaderListPairs: DEFAULT_LIMITS.maxHeaders + 8,
  });
}

export class H2Session {
  private readonly exchanges = new Set<Exchange>();
  private readonly openedAt = performance.now();
  private streamsSeen = 0;
  private ended = false;
  private readonly resets: RateCap;
  /** Streams this side reset (a refusal, a timeout): not counted as the client's resets. */
  private readonly ownResets = new WeakSet<http2.ServerHttp2Stream>();

  constructor(
    readonly session: http2.ServerHttp2Session,
    private readonly opts: ConnectionOptions,
    private readonly h2: SessionOptions,
    private readonly client: ClientAddresses,
    onClosed: (s: H2Session) => void,
    /** Set when the connection came from a trusted proxy: its X-Forwarded-* are read per stream, as per HTTP/1.1 request. */
    private readonly forwarded: ForwardedFields | null = null,
  ) {
    session.on('stream', (stream: http2.ServerHttp2Stream, _headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) => this.stream(stream, flags, raw));
    session.on('error', () => undefined); // the session's 'close' follows; nothing to answer
    session.once('close', () => onClosed(this));
    // Idle between streams as an HTTP/1.1 connection between requests.
    session.setTimeout(opts.keepAliveTimeoutMs, () => (this.idle ? this.drain() : undefined));
    const { windowMs, resets, pings, settings } = h2.caps;
    this.resets = new RateCap(resets, windowMs);
    const pingCap = new RateCap(pings, windowMs);
    const settingsCap = new RateCap(settings, windowMs);
    session.on('ping', () => pingCap.hit(performance.now()) && this.calm('PING flood'));
    session.on('remoteSettings', () => settingsCap.hit(performance.now()) && this.calm('SETTINGS flood'));
  }

  /** No stream is being answered. */
  get idle(): boolean {
    return this.exchanges.size === 0;
  }

  /**
   * GOAWAY with the last stream id: streams under way finish, then the session closes. A
   * session that has not had its first stream yet was made to send some right away (its
   * handshake may have finished during the drain): it gets the short grace a fresh HTTP/1.1
   * connection gets, so its first requests are answered instead of refused.
   */
  drain(): void {
    const left = FRESH_GRACE_MS - (performance.now() - this.openedAt);
    if (this.streamsSeen === 0 && left > 0) {
      setTimeout(() => this.drain(), Math.ceil(left)).unref();
      return;
    }
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  /** Closes the session now; the streams it cuts are reported first. */
  cut(reason: 'drain-deadline' | 'forced'): void {
    for (const x of this.exchanges) this.finish(x, reason);
    this.session.destroy();
  }

  private report(x: Exchange, reason: CutReason | null): void {
    reportResponse(this.opts.onAccess, this.opts.counters, this.client, x.req, x.status, x.taken, reason, x.started);
  }

  /** The exchange's one report; `reason` null: every byte was taken. */
  private finish(x: Exchange, reason: CutReason | null): void {
    if (x.reported) return;
    x.reported = true;
    this.exchanges.delete(x);
    // No head sent: 499 when the client left, 444 when we cut (nginx's codes, as on HTTP/1.1).
    if (x.status === 0) x.status = reason === 'client-closed' ? 499 : 444;
    this.report(x, reason);
  }

  private stream(stream: http2.ServerHttp2Stream, flags: number, raw: string[]): void {
    const started = performance.now();
    this.streamsSeen++;
    stream.on('error', () => undefined); // a reset or a refusal of ours shows as 'close'
    if (this.ended) {
      this.reset(stream, NGHTTP2_REFUSED_STREAM); // after a flood's GOAWAY: no more work
      return;
    }
    const parsed = requestFromHeaderList(raw, (flags & END_STREAM) !== 0, this.h2.scheme);
    if (parsed.kind === 'malformed') {
      this.reset(stream, NGHTTP2_PROTOCOL_ERROR);
      this.report({ req: null, status: 400, started, taken: 0, reported: true }, null);
      return;
    }
    if (parsed.kind === 'request' && this.forwarded !== null) this.forwarded.apply(parsed.request, this.client.remote);
    const x: Exchange = { req: { ...parsed.request, protocol: 'HTTP/2.0' }, status: 0, started, taken: 0, reported: false };
    this.exchanges.add(x);
    stream.once('close', () => {
      // A reset of the client's (RST_STREAM from it), whether our answer was under way or not.
      const code = stream.rstCode;
      if (code !== undefined && code !== NGHTTP2_NO_ERROR && !this.ownResets.has(stream) && this.resets.hit(performance.now())) this.calm('rapid reset');
      this.finish(x, 'client-closed');
    });
    if (parsed.kind === 'refused') {
      this.answer(stream, x, errorReply(parsed.status));
      return;
    }
    let reply: Reply | Promise<Reply>;
    try {
      reply = this.opts.handle(parsed.request, this.client.remote);
    } catch (err) {
      this.opts.onError(err, 'handler failed');
      reply = errorReply(500);
    }
    if (!(reply instanceof Promise)) return this.answer(stream, x, reply);
    reply.then(
      (r) => this.answer(stream, x, r),
      (err: unknown) => {
        this.opts.onError(err, 'handler failed');
        this.answer(stream, x, errorReply(500));
      },
    );
  }

  private answer(stream: http2.ServerHttp2Stream, x: Exchange, reply: Reply): void {
    const body = reply.body;
    if (stream.closed || stream.destroyed) {
      discardBody(body);
      this.finish(x, 'client-closed');
      return;
    }
    x.status = reply.status;
    const headers = responseHeaders(reply, this.opts.listenerHeaders ?? '', Date.now());
    if (body === null || x.req!.method === 'HEAD') {
      discardBody(body);
      stream.respond(headers, { endStream: true });
      this.finish(x, null);
      return;
    }
    stream.respond(headers);
    if (Buffer.isBuffer(body)) {
      stream.end(body, () => {
        x.taken = body.length;
        this.finish(x, null);
      });
      return;
    }
    this.sendFile(stream, x, body);
  }

  private sendFile(stream: http2.ServerHttp2Stream, x: Exchange, body: FileBody | MultipartBody): void {
    let wake: (() => void) | null = null;
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
      this.finish(x, 'send-timeout');
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
          if (!err) x.taken += chunk.length;
          done(err);
        }),
    };
    sendBody(sink, body, ctl).then(
      () => {
        clearTimeout(stall);
        stream.end(() => this.finish(x, null));
      },
      (err: NodeJS.ErrnoException) => {
        if (!timedOut && alive()) {
          // The file failed us (read error, shrank): the client sees a cancelled stream.
          this.opts.onError(err, 'body stream failed');
          this.finish(x, 'file-error');
          this.reset(stream, NGHTTP2_CANCEL);
        }
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
    this.h2.onFlood(what, this.client.remote);
    this.session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    setTimeout(() => this.session.destroy(), CALM_LINGER_MS).unref();
  }
}
