/**
 * One TCP connection: reads request heads, answers them in order (keep-alive and
 * pipelining), applies backpressure, enforces timeouts, and takes part in the drain.
 *
 * States: idle (waiting for a request), head (part of a head has arrived), busy (a reply is
 * being prepared asynchronously or a body is being streamed), closed. While busy the socket
 * is paused, so a client that pipelines many requests is held back by TCP rather than by
 * our memory, and a slow reader never makes us buffer more than two file chunks.
 *
 * This module only writes: replies are built by respond.ts, file bodies are read (and their
 * descriptors closed) by files/stream.ts. Longer than the ~300 lines other modules keep to:
 * it is one state machine, and its transitions (data, timers, FIN, drain, async replies)
 * are only checkable side by side.
 */
import type net from 'node:net';
import { DEFAULT_LIMITS, MAX_LEADING_EMPTY_LINES, parseRequestHead, type Limits } from './parse';
import { errorReply, serializeHead, wireWithListenerLines } from './respond';
import { bodyLength, discardBody, sendBody, type FileBody, type MultipartBody, type SendControl } from '../files/stream';
import { SendWatch } from './send-watch';
import { reportResponse, type AccessSink } from './access';
import type { ForwardedFields } from './forwarded';
import { OutgoingResponses } from './outgoing';
import type { CutReason, ListenerInfo, LoggedRequest, Reply, Request } from './types';
import type { RequestCounters } from '../metrics/counters';

export interface ConnectionOptions {
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  sendTimeoutMs: number;
  limits?: Partial<Limits>;
  /** Decides the reply for one request (`remote`: the peer's address): synchronously on a cache hit, else a promise. */
  handle(req: Request, remote: string): Reply | Promise<Reply>;
  /** One call per response, when access logging is on. */
  onAccess: AccessSink;
  /** Per-response counts for the metrics, or null when metrics are off. */
  counters: RequestCounters | null;
  /** Something unexpected happened on this connection (logged by the worker). */
  onError(err: unknown, what: string): void;
  /**
   * Header lines (each ending in CRLF) the listener adds to every response it sends, errors
   * included: HSTS on the HTTPS listener; '' (or absent) on plain HTTP.
   */
  readonly listenerHeaders?: string;
}

/**
 * Who the client is when that is not simply the socket's peer: behind a proxy (set up by
 * src/http/behind-proxy.ts; without trustedProxies and proxyProtocol there is none).
 */
export interface ConnectionOrigin {
  /** The client's address: what a PROXY header named, else the peer's. */
  remote: string;
  /** What arrived after the PROXY header (the start of the first request), or null. */
  initial: Buffer | null;
  /** Set when `remote` is a trusted proxy: its X-Forwarded-For/-Proto fields are read on every request. */
  forwarded: ForwardedFields | null;
}

const enum State {
  Idle,
  Head,
  Busy,
  Closed,
}

/**
 * Errors that mean the client went away (reset, closed, or we dropped it), not a fault of ours.
 * ECANCELED: on Node 22 and 24, a write still queued when we destroy the socket (a send
 * timeout) completes with it (Node 20 logged nothing there).
 */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ECANCELED', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/**
 * A drain closes idle connections at once, except one accepted this recently that has sent
 * nothing yet: clients send their request right after connecting, so it is most likely on
 * its way, and dropping it would fail a request on a connection that was never used (which a
 * client cannot tell from a server failure; on a reused one it knows to retry).
 */
const FRESH_GRACE_MS = 250;

/** Stop answering pipelined requests while this much is queued for a slow reader. */
const WRITE_HIGH_WATER = 1024 * 1024;

export class Connection {
  private state = State.Idle;
  private pending: Buffer | null = null;
  private headStartedAt = 0;
  private timeoutMs = 0;
  private draining = false;
  /** The client has shut down its sending side (FIN): answer what it sent, then close. */
  private peerEnded = false;
  /** Nothing received yet, and when the connection was accepted (see FRESH_GRACE_MS). */
  private fresh = true;
  private readonly acceptedAt = performance.now();
  /** The client's address (what the access log calls remote), and the socket's own peer. */
  readonly remote: string;
  readonly peer: string;
  private readonly forwarded: ForwardedFields | null;
  /** Wakes a body stream waiting on the socket when the socket goes away. */
  private wake: (() => void) | null = null;
  /** Responses handed to the socket and not yet taken by the kernel: each one's access line comes from there. */
  private readonly out: OutgoingResponses;
  /** Given to every write: a completed write may settle responses waiting in `out` (one function per connection). */
  private readonly afterWrite = () => this.out.settle();
  /** How a body stream asks whether to go on and waits for the socket (one per connection, not per body). */
  private readonly sendControl: SendControl = {
    alive: () => this.state !== State.Closed,
    waitFor: (register) =>
      new Promise<void>((resolve) => {
        this.wake = resolve;
        register(resolve);
      }),
    progress: () => this.out.sample(),
  };
  /** Empty lines ignored since the last request (RFC 9112 §2.2), bounded. */
  private emptyLines = 0;
  /** The send timeout while busy (Node's socket timer is off then: it fires at twice the value). */
  private readonly sendWatch: SendWatch;

  constructor(
    readonly socket: net.Socket,
    private readonly opts: ConnectionOptions,
    onClosed: (conn: Connection) => void,
    origin: ConnectionOrigin | null,
    /** The listener kind that made it says which it is (and the TLS version): data for the log and the metrics. */
    readonly listener: ListenerInfo,
  ) {
    this.peer = socket.remoteAddress ?? '';
    this.remote = origin === null ? this.peer : origin.remote;
    this.forwarded = origin === null ? null : origin.forwarded;
    this.out = new OutgoingResponses(socket, (req, status, bytes, reason, started) =>
      reportResponse(this.opts.onAccess, this.opts.counters, this, req, status, bytes, reason, started),
    );
    this.sendWatch = new SendWatch(socket, opts.sendTimeoutMs, () => this.state === State.Busy, () => {
      this.opts.onError(new Error(`client read nothing for ${opts.sendTimeoutMs} ms`), 'send timeout');
      this.destroyWith('send-timeout');
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('timeout', () => this.onTimeout());
    // The server runs with allowHalfOpen: a client may send its requests and shut down its
    // side at once (printf ... | nc, the classic socket exercise); it still gets its answers.
    socket.on('end', () => this.onPeerEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset noticed on a read leaves libuv's write counters as they were: what the kernel
      // took is still exact here (see OutgoingResponses.sample; not so after a failed write).
      if (err.syscall !== 'write') this.out.sample(true);
      // Resets and broken pipes are the client's business; anything else is worth a line.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') opts.onError(err, 'socket error');
    });
    socket.on('close', () => {
      this.state = State.Closed;
      this.sendWatch.stop();
      this.pending = null;
      // Our own cuts have logged their responses already: whatever is left, the client cut.
      this.out.cut('client-closed');
      this.wake?.();
      onClosed(this);
    });
    this.setTimer(opts.keepAliveTimeoutMs);
    // On the next tick: whoever creates the connection may first tell it to drain, so that
    // the request already received is answered with Connection: close.
    const initial = origin === null ? null : origin.initial;
    if (initial !== null) process.nextTick(() => this.onData(initial));
  }

  /**
   * Idle: waiting for a request with nothing of one received, and nothing of the last
   * response still queued for the client (a cached body is handed to the socket at once
   * but may take a while to leave it).
   */
  get idle(): boolean {
    return this.state === State.Idle && this.pending === null && this.socket.writableLength === 0;
  }

  /**
   * Graceful stop: an idle connection closes now; any other finishes its current response
   * (with Connection: close) and then closes. Pipelined requests not yet answered are
   * dropped, which RFC 9112 §9.3.2 lets a client retry on a new connection: never read nor
   * answered, they get no access line (as nginx logs only requests it answered).
   */
  drain(): void {
    this.draining = true;
    const age = performance.now() - this.acceptedAt;
    if (this.idle && this.fresh && age < FRESH_GRACE_MS) this.setTimer(Math.ceil(FRESH_GRACE_MS - age)); // its request, or the timer closes it
    else if (this.idle) this.closeIdle();
    else if (this.state === State.Idle && this.pending === null) this.finish(); // flush, then FIN
  }

  /**
   * The drain deadline or a forced stop: cut the connection now. Its responses get their
   * lines first (synchronously: the process exits right after), with the bytes sent so far.
   */
  cut(reason: 'drain-deadline' | 'forced'): void {
    // Already destroyed by Node (a reset whose close is still on its way): the client's doing.
    this.destroyWith(this.socket.destroyed ? 'client-closed' : reason);
  }

  /** Every close that is ours and not a clean end: the responses not yet taken get their lines, with `reason`. */
  private destroyWith(reason: CutReason): void {
    this.out.cut(reason);
    this.socket.destroy();
  }

  /** Nothing is queued on an idle connection: what it sent is all taken, and logged before it closes. */
  private closeIdle(): void {
    this.out.settle();
    this.socket.destroy();
  }

  private setTimer(ms: number): void {
    if (ms !== this.timeoutMs) {
      this.timeoutMs = ms;
      this.socket.setTimeout(ms);
    }
  }

  private onData(chunk: Buffer): void {
    this.fresh = false;
    if (this.state === State.Closed) return; // lingering after a final response: discard
    this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.state === State.Busy) return; // the socket is paused; this is what was in flight
    this.processPending();
  }

  private onTimeout(): void {
    switch (this.state) {
      case State.Head:
        this.respondError(408); // the request head was not completed in time
        break;
      case State.Busy:
        break; // the send timeout is sendWatch's (Node's socket timer is off while busy)
      default:
        // Idle keep-alive expired, or a closed socket that lingers; a response still queued
        // here is one the client stopped reading.
        this.destroyWith('send-timeout');
    }
  }

  /** Answers every whole request head in `pending`, in order, while it can do so synchronously. */
  private processPending(): void {
    const sock = this.socket;
    let buf = this.pending;
    let off = 0;
    let corked = false;
    try {
      while (buf !== null && off < buf.length) {
        const parsed = parseRequestHead(buf, off, buf.length, this.opts.limits ?? DEFAULT_LIMITS);
        if (parsed.kind === 'incomplete') break;
        if (parsed.kind === 'error') {
          this.pending = null;
          this.respondError(parsed.status, parsed.request);
          return;
        }
        off += parsed.consumed;
        this.emptyLines = 0;
        const req = parsed.request;
        if (this.forwarded !== null) this.forwarded.apply(req, this.remote);
        const started = performance.now();
        let reply: Reply | Promise<Reply>;
        try {
          reply = this.opts.handle(req, this.remote);
        } catch (err) {
          this.opts.onError(err, 'handler failed');
          reply = errorReply(500);
        }
        if (reply instanceof Promise) {
          this.pending = off < buf.length ? buf.subarray(off) : null;
          this.out.awaitReply(req, started);
          this.becomeBusy();
          reply.then(
            (r) => this.deliverThenContinue(req, r, started),
            (err) => {
              this.opts.onError(err, 'handler failed');
              this.deliverThenContinue(req, errorReply(500), started);
            },
          );
          return;
        }
        // Cork only when more than one write is coming (a head and a body, or pipelined
        // responses) so they leave in one writev; a lone precomputed response is one write.
        if (!corked && (off < buf.length || reply.wire === undefined)) {
          sock.cork();
          corked = true;
        }
        if (!this.deliver(req, reply, started)) {
          // Streaming a body (keep what was pipelined behind it) or closing (drop it).
          if (this.state !== State.Closed) this.pending = off < buf.length ? buf.subarray(off) : null;
          return;
        }
        if (sock.writableLength > WRITE_HIGH_WATER) {
          // A reader slower than its own pipeline: wait until it has taken what it asked for.
          this.pending = off < buf.length ? buf.subarray(off) : null;
          this.becomeBusy();
          sock.once('drain', () => this.continueAfterBusy());
          return;
        }
      }
      this.pending = buf === null || off >= buf.length ? null : off === 0 ? buf : buf.subarray(off);
      this.afterBatch();
    } finally {
      if (corked) {
        sock.uncork();
        this.out.settle(); // what the batch handed over may all be taken now
      }
    }
  }

  /** The client sent FIN: nothing more will arrive. */
  private onPeerEnd(): void {
    this.peerEnded = true;
    // Busy: the reply in progress ends in afterBatch, which sees peerEnded.
    if (this.state === State.Idle || this.state === State.Head) this.afterBatch();
  }

  /** Sets the state and timer once a batch of requests has been answered. */
  private afterBatch(): void {
    if (this.state === State.Closed) return;
    if (this.peerEnded) {
      // Nothing more can arrive; a partial head left now never completes.
      this.finish();
      return;
    }
    if (this.pending === null) {
      this.state = State.Idle;
      if (this.draining) {
        if (this.socket.writableLength === 0) this.closeIdle();
        else this.finish(); // the last response is still leaving: let it, then close
        return;
      }
      this.setTimer(this.opts.keepAliveTimeoutMs);
      return;
    }
    if (this.state !== State.Head && this.onlyEmptyLines()) {
      // A stray CRLF after a request (RFC 9112 §2.2 asks servers to ignore it) is not the
      // start of a head: the connection stays idle and no headers timer starts.
      this.pending = null;
      this.afterBatch();
      return;
    }
    const now = performance.now();
    if (this.state !== State.Head) {
      this.state = State.Head;
      this.headStartedAt = now;
      this.setTimer(this.opts.headersTimeoutMs);
    } else if (now - this.headStartedAt > this.opts.headersTimeoutMs) {
      // A head trickled in slowly enough to dodge the inactivity timer (slow loris).
      this.pending = null;
      this.respondError(408); // the request head was not completed in time
    }
  }

  /** Whether `pending` is nothing but whole empty lines, few enough to ignore; counts them. */
  private onlyEmptyLines(): boolean {
    const buf = this.pending!;
    if (buf.length % 2 !== 0 || this.emptyLines + buf.length / 2 > MAX_LEADING_EMPTY_LINES) return false;
    for (let i = 0; i < buf.length; i += 2) if (buf[i] !== 13 || buf[i + 1] !== 10) return false;
    this.emptyLines += buf.length / 2;
    return true;
  }

  private becomeBusy(): void {
    this.state = State.Busy;
    this.socket.pause();
    this.setTimer(0);
    this.sendWatch.start();
  }

  private continueAfterBusy(): void {
    if (this.state === State.Closed) return;
    this.state = State.Idle;
    this.socket.resume();
    if (this.pending !== null) this.processPending();
    else this.afterBatch();
  }

  private deliverThenContinue(req: Request, reply: Reply, started: number): void {
    if (this.state === State.Closed || this.socket.destroyed) {
      discardBody(reply.body); // the close logs the request (499 or 444: no head was written)
      return;
    }
    this.out.replied();
    if (this.deliver(req, reply, started)) this.continueAfterBusy();
  }

  /** Hands bytes to the socket (a head as latin1), counting them for the access log. */
  private send(data: Buffer | string): void {
    this.socket.write(data, 'latin1', this.afterWrite);
    this.out.handed += data.length;
  }

  /**
   * Writes one response. Returns true when it is fully queued and the connection may go on
   * to the next request; false when it is closing or streaming a body (busy).
   */
  private deliver(req: Request, reply: Reply, started: number): boolean {
    const out = this.out;
    const close = reply.close === true || !req.keepAlive || this.draining;
    const body = reply.body;
    const headStart = out.handed;
    const added = this.opts.listenerHeaders ?? '';
    if (!close && req.minor === 1 && reply.wire !== undefined) {
      this.send(added === '' ? reply.wire : wireWithListenerLines(reply.wire, (body as Buffer).length, added));
      out.ended(req, reply.status, started, headStart, out.handed - (body as Buffer).length);
    } else {
      this.send(serializeHead(reply.status, reply.headers + added, close, req.minor, Date.now()));
      const bodyStart = out.handed;
      if (body !== null && !Buffer.isBuffer(body) && req.method === 'HEAD') {
        discardBody(body); // a handler should not open files for HEAD, but never leak one
      } else if (body !== null && !Buffer.isBuffer(body)) {
        this.becomeBusy();
        out.streaming(req, reply.status, started, headStart, bodyStart, bodyStart + bodyLength(body));
        this.streamBody(body).then(
          (bytes) => {
            out.handed = bodyStart + bytes;
            out.settle();
            if (close) this.finish();
            else this.continueAfterBusy();
          },
          (err: NodeJS.ErrnoException) => {
            // Gone already (the client, or a cut of ours): its access line came with that.
            if (this.socket.destroyed) return;
            // A client that resets or goes away mid-body is its own business, as on the head
            // path: its access line says so, without a warning.
            const clientGone = CLIENT_GONE.has(err?.code ?? '');
            if (!clientGone) this.opts.onError(err, 'body stream failed');
            this.destroyWith(clientGone ? 'client-closed' : 'file-error');
          },
        );
        return false;
      } else if (body !== null && req.method !== 'HEAD') {
        this.send(body);
      }
      out.ended(req, reply.status, started, headStart, bodyStart);
    }
    if (close) {
      this.finish();
      return false;
    }
    return true;
  }

  /** After a final response: half-close, read and discard until the client closes (or the timer fires). */
  private finish(): void {
    this.state = State.Closed;
    this.pending = null;
    this.socket.resume();
    this.setTimer(Math.min(this.opts.keepAliveTimeoutMs, 2000));
    this.socket.end();
  }

  /**
   * A refusal before any request could be read (parse error, 408): answered, then the
   * connection closes. `request`: what the refused head said, when its request line was valid.
   */
  private respondError(status: number, request: LoggedRequest | null = null): void {
    const reply = errorReply(status);
    const started = performance.now();
    const headStart = this.out.handed;
    this.send(serializeHead(status, reply.headers + (this.opts.listenerHeaders ?? ''), true, 1, Date.now()));
    const bodyStart = this.out.handed;
    this.send(reply.body as Buffer);
    this.out.ended(request, status, started, headStart, bodyStart);
    this.finish();
  }

  private streamBody(body: FileBody | MultipartBody): Promise<number> {
    return sendBody(this.socket, body, this.sendControl).finally(() => {
      this.wake = null;
    });
  }
}
