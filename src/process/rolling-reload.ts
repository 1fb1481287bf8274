/**
 * The primary's reload on SIGHUP: read the configuration again and replace the workers one at
 * a time: fork a new one (with the new configuration and the code on disk now), wait until
 * it listens, then retire an old one (the same drain as SIGTERM, without the pre-drain: the
 * server as a whole keeps serving). A worker that fails to start stops the reload; the old
 * ones keep serving, and respawns go on with the configuration they run.
 *
 * One reload runs at a time: any number of SIGHUPs during a reload (or during the start)
 * make one more reload after it. What a reload may change is decided by reload.ts; the
 * workers and their bookkeeping are worker-pool.ts's.
 */
import type { Worker } from 'node:cluster';
import { describeInherited, type InheritedSockets } from './activation';
import type { Config } from '../config/config';
import { ConfigError } from '../errors';
import { schemeOf, urlOf } from './listen-urls';
import type { Logger } from '../logs/logger';
import { configuredCertificateWarnings } from '../tls/settings';
import type { PrimaryCounters } from '../metrics/counters';
import { countOf } from '../plural';
import { applicable, changedKeys, CLUSTER_RESTART_KEYS, describeChanges } from './reload';
import type { ToPrimary } from './ipc';
import type { Generation, WorkerPool } from './worker-pool';

/** A worker forked by a reload that does not listen within this time fails the reload. */
export const RELOAD_START_TIMEOUT_MS = 10_000;

/** What a reload reads and changes of the pool: the generation in force, and its workers through the pool's methods. */
export type ReloadPool = Pick<WorkerPool, 'current' | 'currentPort' | 'list' | 'generationOf' | 'fork' | 'started' | 'retire'>;

export interface RollingReloadOptions {
  pool: ReloadPool;
  /** The primary is stopping (SIGINT/SIGTERM, a fault, or a fatal error): no reload starts or goes on. */
  stopping: () => boolean;
  /** Reads the configuration sources again; throws ConfigError when they are wrong. */
  reloadConfig: () => Config;
  log: Logger;
  counters: PrimaryCounters;
  inherited: InheritedSockets | null;
  /** How long a new worker may take to listen (RELOAD_START_TIMEOUT_MS but for tests). */
  startTimeoutMs?: number;
}

export class RollingReload {
  private running = false;
  private queued = false;
  /** Every worker of the start listens: before that, a SIGHUP waits. */
  private started = false;

  constructor(private readonly o: RollingReloadOptions) {}

  /** A reload is replacing workers now. */
  get reloading(): boolean {
    return this.running;
  }

  /** SIGHUP. */
  requested(): void {
    const { log } = this.o;
    if (this.o.stopping()) {
      log.warn('SIGHUP while stopping: ignored');
      return;
    }
    if (this.running || !this.started) {
      // Any number of SIGHUPs during a reload (or the start) make one more reload after it,
      // which reads the file as it is then.
      if (!this.queued) log.info(`SIGHUP during ${this.running ? 'a reload' : 'start-up'}: one more reload will follow`);
      this.queued = true;
      return;
    }
    this.start('SIGHUP');
  }

  /** Every worker of the start listens: run the reload a SIGHUP during the start asked for. */
  startupDone(): void {
    this.started = true;
    if (this.queued) {
      this.queued = false;
      this.start('SIGHUP');
    }
  }

  /** Never lets a surprise inside a reload become an unhandled rejection (Node would exit). */
  private start(signal: string): void {
    this.reload(signal).catch((err: unknown) => {
      this.running = false;
      this.o.log.error({ err }, `reload failed unexpectedly: ${(err as Error)?.message ?? String(err)}`);
    });
  }

  private async reload(signal: string): Promise<void> {
    const { pool, log, inherited } = this.o;
    this.running = true;
    const t0 = performance.now();
    try {
      log.info({ signal }, 'reload started: reading the configuration again');
      let next: Config;
      try {
        next = this.o.reloadConfig();
      } catch (err) {
        const message = err instanceof ConfigError ? err.message : String(err);
        log.error({ reason: message }, `reload failed: ${message}; the configuration in force stays, no worker was replaced`);
        return;
      }
      const previous = pool.current;
      const { config: applied, needRestart } = applicable(previous.config, next, CLUSTER_RESTART_KEYS);
      const changed = changedKeys(previous.config, applied);
      // With "any free port" kept, the new workers join the port in use.
      const samePort = applied.port === 0 && previous.config.port === 0 && applied.host === previous.config.host;
      // The same host keeps the addresses resolved at start: node:cluster shares each one's socket.
      const addresses = applied.host === previous.config.host ? previous.addresses : undefined;
      const target: Generation = { config: applied, addresses, actualPort: samePort ? pool.currentPort : undefined };
      pool.current = target;
      log.level = applied.logLevel;
      this.o.counters.reloads++;
      const result = await this.rollTo(target);
      const ms = Math.round(performance.now() - t0);
      if (result.failure !== undefined) {
        // Respawns go back to what the old workers run; replaced workers keep serving.
        pool.current = previous;
        if (this.o.stopping()) log.warn({ replaced: result.replaced }, `reload aborted (${result.failure}); ${countOf(result.replaced, 'worker')} replaced`);
        else {
          log.error(
            { replaced: result.replaced, reason: result.failure, ms },
            `reload failed: ${result.failure}; ${countOf(result.replaced, 'worker')} replaced, the others keep serving with the configuration in force`,
          );
        }
        return;
      }
      // The renewed certificate may itself be close to its end (or the old one left in place).
      for (const warning of configuredCertificateWarnings(applied)) log.warn(warning);
      const restart = Object.keys(needRestart).length > 0 ? `; needs a restart (not applied): ${describeChanges(needRestart)}` : '';
      const url = inherited ? `port ${pool.currentPort} (${describeInherited(inherited.main)})` : urlOf(applied.host, pool.currentPort, schemeOf(applied));
      const message = `reload finished: ${countOf(result.replaced, 'worker')} replaced in ${ms} ms, listening on ${url}; ${describeChanges(changed)}${restart}`;
      const fields = { replaced: result.replaced, ms, url, changed, needRestart };
      if (restart) log.warn(fields, message);
      else log.info(fields, message);
    } finally {
      this.running = false;
      if (this.queued && !this.o.stopping()) {
        this.queued = false;
        this.start('SIGHUP (queued)');
      }
    }
  }

  /**
   * Replaces the workers with workers of `target`, one at a time, until every serving worker
   * is of `target` and there are as many as it asks for. Decided again at every step, so a
   * worker that crashes meanwhile (and its respawn, forked from `target`) is accounted for.
   */
  private async rollTo(target: Generation): Promise<{ replaced: number; failure?: string }> {
    const { pool, log } = this.o;
    let replaced = 0;
    for (;;) {
      if (this.o.stopping()) return { replaced, failure: 'stopped by a signal' };
      const serving = pool.list('serving');
      const olds = serving.filter((w) => pool.generationOf(w) !== target);
      const fresh = serving.length - olds.length;
      if (fresh < target.config.workers) {
        const w = pool.fork(target, 'starting');
        const result = await whenListening(w, this.o.startTimeoutMs ?? RELOAD_START_TIMEOUT_MS);
        if (!result.ok) return { replaced, failure: `new worker ${w.id} (pid ${w.process.pid}) ${result.reason}` };
        pool.started(w);
        if (this.o.stopping()) return { replaced, failure: 'stopped by a signal' };
        pool.currentPort = result.port;
        // Decided again after the wait: an old worker may have died or been retired meanwhile.
        const old = pool.list('serving').find((o) => pool.generationOf(o) !== target);
        if (old) this.retire(old, `replaced by worker ${w.id} (pid ${w.process.pid})`);
        else log.info({ workerId: w.id, workerPid: w.process.pid }, `reload: worker ${w.id} (pid ${w.process.pid}) added`);
        replaced++;
        continue;
      }
      if (olds.length > 0) {
        this.retire(olds[0]!, 'no longer needed (fewer workers)');
        continue;
      }
      return { replaced };
    }
  }

  private retire(w: Worker, why: string): void {
    this.o.log.info({ workerId: w.id, workerPid: w.process.pid }, `reload: worker ${w.id} (pid ${w.process.pid}) ${why}; draining it`);
    this.o.pool.retire(w);
  }
}

type StartResult = { ok: true; port: number } | { ok: false; reason: string };

/**
 * Resolves when a freshly forked worker listens (with its address), or with the reason it
 * did not: it exited, it could not bind, or it took longer than `timeoutMs` (then it is killed).
 */
function whenListening(w: Worker, timeoutMs: number): Promise<StartResult> {
  return new Promise((resolve) => {
    const done = (r: StartResult) => {
      clearTimeout(timer);
      w.off('listening', onListening);
      w.off('exit', onExit);
      w.off('message', onMessage);
      resolve(r);
    };
    const onListening = (address: { port: number }) => done({ ok: true, port: address.port });
    const onExit = (code: number | null, signal: string | null) => done({ ok: false, reason: `exited with ${signal ?? `code ${code}`} before listening` });
    const onMessage = (m: ToPrimary) => {
      if (m?.type === 'listen-error' || m?.type === 'start-error') done({ ok: false, reason: m.message });
    };
    const timer = setTimeout(() => {
      w.process.kill('SIGKILL');
      done({ ok: false, reason: `did not listen within ${timeoutMs} ms` });
    }, timeoutMs);
    w.on('listening', onListening);
    w.on('exit', onExit);
    w.on('message', onMessage);
  });
}
