/**
 * The drain protocol for one serving process: optionally a pre-drain first (the health
 * check fails while everything else is still served, so a load balancer stops sending
 * traffic), then stop accepting, close idle keep-alive sockets at once, let in-flight responses finish
 * (their heads, if not yet written, say Connection: close), exit 0 when the last connection
 * is gone — or cut what is left at the deadline and exit 1. A forced stop exits 130.
 */
import type { Logger } from '../logs/logger';
import { countOf } from '../plural';

export interface Drainable {
  drain(): void;
  /**
   * Closes the connection now; the responses it cuts are logged before this returns, so
   * that their lines are written out with the log flush that precedes the exit.
   */
  cut(reason: 'drain-deadline' | 'forced'): void;
  /** Waiting for a request with nothing of one received and nothing of a response queued. */
  readonly idle: boolean;
}

export interface DrainOptions {
  /** What stops accepting: every listener of the process (listener.ts's ListenerGroup). */
  server: { close(): void };
  connections: Set<Drainable>;
  timeoutMs: number;
  /** How long the pre-drain lasts when a stop asks for one (0 = none). */
  preDrainMs: number;
  log: Logger;
  /** Called last, with the exit code: flush logs and exit. */
  exit(code: number): void;
}

export const EXIT_FORCED = 130;

export class Drainer {
  private startedAt = 0;
  private openAtStart = 0;
  private timer: NodeJS.Timeout | null = null;
  private preDrainTimer: NodeJS.Timeout | null = null;
  private done = false;
  /** An uncaught exception began this drain (or came during it): the exit code is 1 at best. */
  private failed = false;

  /**
   * The options are read when used: the worker passes a view of the serving state in force,
   * so the drain uses the timings of the last reload in place.
   */
  constructor(private readonly opts: DrainOptions) {}

  /** Connections are no longer accepted. */
  get draining(): boolean {
    return this.startedAt !== 0;
  }

  /** A pre-drain or a drain has begun: the health check fails from now on. */
  get stopping(): boolean {
    return this.preDrainTimer !== null || this.startedAt !== 0;
  }

  /**
   * A stop (SIGINT/SIGTERM, or the primary's stop): the pre-drain when one is configured,
   * then the drain. Calling it again (Ctrl+C reaches both the worker and the primary, which
   * then asks too) changes nothing.
   */
  stop(reason: string): void {
    if (this.stopping || this.done) return;
    const ms = this.opts.preDrainMs;
    if (ms <= 0) {
      this.begin(reason);
      return;
    }
    this.opts.log.info({ reason, preDrainDelayMs: ms }, `pre-drain: health check answers 503 now, draining in ${ms} ms`);
    this.preDrainTimer = setTimeout(() => this.begin(reason), ms);
  }

  /** The drain itself, at once (also what a reload asks of a worker it replaces). */
  begin(reason: string): void {
    if (this.startedAt !== 0 || this.done) return;
    const { server, connections, log, timeoutMs } = this.opts;
    this.startedAt = performance.now();
    this.openAtStart = connections.size;
    let idle = 0;
    for (const c of connections) if (c.idle) idle++;
    log.info({ reason, open: connections.size, idle, timeoutMs }, `draining: ${countOf(connections.size, 'open connection')}, ${idle} idle closed now`);
    server.close();
    // The deadline timer is created before any connection is touched, so nothing that
    // happens while draining can leave the process without one.
    this.timer = setTimeout(() => this.cut(), timeoutMs);
    for (const c of [...connections]) c.drain();
    this.check();
  }

  /**
   * An uncaught exception or rejection: the drain at once (no pre-drain: this process is no
   * longer to be trusted with new requests), and exit 1 however it ends. During a drain that
   * has begun, that drain goes on and ends with 1.
   */
  fail(reason: string): void {
    this.failed = true;
    this.begin(reason);
  }

  /** Call whenever a connection closes. */
  check(): void {
    if (this.startedAt === 0 || this.done || this.opts.connections.size !== 0) return;
    this.finish(0, (ms) => `drained ${countOf(this.openAtStart, 'connection')} in ${ms} ms`);
  }

  /** A second signal (or a second fault, with `code` 1): stop now. */
  force(reason: string, code = EXIT_FORCED): void {
    if (this.done) return;
    this.opts.log.warn({ reason, cut: this.opts.connections.size }, `forced exit: cutting ${countOf(this.opts.connections.size, 'connection')}`);
    this.done = true; // a connection that reports its close while being cut must not end the drain "cleanly"
    for (const c of [...this.opts.connections]) c.cut('forced');
    this.finish(code);
  }

  private cut(): void {
    if (this.done) return;
    const left = this.opts.connections.size;
    this.opts.log.warn({ cut: left, timeoutMs: this.opts.timeoutMs }, `drain timeout after ${this.opts.timeoutMs} ms: cutting ${countOf(left, 'connection')}`);
    this.done = true; // as in force()
    for (const c of [...this.opts.connections]) c.cut('drain-deadline');
    this.finish(1);
  }

  private finish(code: number, message?: (ms: number) => string): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.preDrainTimer) clearTimeout(this.preDrainTimer);
    const ms = Math.round(performance.now() - this.startedAt);
    if (message) this.opts.log.info({ ms, connections: this.openAtStart }, message(ms));
    this.opts.exit(this.failed && code === 0 ? 1 : code);
  }
}

/** The numbers a stop announcement gives: how long the drain may take. */
export interface StopTiming {
  drainTimeoutMs: number;
  preDrainDelayMs: number;
}

/**
 * The line a stop begins with, in the process that reports it (the primary, or the single
 * process): what drains, the longest it may take, and that a second signal stops at once —
 * so whoever pressed Ctrl+C knows whether to wait. `what` is "2 workers", or "" alone.
 */
export function stopAnnouncement(signal: NodeJS.Signals, what: string, timing: StopTiming, reloadAborted = false): string {
  const aborted = reloadAborted ? ' (reload aborted)' : '';
  const pre = timing.preDrainDelayMs > 0 ? ` after a ${timing.preDrainDelayMs} ms pre-drain, then` : '';
  const again = signal === 'SIGINT' ? 'Ctrl+C again to stop at once' : `a second ${signal} stops at once`;
  return `${signal}: draining${what ? ` ${what}` : ''}${aborted}${pre || ','} up to ${timing.drainTimeoutMs} ms; ${again}`;
}

/**
 * SIGINT and SIGTERM: the first one calls `first`, any later one `second` (a second Ctrl+C
 * stops at once). The listener swaps itself on the first signal, as close-with-grace does, so
 * no process keeps a signal count of its own. `signals` is `process` but for tests.
 */
export function onStopSignals(
  first: (signal: NodeJS.Signals) => void,
  second: (signal: NodeJS.Signals) => void,
  signals: Pick<NodeJS.EventEmitter, 'on' | 'off'> = process,
): void {
  const onFirst = (signal: NodeJS.Signals) => {
    signals.off('SIGINT', onFirst);
    signals.off('SIGTERM', onFirst);
    signals.on('SIGINT', second);
    signals.on('SIGTERM', second);
    first(signal);
  };
  signals.on('SIGINT', onFirst);
  signals.on('SIGTERM', onFirst);
}
