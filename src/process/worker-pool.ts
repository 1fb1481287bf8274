/**
 * The primary's book of its workers: which configuration (generation) each was forked with,
 * which port it asked for and which it got, which ones a reload is starting or retiring,
 * which listen now; how long to wait before replacing one that died young; and sending them
 * messages without letting a worker that is going away end the primary.
 *
 * It decides nothing: what a worker's exit, message or listening means is the primary's
 * (primary.ts) and the rolling reload's (rolling-reload.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import type { InheritedSocket } from './activation';
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
  /** With port 0: the port its workers got (or will join), once one listens. */
  actualPort?: number;
}

/** What each worker was told to listen on, where it listens, and when it was forked. */
interface WorkerRecord {
  gen: Generation;
  requestedPort: number;
  actualPort?: number;
  bornAt: number;
}

/** What the book knew of a worker that just exited. */
export interface ExitedWorker {
  /** Milliseconds between its fork and its exit. */
  lived: number;
  wasListening: boolean;
  wasRetiring: boolean;
  wasStarting: boolean;
}

export class WorkerPool {
  /** What respawns are forked with: the configuration in force. */
  current: Generation;
  /** The port the workers of `current` listen on (differs from its config with port 0). */
  currentPort: number;
  /** Old workers a reload asked to drain: their exit is expected, not a crash. */
  readonly retiring = new Set<Worker>();
  /** Workers a reload forked that do not listen yet: the reload judges their fate. */
  readonly starting = new Set<Worker>();
  /** Ids of the workers that listen now: not paused by their accept gate, not dead. */
  readonly listening = new Set<number>();
  /** Every worker forked and not yet exited. */
  private readonly records = new Map<Worker, WorkerRecord>();
  private respawnDelay = RESPAWN_MIN_MS;

  /** `inherited`: the socket-activated socket every worker serves, if any. */
  constructor(
    config: Config,
    private readonly inherited: InheritedSocket | null,
    private readonly counters: PrimaryCounters,
    private readonly log: Logger,
  ) {
    this.current = { config };
    this.currentPort = config.port;
  }

  /** Workers forked and not yet exited. */
  get size(): number {
    return this.records.size;
  }

  forked(): IterableIterator<Worker> {
    return this.records.keys();
  }

  /** Workers node:cluster still holds that are not dead. */
  alive(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  }

  generationOf(w: Worker): Generation | undefined {
    return this.records.get(w)?.gen;
  }

  /** Whether the worker has listened (then it hears messages; before, one could be lost). */
  hasListened(w: Worker): boolean {
    return this.records.get(w)?.actualPort !== undefined;
  }

  /** Forks a worker of `gen` and books it; its 'listening' records the port it got. */
  fork(gen: Generation): Worker {
    const requestedPort = this.portToRequest(gen);
    const w = cluster.fork(workerEnv({ ...gen.config, port: requestedPort }, this.inherited));
    const record: WorkerRecord = { gen, requestedPort, bornAt: Date.now() };
    this.records.set(w, record);
    // An IPC failure to a worker that is going away must never end the primary.
    w.on('error', (err: Error) => this.log.debug({ err, workerId: w.id }, `IPC with worker ${w.id} failed`));
    w.on('listening', (address: { port: number }) => {
      record.actualPort = address.port;
      gen.actualPort ??= address.port;
    });
    return w;
  }

  /** Takes an exited worker out of the book and says what it was. */
  remove(w: Worker): ExitedWorker {
    const wasListening = this.listening.delete(w.id);
    const bornAt = this.records.get(w)?.bornAt ?? Date.now();
    this.records.delete(w);
    const wasRetiring = this.retiring.delete(w);
    const wasStarting = this.starting.delete(w);
    return { lived: Date.now() - bornAt, wasListening, wasRetiring, wasStarting };
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
  send(w: Worker, m: ToWorker): void {
    try {
      w.send(m, undefined, () => {
        // Failed or not, its exit event is what counts.
      });
      if (m.cmd === 'drain' || m.cmd === 'retire') this.counters.workerDrains++;
    } catch {
      // Already gone: its exit event will be counted.
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
      if (!w.isDead() && !this.retiring.has(w) && r.actualPort === gen.actualPort && r.gen.config.host === gen.config.host) return r.requestedPort;
    }
    return gen.actualPort;
  }
}
