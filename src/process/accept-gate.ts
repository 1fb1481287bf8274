/**
 * Whether a worker takes new connections: at its connection capacity (maxConnections, or
 * what its file-descriptor limit allows) or out of descriptors, it stops accepting for a
 * moment, as nginx disables accept events, so the kernel hands connections to a worker with
 * room instead of this one accepting and dropping them.
 *
 * Node has no way to pause a listening socket (its handle cannot stop polling), so pausing is
 * closing this worker's listening handle and listening again: in a cluster the socket stays
 * open in the other workers (and the primary), nothing queued is lost. Closing the last handle
 * would close the socket itself, so a worker pauses only when the primary grants it — when
 * another worker is still listening. A worker that may not pause (single process, or every
 * other worker is full) keeps accepting and answers what it cannot hold with 503 and
 * Retry-After, never a silent close. What happened is logged at most once a second, with counts.
 */
import type net from 'node:net';
import type { Logger } from '../logs/logger';
import { countOf } from '../plural';
import { connectionLimitResponse } from '../http/respond';

/** How long a paused worker waits before it looks again (nginx waits 500 ms; connections come fast). */
export const PAUSE_MS = 250;
/** A refused connection's 503 is written, then the socket lingers this long for the client's request to arrive and be discarded. */
const REFUSE_LINGER_MS = 1000;
/** More refused sockets than this lingering at once are closed at once (each holds a descriptor). */
const MAX_LINGERING = 16;

const REFUSAL = connectionLimitResponse();

export type PauseReason = 'maxConnections' | 'descriptors';

export interface AcceptGateOptions {
  /** Most connections this worker holds at once. */
  capacity: number;
  /** Connections open now. */
  open(): number;
  /** Stop listening (close this worker's handle). */
  close(): void;
  /** Listen again, on the port first bound. */
  listen(): void;
  /**
   * Asks whether this worker may stop listening; null when it never may (single process).
   * The answer arrives through answer().
   */
  askPause: (() => void) | null;
  /** No pausing or resuming once the worker drains. */
  draining(): boolean;
  log: Logger;
}

export class AcceptGate {
  private paused = false;
  private asking = false;
  private reason: PauseReason = 'maxConnections';
  private timer: NodeJS.Timeout | null = null;
  private lingering = 0;
  private counts = { pauses: 0, refused: 0, failedAccepts: 0, outOfDescriptors: 0 };
  private logTimer: NodeJS.Timeout | null = null;
  private openAtEvent = 0;

  /**
   * Ask to pause a little before the limit: connections keep arriving while the primary's
   * answer is on its way, and each one that finds the worker full gets a 503.
   */
  private readonly highWater: number;

  constructor(private readonly opts: AcceptGateOptions) {
    this.highWater = opts.capacity - Math.floor(opts.capacity / 16);
  }

  /** Called for each accepted socket before it becomes a connection; false: it was refused. */
  admit(socket: net.Socket): boolean {
    if (this.opts.open() < this.opts.capacity) return true;
    this.reason = 'maxConnections';
    this.refuse(socket);
    this.full('maxConnections');
    return false;
  }

  /** Called after a connection was added: pause before the next one finds us full. */
  afterAdmit(): void {
    if (this.opts.open() >= this.highWater) this.full('maxConnections');
  }

  /** accept() failed: EMFILE / ENFILE mean no descriptor for the next connection either. */
  acceptFailed(): void {
    this.counts.failedAccepts++;
    this.outOfDescriptors();
  }

  /**
   * A file could not be opened (or a connection accepted) for lack of descriptors. libuv
   * hides most accept() failures (it closes what it accepts to clear the queue), so a failed
   * open is often the first sign: stop taking connections for a moment.
   */
  outOfDescriptors(): void {
    this.counts.outOfDescriptors++;
    this.reason = 'descriptors';
    this.noteForLog();
    this.full('descriptors');
  }

  /** The primary's answer to askPause. */
  answer(granted: boolean): void {
    this.asking = false;
    if (this.paused || this.opts.draining()) return;
    if (!granted) {
      // Every other worker is paused: keep accepting (and refusing with 503 what does not fit).
      this.recheckLater();
      return;
    }
    // Granted: pause even if a connection closed meanwhile; the primary counts this worker as
    // paused until it listens again, and the other workers take the connections meanwhile.
    this.paused = true;
    this.counts.pauses++;
    this.noteForLog();
    this.opts.close();
    this.recheckLater();
  }

  private full(reason: PauseReason): void {
    this.reason = reason;
    if (this.paused || this.asking || this.opts.draining() || this.opts.askPause === null) return;
    this.asking = true;
    this.opts.askPause();
  }

  private recheckLater(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.opts.draining()) return;
      if (this.paused) {
        if (this.opts.open() >= this.highWater) return this.recheckLater();
        this.paused = false;
        this.reason = 'maxConnections'; // descriptors are retried by accepting again
        this.opts.listen();
      } else if (this.opts.open() >= this.highWater && this.opts.askPause !== null) {
        // Refused before: ask again, another worker may have room by now.
        this.full(this.reason);
      } else {
        this.reason = 'maxConnections';
      }
    }, PAUSE_MS);
    this.timer.unref();
  }

  /** 503 + Retry-After, then read and discard the request briefly so the answer is not lost to a reset. */
  private refuse(socket: net.Socket): void {
    this.counts.refused++;
    this.noteForLog();
    socket.on('error', () => {});
    if (this.lingering >= MAX_LINGERING) {
      socket.end(REFUSAL);
      socket.destroySoon();
      return;
    }
    this.lingering++;
    socket.on('close', () => this.lingering--);
    socket.on('data', () => {});
    socket.on('end', () => socket.destroy());
    socket.setTimeout(REFUSE_LINGER_MS, () => socket.destroy());
    socket.end(REFUSAL);
  }

  /** One log line at once, then at most one a second while it goes on, with what was counted. */
  private noteForLog(): void {
    // The line reports the connections open at the latest event, not when it is written.
    this.openAtEvent = this.opts.open();
    if (this.logTimer === null) this.logNow();
  }

  private logNow(): void {
    this.flushLog();
    this.logTimer = setTimeout(() => {
      this.logTimer = null;
      const { pauses, refused, outOfDescriptors } = this.counts;
      if (pauses + refused + outOfDescriptors > 0) this.logNow();
    }, 1000);
    this.logTimer.unref();
  }

  private flushLog(): void {
    const { pauses, refused, failedAccepts, outOfDescriptors } = this.counts;
    const open = this.openAtEvent;
    const capacity = this.opts.capacity;
    const why = this.reason === 'descriptors' ? 'out of file descriptors' : `at ${open} of ${capacity} connections`;
    this.opts.log.warn(
      { reason: this.reason, open, capacity, paused: this.paused, pauses, refused, outOfDescriptors, failedAccepts },
      `accept limited: ${why}; ${countOf(pauses, 'pause')}, ${refused} refused with 503, ${countOf(outOfDescriptors, 'time')} out of descriptors`,
    );
    this.counts = { pauses: 0, refused: 0, failedAccepts: 0, outOfDescriptors: 0 };
  }
}
