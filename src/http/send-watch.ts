/**
 * The send timeout of one connection, measured on write progress.
 *
 * Node's socket.setTimeout cannot be used for it: while a write is queued it skips a firing
 * whenever the queue changed since the write was issued, so a reader that stalls is dropped
 * after twice the value. Here a tick of 1/40 of the timeout (5 to 500 ms) samples how many
 * bytes the kernel has taken — completed writes, and libuv's queue of the write in progress,
 * which shrinks with every partial write; no change for the whole timeout fires `onStall`, at
 * most two ticks late. Only bytes waiting for the client count: while nothing is queued (the
 * handler is still deciding, a file read is slow) the client holds nothing up, and the count
 * starts again when bytes wait. Nor does time this process could not look: a tick that comes
 * late (the event loop held up by other work, the process not scheduled) finds counters that
 * libuv has not updated yet, so lateness beyond a quarter of the timeout (or two ticks) is left
 * out of the count.
 */
import type net from 'node:net';

export class SendWatch {
  private timer: NodeJS.Timeout | null = null;
  private progressAt = 0;
  private checkedAt = 0;
  private done = 0;
  private queued = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly timeoutMs: number,
    /** Whether the connection still has a response to send (false stops the watch). */
    private readonly sending: () => boolean,
    private readonly onStall: () => void,
  ) {}

  /** Starts (or restarts) counting from now. */
  start(): void {
    this.progressAt = this.checkedAt = performance.now();
    this.sample();
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.check(), this.tickMs);
  }

  /** How often the counters are sampled: 1/40 of the timeout, 5 to 500 ms. */
  private get tickMs(): number {
    return Math.max(5, Math.min(this.timeoutMs / 40, 500));
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Samples the write counters; true when they moved since the last sample, or nothing waits to be taken. */
  private sample(): boolean {
    const sock = this.socket;
    const done = sock.bytesWritten - sock.writableLength;
    // writeQueueSize: bytes of the current write libuv still holds (not a public API, but
    // what Node's own timeout reads for the same purpose; 0 when absent).
    const queued = (sock as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0;
    const moved = done !== this.done || queued !== this.queued;
    this.done = done;
    this.queued = queued;
    return moved || (sock.writableLength === 0 && queued === 0);
  }

  private check(): void {
    if (!this.sending()) {
      this.stop();
      return;
    }
    const now = performance.now();
    const late = now - this.checkedAt - Math.max(2 * this.tickMs, this.timeoutMs / 4);
    this.checkedAt = now;
    if (late > 0) this.progressAt += late;
    if (this.sample()) {
      this.progressAt = now;
      return;
    }
    if (now - this.progressAt < this.timeoutMs) return;
    this.stop();
    this.onStall();
  }
}
