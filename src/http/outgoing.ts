/**
 * The responses of one connection between being handed to the socket and being taken by the
 * kernel, so that each gets its access line (and its count) exactly once and that line tells
 * what happened: complete once the kernel accepted its last byte; cut short, with the body
 * bytes the kernel did accept, when the connection ended first.
 *
 * "Accepted" is read from libuv's counters on the socket's handle: the bytes it handed to the
 * kernel minus the part of the current write it still holds (the same counters Node's own
 * socket timeout and send-watch.ts read). That is what `write(2)` took, not what the client
 * read: a client that resets makes its kernel, and ours, discard what was still in flight.
 *
 * A response is usually taken at once (the plain-GET path checks the socket's queue and
 * logs, no allocation). One that is not — a slow reader, a pipelined batch under cork, a
 * streamed file — waits here, in order, and is settled from the connection's write callbacks.
 *
 * Linux reports a client's reset to a reader as an end of stream, and the server learns of it
 * from the next write, which fails. libuv then counts that write as handed over, so the count
 * kept is the last sample taken while the socket was healthy: after each completed chunk of a
 * streamed file (at most one 256 KiB chunk short), after a body from memory was handed over
 * (what the kernel took at once).
 */
import type net from 'node:net';
import type { CutReason, LoggedRequest } from './types';

/** Logs and counts one response (the connection adds its client address). */
export type ReportResponse = (req: LoggedRequest | null, status: number, bytes: number, reason: CutReason | null, started: number) => void;

/** The part of a libuv stream handle read here (not a public API; absent on a fake socket). */
interface HandleCounters {
  bytesWritten?: unknown;
  writeQueueSize?: unknown;
}

/** One response handed (or being streamed) to the socket; offsets count bytes handed to it. */
class Unsettled {
  constructor(
    readonly req: LoggedRequest | null,
    readonly status: number,
    readonly started: number,
    readonly headStart: number,
    readonly bodyStart: number,
    /** The offset just past its last byte (for a streamed body, planned: `handed` reaches it when the stream ends). */
    readonly end: number,
  ) {}
}

export class OutgoingResponses {
  /** Bytes handed to the socket so far: the connection adds what it writes, and a streamed body's bytes once it ends. */
  handed = 0;
  /** Bytes the kernel had accepted when last sampled, from the same origin as `handed`. */
  private accepted = 0;
  private readonly waiting: Unsettled[] = [];
  /** A request whose reply is being prepared (no head written yet), and when its head was complete. */
  private awaitingReq: LoggedRequest | null = null;
  private awaitingStarted = 0;
  /** Kept from the start: after Node's destroy the socket drops it, while it can still be read. */
  private readonly handle: HandleCounters | null;
  private readonly base: number;

  constructor(
    private readonly socket: net.Socket,
    private readonly report: ReportResponse,
  ) {
    this.handle = (socket as unknown as { _handle?: HandleCounters | null })._handle ?? null;
    this.base = this.kernelAccepted() ?? 0;
  }

  /** A reply is being prepared for `req` (asynchronously): if the connection ends first, it is logged 499 or 444. */
  awaitReply(req: LoggedRequest, started: number): void {
    this.awaitingReq = req;
    this.awaitingStarted = started;
  }

  /** The reply awaited is here and about to be written. */
  replied(): void {
    this.awaitingReq = null;
  }

  /**
   * A response whose last byte was just handed to the socket (its head from `headStart`, its
   * body from `bodyStart`): logged now when Node holds nothing back (the kernel took it all),
   * else once it has.
   */
  ended(req: LoggedRequest | null, status: number, started: number, headStart: number, bodyStart: number): void {
    if (this.socket.writableLength === 0 && this.healthy()) {
      this.accepted = this.handed;
      if (this.waiting.length !== 0) this.settleTaken();
      this.report(req, status, this.handed - bodyStart, null, started);
      return;
    }
    // How much of it the kernel took at once, in case the connection fails next (nothing
    // was tried yet while corked).
    if (this.socket.writableCorked === 0) this.sample();
    this.waiting.push(new Unsettled(req, status, started, headStart, bodyStart, this.handed));
  }

  /** A body is being streamed, from `bodyStart` to `end`: settled when its stream ends (`handed` reaches `end`). */
  streaming(req: LoggedRequest, status: number, started: number, headStart: number, bodyStart: number, end: number): void {
    this.waiting.push(new Unsettled(req, status, started, headStart, bodyStart, end));
  }

  /** Logs, in order, the responses the kernel has taken whole (after a write completed). */
  settle(): void {
    if (this.waiting.length === 0 || !this.healthy()) return; // a failed socket's are logged by cut()
    if (this.socket.writableLength === 0) this.accepted = this.handed;
    else this.sample();
    this.settleTaken();
  }

  /**
   * Reads how far the kernel has got, while the socket is healthy. `afterReadError`: in the
   * socket's 'error' event for a failed read, Node has closed the handle but libuv has not
   * flushed its queue yet, so the count is still exact. Not after a failed write: libuv
   * counts the failed write as handed over and no longer queued, bytes the kernel never took.
   */
  sample(afterReadError = false): void {
    if (!afterReadError && !this.healthy()) return;
    const n = this.kernelAccepted();
    if (n !== null) this.accepted = n - this.base;
  }

  /**
   * The connection ends now (`reason` says why, for whatever is not complete): every
   * response still here gets its line, the ones the kernel took whole as complete, the rest
   * with the body bytes it did take; then a request still waiting for its reply. A response
   * of which the kernel took no byte was never sent: 499 when the client left (nginx's
   * code), 444 when the server cut it (nginx's code for closing without a response).
   */
  cut(reason: CutReason): void {
    this.sample();
    this.settleTaken();
    const unsent = reason === 'client-closed' ? 499 : 444;
    for (const r of this.waiting) {
      const bytes = Math.max(0, Math.min(this.accepted, r.end) - r.bodyStart);
      this.report(r.req, this.accepted > r.headStart ? r.status : unsent, bytes, reason, r.started);
    }
    this.waiting.length = 0;
    const req = this.awaitingReq;
    if (req !== null) {
      this.awaitingReq = null;
      this.report(req, unsent, 0, reason, this.awaitingStarted);
    }
  }

  /**
   * Not destroyed, and no write failed. (A write the kernel refuses at once — a client that
   * reset — empties Node's queue as if it was sent and destroys the socket only on the next
   * tick; its error is recorded at once.)
   */
  private healthy(): boolean {
    return !this.socket.destroyed && this.socket.errored == null;
  }

  private settleTaken(): void {
    let done = 0;
    const w = this.waiting;
    while (done < w.length && w[done]!.end <= this.accepted && w[done]!.end <= this.handed) {
      const r = w[done++]!;
      this.report(r.req, r.status, r.end - r.bodyStart, null, r.started);
    }
    if (done !== 0) w.splice(0, done);
  }

  /** libuv's bytes handed to the kernel minus those it still queues; without a handle, the bytes of Node's completed writes. */
  private kernelAccepted(): number | null {
    const h = this.handle;
    if (h !== null && typeof h.bytesWritten === 'number' && typeof h.writeQueueSize === 'number') return h.bytesWritten - h.writeQueueSize;
    if (this.socket.destroyed) return null;
    const n = this.socket.bytesWritten - this.socket.writableLength;
    return Number.isFinite(n) ? n : null;
  }
}
