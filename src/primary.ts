/**
 * The primary: forks the workers, replaces one that dies, runs the drain for all of them,
 * and reloads on SIGHUP. It serves nothing itself. Ctrl+C reaches every process of the
 * group, SIGTERM from systemd or Docker only this one; either way the primary asks every
 * worker to stop, waits, and exits 0 only when every worker drained cleanly.
 *
 * A reload reads the configuration again and replaces the workers one at a time: fork a new
 * one (with the new configuration and the code on disk now), wait until it listens, then
 * retire an old one (the same drain as SIGTERM, without the pre-drain: the server as a whole
 * keeps serving). A worker that fails to start stops the reload; the old ones keep serving.
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { describeInherited, type InheritedSocket } from './activation';
import type { Config } from './config';
import { ConfigError } from './errors';
import { listeningRecord, urlOf } from './listen-urls';
import { countOf, reopenLogs, type Loggers } from './logger';
import { PrimaryCounters } from './metrics/counters';
import type * as MetricsServer from './metrics/metrics-server';
import { applicable, changedKeys, CLUSTER_RESTART_KEYS, describeChanges } from './reload';
import { EXIT_FORCED, onStopSignals } from './shutdown';
import type { ToPrimary, ToWorker } from './worker';
import { WORKER_CONFIG_ENV, WORKER_INHERITED_ENV } from './worker-env';


/** Respawn delays grow while workers keep dying young, so a crash loop cannot spin the CPU. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 10_000;
const STABLE_AFTER_MS = 30_000;
/** A worker forked by a reload that does not listen within this time fails the reload. */
export const RELOAD_START_TIMEOUT_MS = 10_000;

/** One configuration put in force by the start or by a reload. */
interface Generation {
  config: Config;
  /** With port 0: the port its workers got (or will join), once one listens. */
  actualPort?: number;
}

/** What each worker was told to listen on, and where it listens. */
interface WorkerRecord {
  gen: Generation;
  requestedPort: number;
  actualPort?: number;
}
export function runPrimary(config: Config, loggers: Loggers, reloadConfig: () => Config, inherited: InheritedSocket | null = null): void {
  const { log } = loggers;
  // On an inherited socket the kernel always balances: Node's round-robin primary closes the
  // connections it has accepted but not yet handed out when its last worker stops listening,
  // and a restart on a socket that outlives the process must not reset anyone.
  const scheduling = inherited ? 'none' : config.scheduling;
  if (inherited && config.scheduling === 'rr') log.warn({ scheduling }, 'scheduling "rr" is not used on an inherited socket: the kernel balances connections (scheduling "none")');
  cluster.schedulingPolicy = scheduling === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  const inheritedEnv = inherited ? { [WORKER_INHERITED_ENV]: JSON.stringify(inherited) } : {};
  cluster.setupPrimary({ args: [] });
  /** What respawns are forked with: the configuration in force. */
  let current: Generation = { config };
  /** The port the workers of `current` listen on (differs from its config with port 0). */
  let currentPort = config.port;

  const started = new Map<Worker, number>();
  const records = new Map<Worker, WorkerRecord>();
  const generationOf = { get: (w: Worker) => records.get(w)?.gen };
  /** Old workers a reload asked to drain: their exit is expected, not a crash. */
  const retiring = new Set<Worker>();
  /** Workers a reload forked that do not listen yet: the reload judges their fate. */
  const starting = new Set<Worker>();
  let stopping = false;
  let fatal = false;
  let announced = false;
  let listening = 0;
  let respawnDelay = RESPAWN_MIN_MS;
  let exitCode = 0;
  let reloading = false;
  let reloadQueued = false;
  /** Workers that listen now: not paused by their accept gate, not dead. */
  const listeningWorkers = new Set<number>();
  // Counted whether metrics are on or off; the metrics listener reads them.
  const counters = new PrimaryCounters();

  const exit = (code: number) => {
    loggers.flush();
    process.exit(code);
  };

  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  /**
   * The port a new worker of `gen` asks for. node:cluster shares one listening socket among
   * the workers that ask for the same address *as written*: with port 0, a worker must ask
   * for 0 while the socket created for 0 lives (asking for its number would try a second
   * bind: EADDRINUSE), and for the number once that socket is gone (asking for 0 would move
   * the server to another port).
   */
  const portToRequest = (gen: Generation): number => {
    if (gen.config.port !== 0 || gen.actualPort === undefined) return gen.config.port;
    for (const [w, r] of records) {
      if (!w.isDead() && !retiring.has(w) && r.actualPort === gen.actualPort && r.gen.config.host === gen.config.host) return r.requestedPort;
    }
    return gen.actualPort;
  };

  const fork = (gen: Generation): Worker => {
    const requestedPort = portToRequest(gen);
    const w = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify({ ...gen.config, port: requestedPort }), ...inheritedEnv });
    started.set(w, Date.now());
    const record: WorkerRecord = { gen, requestedPort };
    records.set(w, record);
    // An IPC failure to a worker that is going away must never end the primary.
    w.on('error', (err: Error) => log.debug({ err, workerId: w.id }, `IPC with worker ${w.id} failed`));
    w.on('listening', (address: { port: number }) => {
      record.actualPort = address.port;
      gen.actualPort ??= address.port;
      // A stop that came while it started: now it can hear it (see onSignal).
      if (stopping && !fatal) send(w, { cmd: 'drain' }, counters);
    });
    w.on('message', (m: ToPrimary) => {
      if (m?.type === 'accept-pause') {
        // A full worker may stop listening only while another one listens: closing the last
        // handle would close the shared socket and lose every queued connection.
        const granted = !stopping && [...listeningWorkers].some((id) => id !== w.id);
        if (granted) listeningWorkers.delete(w.id);
        send(w, { cmd: 'accept-pause', granted }, counters);
        return;
      }
      // A reload's new worker that cannot bind or start fails that reload, not the server.
      if ((m?.type !== 'listen-error' && m?.type !== 'start-error') || fatal || starting.has(w)) return;
      stopFatally(m.message, m.type === 'listen-error' ? 'cannot listen' : 'cannot start');
    });
    return w;
  };

  const stopFatally = (message: string, what: string) => {
    fatal = true;
    stopping = true;
    process.stderr.write(`fleetserve: ${message}\n`);
    // On a terminal the stderr line says it all; JSON logs get the record for collectors.
    if (!loggers.pretty) log.fatal({ reason: message }, what);
    for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
    exit(1);
  };

  cluster.on('listening', (w, address) => {
    listeningWorkers.add(w.id);
    if (announced) return;
    listening++;
    if (listening >= config.workers) {
      announced = true;
      currentPort = address.port;
      if (inherited) {
        log.info(
          { fd: inherited.fd, fdName: inherited.name, port: address.port, workers: config.workers, scheduling, root: config.root },
          `listening on port ${address.port} from the ${describeInherited(inherited)} with ${countOf(config.workers, 'worker')} (host and port settings ignored)`,
        );
        if (inherited.ignoredFds.length) log.warn({ ignoredFds: inherited.ignoredFds }, `serving fd ${inherited.fd} only; ignoring inherited fds ${inherited.ignoredFds.join(', ')}`);
      } else {
        const { fields, msg } = listeningRecord(config.host, address.port, config.workers, os.networkInterfaces());
        log.info({ ...fields, scheduling: config.scheduling, root: config.root }, msg);
      }
      if (reloadQueued) {
        reloadQueued = false;
        startReload('SIGHUP');
      }
    }
  });

  cluster.on('exit', (w, code, signal) => {
    const wasListening = listeningWorkers.delete(w.id);
    const bornAt = started.get(w) ?? Date.now();
    started.delete(w);
    records.delete(w);
    const wasRetiring = retiring.delete(w);
    const wasStarting = starting.delete(w);
    if (stopping) {
      if (code !== 0) exitCode = code === EXIT_FORCED ? EXIT_FORCED : 1;
      log.info({ workerId: w.id, workerPid: w.process.pid, code, signal }, `worker ${w.id} exited (${signal ?? code})`);
      if (started.size === 0) {
        log.info({ code: exitCode }, exitCode === 0 ? 'all workers drained; exiting' : 'workers stopped; exiting with errors');
        exit(exitCode);
      }
      return;
    }
    if (inherited && wasListening && listeningWorkers.size === 0) {
      // Node's cluster closes the primary's copy of a shared listening fd when the last
      // worker using it leaves, and Node cannot dup() it first: the inherited socket is gone
      // from this process. Exit so the service manager restarts fleetserve on the socket it
      // still holds; connections wait in the backlog meanwhile.
      fatal = true;
      stopping = true;
      log.fatal({ workerId: w.id, code, signal, fd: inherited.fd }, `worker ${w.id} died and was the last one serving the ${describeInherited(inherited)}; exiting for a restart`);
      for (const other of started.keys()) other.process.kill('SIGKILL');
      exit(1);
      return;
    }
    if (wasRetiring) {
      const fields = { workerId: w.id, workerPid: w.process.pid, code, signal };
      if (code === 0) log.info(fields, `worker ${w.id} retired after its drain`);
      else log.warn(fields, `worker ${w.id} retired with ${signal ?? `exit code ${code}`}: its drain did not end cleanly`);
      return;
    }
    if (wasStarting) return; // the reload that forked it reports the failure
    log.warn({ workerId: w.id, workerPid: w.process.pid, code, signal }, `worker ${w.id} died (${signal ? `signal ${signal}` : `exit code ${code}`}); replacing it`);
    counters.workerRestarts++;
    const lived = Date.now() - bornAt;
    respawnDelay = lived > STABLE_AFTER_MS ? RESPAWN_MIN_MS : Math.min(respawnDelay * 2, RESPAWN_MAX_MS);
    setTimeout(() => {
      // A reload may have filled the gap meanwhile (or changed the count): never overshoot.
      if (!stopping && alive().filter((x) => !retiring.has(x)).length < current.config.workers) fork(current);
    }, lived > STABLE_AFTER_MS ? 0 : respawnDelay);
  });

  /**
   * Resolves when a freshly forked worker listens (with its address), or with the reason it
   * did not: it exited, it could not bind, or it took longer than RELOAD_START_TIMEOUT_MS.
   */
  const whenListening = (w: Worker): Promise<{ ok: true; port: number } | { ok: false; reason: string }> =>
    new Promise((resolve) => {
      const done = (r: { ok: true; port: number } | { ok: false; reason: string }) => {
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
        done({ ok: false, reason: `did not listen within ${RELOAD_START_TIMEOUT_MS} ms` });
      }, RELOAD_START_TIMEOUT_MS);
      w.on('listening', onListening);
      w.on('exit', onExit);
      w.on('message', onMessage);
    });

  /**
   * Replaces the workers with workers of `target`, one at a time, until every serving worker
   * is of `target` and there are as many as it asks for. Decided again at every step, so a
   * worker that crashes meanwhile (and its respawn, forked from `target`) is accounted for.
   */
  const rollTo = async (target: Generation): Promise<{ replaced: number; failure?: string }> => {
    let replaced = 0;
    for (;;) {
      if (stopping) return { replaced, failure: 'stopped by a signal' };
      const serving = alive().filter((w) => !retiring.has(w) && !starting.has(w));
      const olds = serving.filter((w) => generationOf.get(w) !== target);
      const fresh = serving.filter((w) => generationOf.get(w) === target);
      if (fresh.length < target.config.workers) {
        const w = fork(target);
        starting.add(w);
        const result = await whenListening(w);
        if (!result.ok) return { replaced, failure: `new worker ${w.id} (pid ${w.process.pid}) ${result.reason}` };
        starting.delete(w);
        if (stopping) return { replaced, failure: 'stopped by a signal' };
        currentPort = result.port;
        const old = olds.find((o) => !o.isDead() && !retiring.has(o));
        if (old) retire(old, `replaced by worker ${w.id} (pid ${w.process.pid})`);
        else log.info({ workerId: w.id, workerPid: w.process.pid }, `reload: worker ${w.id} (pid ${w.process.pid}) added`);
        replaced++;
        continue;
      }
      if (olds.length > 0) {
        retire(olds[0]!, 'no longer needed (fewer workers)');
        continue;
      }
      return { replaced };
    }
  };

  const retire = (w: Worker, why: string) => {
    retiring.add(w);
    log.info({ workerId: w.id, workerPid: w.process.pid }, `reload: worker ${w.id} (pid ${w.process.pid}) ${why}; draining it`);
    send(w, { cmd: 'retire' }, counters);
  };

  /** Never lets a surprise inside a reload become an unhandled rejection (Node would exit). */
  const startReload = (signal: string) => {
    reload(signal).catch((err: unknown) => {
      reloading = false;
      log.error({ err }, `reload failed unexpectedly: ${(err as Error)?.message ?? String(err)}`);
    });
  };

  const reload = async (signal: string): Promise<void> => {
    reloading = true;
    const t0 = performance.now();
    try {
      log.info({ signal }, 'reload started: reading the configuration again');
      let next: Config;
      try {
        next = reloadConfig();
      } catch (err) {
        const message = err instanceof ConfigError ? err.message : String(err);
        log.error({ reason: message }, `reload failed: ${message}; the configuration in force stays, no worker was replaced`);
        return;
      }
      const previous = current;
      const { config: applied, needRestart } = applicable(previous.config, next, CLUSTER_RESTART_KEYS);
      const changed = changedKeys(previous.config, applied);
      // With "any free port" kept, the new workers join the port in use.
      const samePort = applied.port === 0 && previous.config.port === 0 && applied.host === previous.config.host;
      const target: Generation = { config: applied, actualPort: samePort ? currentPort : undefined };
      current = target;
      log.level = applied.logLevel;
      counters.reloads++;
      const result = await rollTo(target);
      const ms = Math.round(performance.now() - t0);
      if (result.failure !== undefined) {
        // Respawns go back to what the old workers run; replaced workers keep serving.
        current = previous;
        if (stopping) log.warn({ replaced: result.replaced }, `reload aborted (${result.failure}) after ${result.replaced} workers were replaced`);
        else {
          log.error(
            { replaced: result.replaced, reason: result.failure, ms },
            `reload failed: ${result.failure}; ${result.replaced} workers replaced, the others keep serving with the configuration in force`,
          );
        }
        return;
      }
      const restart = Object.keys(needRestart).length > 0 ? `; needs a restart (not applied): ${describeChanges(needRestart)}` : '';
      const url = inherited ? `port ${currentPort} (${describeInherited(inherited)})` : urlOf(applied.host, currentPort);
      const message = `reload finished: ${result.replaced} workers replaced in ${ms} ms, listening on ${url}; ${describeChanges(changed)}${restart}`;
      const fields = { replaced: result.replaced, ms, url, changed, needRestart };
      if (restart) log.warn(fields, message);
      else log.info(fields, message);
    } finally {
      reloading = false;
      if (reloadQueued && !stopping) {
        reloadQueued = false;
        startReload('SIGHUP (queued)');
      }
    }
  };

  process.on('SIGHUP', () => {
    if (stopping) {
      log.warn('SIGHUP while stopping: ignored');
      return;
    }
    if (reloading || !announced) {
      // Any number of SIGHUPs during a reload (or the start) make one more reload after it,
      // which reads the file as it is then.
      if (!reloadQueued) log.info(`SIGHUP during ${reloading ? 'a reload' : 'start-up'}: one more reload will follow`);
      reloadQueued = true;
      return;
    }
    startReload('SIGHUP');
  });

  onStopSignals(
    (signal) => {
      const workers = alive();
      stopping = true;
      const during = reloading ? ' (reload aborted)' : '';
      log.info({ signal, workers: workers.length, reloading }, `${signal}: draining ${countOf(workers.length, 'worker')}${during}`);
      if (workers.length === 0) exit(0);
      // Old and new workers alike; the ones a reload retires are draining already. A worker
      // still starting may not listen for messages yet (one sent now could be lost): it is
      // asked when it listens, or it exits on its own.
      for (const w of workers) if (records.get(w)?.actualPort !== undefined) send(w, { cmd: 'drain' }, counters);
      // Each worker runs its own Drainer with the drain deadline and cuts its connections
      // itself; this is only the backstop for a worker that cannot even do that (stuck).
      const backstop = setTimeout(() => {
        log.error({ left: started.size }, 'workers did not exit after the drain deadline; killing them');
        for (const w of started.keys()) w.process.kill('SIGKILL');
        exit(1);
      }, current.config.preDrainDelayMs + current.config.drainTimeoutMs + 2000);
      backstop.unref();
    },
    (signal) => {
      log.warn({ signal }, `second ${signal}: stopping now`);
      for (const w of alive()) w.process.kill('SIGKILL');
      exit(EXIT_FORCED);
    },
  );
  // logrotate's postrotate (like nginx -s reopen): reopen our files and tell every worker.
  // Handled in every process also because Node's default for SIGUSR1 starts the inspector.
  process.on('SIGUSR1', () => {
    reopenLogs(loggers, 'SIGUSR1');
    for (const w of alive()) send(w, { cmd: 'reopen' }, counters);
  });

  const forkAll = () => {
    for (let i = 0; i < config.workers; i++) fork(current);
  };
  if (config.metricsPort === 0) forkAll();
  else {
    // The metrics port is bound before any worker starts: if it cannot be, nothing starts.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when metrics are on
    const { PrimaryMetrics, startMetricsServer } = require('./metrics/metrics-server') as typeof MetricsServer;
    const metrics = new PrimaryMetrics(counters, log);
    startMetricsServer(config.metricsHost, config.metricsPort, metrics.render, log, forkAll, (message) => stopFatally(message, 'cannot listen'));
  }
}

/**
 * A worker may be exiting when a message is sent (a retired one that just finished its drain
 * when SIGTERM comes): the write then fails with EPIPE. With a callback the failure comes
 * back here; without one it would be an 'error' event that ends the primary.
 */
function send(w: Worker, m: ToWorker, counters: PrimaryCounters): void {
  try {
    w.send(m, undefined, () => {
      // Failed or not, its exit event is what counts.
    });
    if (m.cmd === 'drain' || m.cmd === 'retire') counters.workerDrains++;
  } catch {
    // Already gone: its exit event will be counted.
  }
}
