/**
 * The primary's book of its workers, and the only module that changes it: which
 * configuration (generation) each was forked with, which port it asked for and which it got,
 * what it is to the cluster (serving, a reload's new worker still starting, an old one a
 * reload retires), which ones listen now; how long to wait before replacing one that died
 * young; and sending them messages without letting a worker that is going away end the
 * primary.
 *
 * It decides nothing: what a worker's exit, message or listening means is the primary's
 * (primary.ts) and the rolling reload's (rolling-reload.ts); they tell the book what happened
 * through its methods and read it through `list()`.
 */
import cluster, { type Worker } from 'node:cluster';
import type { InheritedSockets } from './activation';
import type { Config } from '../config/config';
import type { Logger } from '../logs/logger';
import type { PrimaryCounters } from '../metrics/counters';
import type { ToWorker } from './ipc';
import { workerEnv } from './worker-env';

/** Respawn delays grow while workers keep dying young, so a crash loop cannot spin the CPU. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 10_000;
const STABLE_AFTER_MS = 30_000;

/** One configuration put in force by the start or by a reload. */
export interface Generation {
  config: Config;
  /**
   * What config.host resolved to, resolved once in the primary (listen-addresses.ts) so that
   * every worker asks node:cluster for the same addresses; unset, each worker resolves it.
   */
  addresses?: readonly string[];
  /** With port 0: the port its workers got (or will join), once one listens. */
  actualPort?: number;
}

/**
 * What a worker is to the cluster, which is what its exit means: `serving` (forked by the
 * start or as a respawn: its death is a crash), `starting` (forked by a reload and not yet
 * taken into service: the reload judges its fate), `retiring` (asked by a reload to drain:
 * its exit is expected).
 */
export type Role = 'serving' | 'starting' | 'retiring';

/**
 * Which workers a list holds: every one `forked` and not yet exited, the `alive` ones among
 * them (not dead), the alive ones of one role, or the ones `listening` now (not paused by
 * their accept gate).
 */
export type Which = 'forked' | 'alive' | Role | 'listening';

/** What each worker was told to listen on, where it listens, when it was forked, and its role. */
interface WorkerRecord {
  gen: Generation;
  requestedPort: number;
  actualPort?: number;
  bornAt: number;
  role: Role;
  listening: boolean;
}

/** What the book knew of a worker that just exited. */
export interface ExitedWorker {
  /** Milliseconds between its fork and its exit. */
  lived: number;
  wasListening: boolean;
  role: Role;
}

export interface PoolOptions {
  /** The configuration of the start: the first generation. */
  config: Config;
  /** The socket-activated socket every worker serves, if any. */
  inherited: InheritedSockets | null;
  counters: PrimaryCounters;
  log: Logger;
  /** Forks a worker with this environment: cluster.fork, but for tests. */
  fork?: (env: Record<string, string>) => Worker;
  /** The clock for a worker's age: Date.now, but for tests. */
  now?: () => number;
  /** The session-ticket keys to fork workers with (HTTPS); none: each worker makes its own. */
  ticketKeys?: () => Buffer | null;
  /** The ACME HTTP-01 answers pending, handed to every worker forked (none without ACME). */
  acmeAnswers?: () => Record<string, string> | null;
}

export class WorkerPool {
  /** What respawns are forked with: the configuration in force. */
  current: Generation;
  /** The port the workers of `current` listen on (differs from its config with port 0). */
  currentPort: number;
  /** Every worker forked and not yet exited. */
  private readonly records = new Map<Worker, WorkerRecord>();
  private respawnDelay = RESPAWN_MIN_MS;
  private readonly inherited: InheritedSockets | null;
  private readonly counters: PrimaryCounters;
  private readonly log: Logger;
  private readonly forkWorker: (env: Record<string, string>) => Worker;
  /** The session-ticket keys in use now, handed to every worker forked. */
  private readonly ticketKeys: () => Buffer | null;
  private readonly acmeAnswers: () => Record<string, string> | null;
  private readonly now: () => number;

  constructor(o: PoolOptions) {
    this.current = { config: o.config };
    this.currentPort = o.config.port;
    this.inherited = o.inherited;
    this.counters = o.counters;
    this.log = o.log;
    this.forkWorker = o.fork ?? ((env) => cluster.fork(env));
    this.ticketKeys = o.ticketKeys ?? (() => null);
    this.acmeAnswers = o.acmeAnswers ?? (() => null);
    this.now = o.now ?? Date.now;
  }

  /** The workers `which` names (see Which), in the order they were forked. */
  list(which: Which): Worker[] {
    const out: Worker[] = [];
    for (const [w, r] of this.records) {
      if (which === 'forked') out.push(w);
      else if (w.isDead()) continue;
      else if (which === 'alive' || which === r.role || (which === 'listening' && r.listening)) out.push(w);
    }
    return out;
  }

  /** The worker's role, or undefined for a worker the book does not hold. */
  roleOf(w: Worker): Role | undefined {
    return this.records.get(w)?.role;
  }

  generationOf(w: Worker): Generation | undefined {
    return this.records.get(w)?.gen;
  }

  /** Whether the worker has listened (then it hears messages; before, one could be lost). */
  hasListened(w: Worker): boolean {
    return this.records.get(w)?.actualPort !== undefined;
  }

  /** Forks a worker of `gen` and books it in `role`: a reload's new worker is `starting`. */
  fork(gen: Generation, role: 'serving' | 'starting' = 'serving'): Worker {
    const requestedPort = this.portToRequest(gen);
    const w = this.forkWorker(workerEnv({ ...gen.config, port: requestedPort }, this.inherited, gen.addresses ?? null, this.ticketKeys(), this.acmeAnswers()));
    this.records.set(w, { gen, requestedPort, bornAt: this.now(), role, listening: false });
    // An IPC failure to a worker that is going away must never end the primary.
    w.on('error', (err: Error) => this.log.debug({ err, workerId: w.id }, `IPC with worker ${w.id} failed`));
    return w;
  }

  /**
   * The worker listens on `port` (its first listen, or again after a pause). True for its
   * first listener only: a worker on several addresses emits 'listening' once for each.
   */
  listened(w: Worker, port: number): boolean {
    const r = this.records.get(w);
    if (r === undefined) return false;
    const first = r.actualPort === undefined;
    r.actualPort = port;
    r.listening = true;
    r.gen.actualPort ??= port;
    return first;
  }

  /**
   * A full worker asks to stop listening for a moment: granted (and booked) only while
   * another one listens, because closing the last handle would close the shared socket and
   * lose every queued connection.
   */
  pause(w: Worker): boolean {
    const r = this.records.get(w);
    if (r === undefined || !this.list('listening').some((o) => o !== w)) return false;
    r.listening = false;
    return true;
  }

  /** A reload's new worker listens: it serves from now on, and its death is a crash. */
  started(w: Worker): void {
    const r = this.records.get(w);
    if (r?.role === 'starting') r.role = 'serving';
  }

  /** A reload replaces the worker: it drains at once, and its exit is expected. */
  retire(w: Worker): void {
    const r = this.records.get(w);
    if (r === undefined) return;
    r.role = 'retiring';
    this.send(w, { cmd: 'retire' });
  }

  /** Takes an exited worker out of the book and says what it was. */
  remove(w: Worker): ExitedWorker {
    const r = this.records.get(w);
    this.records.delete(w);
    return { lived: r === undefined ? 0 : this.now() - r.bornAt, wasListening: r?.listening ?? false, role: r?.role ?? 'serving' };
  }

  /** SIGKILL for every worker not yet exited: the primary ends now. */
  killAll(): void {
    for (const w of this.records.keys()) w.process.kill('SIGKILL');
  }

  /**
   * How long to wait before replacing a worker that died after `lived` ms: at once after a
   * stable run, otherwise twice the last delay (from 200 ms up to RESPAWN_MAX_MS).
   */
  respawnDelayAfter(lived: number): number {
    this.respawnDelay = lived > STABLE_AFTER_MS ? RESPAWN_MIN_MS : Math.min(this.respawnDelay * 2, RESPAWN_MAX_MS);
    return lived > STABLE_AFTER_MS ? 0 : this.respawnDelay;
  }

  /**
   * A worker may be exiting when a message is sent (a retired one that just finished its
   * drain when SIGTERM comes): the write then fails with EPIPE. With a callback the failure
   * comes back here; without one it would be an 'error' event that ends the primary.
   */
  send(w: Worker, m: ToWorker, sent: () => void = () => {}): void {
    try {
      // Failed or not, its exit event is what counts.
      w.send(m, undefined, () => sent());
      if (m.cmd === 'drain' || m.cmd === 'retire') this.counters.workerDrains++;
    } catch {
      // Already gone: its exit event will be counted.
      sent();
    }
  }

  /**
   * The port a new worker of `gen` asks for. node:cluster shares one listening socket among
   * the workers that ask for the same address *as written*: with port 0, a worker must ask
   * for 0 while the socket created for 0 lives (asking for its number would try a second
   * bind: EADDRINUSE), and for the number once that socket is gone (asking for 0 would move
   * the server to another port).
   */
  private portToRequest(gen: Generation): number {
    if (gen.config.port !== 0 || gen.actualPort === undefined) return gen.config.port;
    for (const [w, r] of this.records) {
      if (!w.isDead() && r.role !== 'retiring' && r.actualPort === gen.actualPort && r.gen.config.host === gen.config.host) return r.requestedPort;
    }
    return gen.actualPort;
  }
}
