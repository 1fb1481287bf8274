/**
 * The primary: forks the workers, replaces one that dies, runs the drain for all of them,
 * and reloads on SIGHUP. It serves nothing itself. Ctrl+C reaches every process of the
 * group, SIGTERM from systemd or Docker only this one; either way the primary asks every
 * worker to stop, waits, and exits 0 only when every worker drained cleanly.
 *
 * This file decides what a worker's listening, message or exit means and handles the
 * signals; the book of workers (generations, ports, respawn back-off, sending) is
 * worker-pool.ts, the SIGHUP reload that replaces them one at a time rolling-reload.ts.
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { describeIgnoredFds, describeInherited, type InheritedSocket } from './activation';
import type { Config } from '../config/config';
import { listeningRecord } from './listen-urls';
import { countOf, reopenLogs, type Loggers } from '../logs/logger';
import { PrimaryCounters } from '../metrics/counters';
import type * as MetricsServer from '../metrics/metrics-server';
import { RollingReload } from './rolling-reload';
import { EXIT_FORCED, onStopSignals, stopAnnouncement } from './shutdown';
import type { ToPrimary } from './ipc';
import { WorkerPool, type Generation } from './worker-pool';

/** How long workers have to cut their connections and exit after a second stop signal before they are killed. */
const FORCE_GRACE_MS = 1000;

export function runPrimary(config: Config, loggers: Loggers, reloadConfig: () => Config, inherited: InheritedSocket | null = null): void {
  const { log } = loggers;
  // On an inherited socket the kernel always balances: Node's round-robin primary closes the
  // connections it has accepted but not yet handed out when its last worker stops listening,
  // and a restart on a socket that outlives the process must not reset anyone.
  const scheduling = inherited ? 'none' : config.scheduling;
  if (inherited && config.scheduling === 'rr') log.warn({ scheduling }, 'scheduling "rr" is not used on an inherited socket: the kernel balances connections (scheduling "none")');
  cluster.schedulingPolicy = scheduling === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  cluster.setupPrimary({ args: [] });
  // Counted whether metrics are on or off; the metrics listener reads them.
  const counters = new PrimaryCounters();
  const pool = new WorkerPool(config, inherited, counters, log);
  let stopping = false;
  let fatal = false;
  let announced = false;
  /** Workers of the start that listened, until all did (then `announced`). */
  let listening = 0;
  let exitCode = 0;
  /** A second stop signal came: the exit code is 130 whatever the workers exit with. */
  let forced = false;

  const exit = (code: number) => {
    loggers.flush();
    process.exit(code);
  };

  /** Forks through the pool, with what the primary does when the worker listens or asks. */
  const fork = (gen: Generation): Worker => {
    const w = pool.fork(gen);
    w.on('listening', () => {
      // A stop that came while it started: now it can hear it (see the SIGINT/SIGTERM handler).
      if (stopping && !fatal) pool.send(w, { cmd: 'drain' });
    });
    w.on('message', (m: ToPrimary) => {
      if (m?.type === 'accept-pause') {
        // A full worker may stop listening only while another one listens: closing the last
        // handle would close the shared socket and lose every queued connection.
        const granted = !stopping && [...pool.listening].some((id) => id !== w.id);
        if (granted) pool.listening.delete(w.id);
        pool.send(w, { cmd: 'accept-pause', granted });
        return;
      }
      // A reload's new worker that cannot bind or start fails that reload, not the server.
      if ((m?.type !== 'listen-error' && m?.type !== 'start-error') || fatal || pool.starting.has(w)) return;
      stopFatally(m.message, m.type === 'listen-error' ? 'cannot listen' : 'cannot start');
    });
    return w;
  };

  const reloads = new RollingReload({ pool, fork, stopping: () => stopping, reloadConfig, log, counters, inherited });

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
    pool.listening.add(w.id);
    if (announced) return;
    listening++;
    if (listening >= config.workers) {
      announced = true;
      pool.currentPort = address.port;
      if (inherited) {
        log.info(
          { fd: inherited.fd, fdName: inherited.name, port: address.port, workers: config.workers, scheduling, root: config.root },
          `listening on port ${address.port} from the ${describeInherited(inherited)} with ${countOf(config.workers, 'worker')} (host and port settings ignored)`,
        );
        if (inherited.ignoredFds.length) log.warn({ ignoredFds: inherited.ignoredFds }, describeIgnoredFds(inherited));
      } else {
        const { fields, msg } = listeningRecord(config.host, address.port, config.workers, os.networkInterfaces());
        log.info({ ...fields, scheduling: config.scheduling, root: config.root }, msg);
      }
      reloads.startupDone();
    }
  });

  cluster.on('exit', (w, code, signal) => {
    const { lived, wasListening, wasRetiring, wasStarting } = pool.remove(w);
    if (stopping) {
      if (forced) exitCode = EXIT_FORCED;
      else if (code !== 0) exitCode = code === EXIT_FORCED ? EXIT_FORCED : 1;
      log.info({ workerId: w.id, workerPid: w.process.pid, code, signal }, `worker ${w.id} exited (${signal ?? code})`);
      if (pool.size === 0) {
        log.info({ code: exitCode }, exitCode === 0 ? 'all workers drained; exiting' : 'workers stopped; exiting with errors');
        exit(exitCode);
      }
      return;
    }
    if (inherited && wasListening && pool.listening.size === 0) {
      // Node's cluster closes the primary's copy of a shared listening fd when the last
      // worker using it leaves, and Node cannot dup() it first: the inherited socket is gone
      // from this process. Exit so the service manager restarts fleetserve on the socket it
      // still holds; connections wait in the backlog meanwhile.
      fatal = true;
      stopping = true;
      log.fatal({ workerId: w.id, code, signal, fd: inherited.fd }, `worker ${w.id} died and was the last one serving the ${describeInherited(inherited)}; exiting for a restart`);
      for (const other of pool.forked()) other.process.kill('SIGKILL');
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
    setTimeout(() => {
      // A reload may have filled the gap meanwhile (or changed the count): never overshoot.
      if (!stopping && pool.alive().filter((x) => !pool.retiring.has(x)).length < pool.current.config.workers) fork(pool.current);
    }, pool.respawnDelayAfter(lived));
  });

  process.on('SIGHUP', () => reloads.requested());

  onStopSignals(
    (signal) => {
      const workers = pool.alive();
      stopping = true;
      const { reloading } = reloads;
      const { drainTimeoutMs, preDrainDelayMs } = pool.current.config;
      log.info(
        { signal, workers: workers.length, drainTimeoutMs, preDrainDelayMs, reloading },
        stopAnnouncement(signal, countOf(workers.length, 'worker'), { drainTimeoutMs, preDrainDelayMs }, reloading),
      );
      if (workers.length === 0) exit(0);
      // Old and new workers alike; the ones a reload retires are draining already. A worker
      // still starting may not listen for messages yet (one sent now could be lost): it is
      // asked when it listens, or it exits on its own.
      for (const w of workers) if (pool.hasListened(w)) pool.send(w, { cmd: 'drain' });
      // Each worker runs its own Drainer with the drain deadline and cuts its connections
      // itself; this is only the backstop for a worker that cannot even do that (stuck).
      const backstop = setTimeout(() => {
        log.error({ left: pool.size }, 'workers did not exit after the drain deadline; killing them');
        for (const w of pool.forked()) w.process.kill('SIGKILL');
        exit(1);
      }, pool.current.config.preDrainDelayMs + pool.current.config.drainTimeoutMs + 2000);
      backstop.unref();
    },
    (signal) => {
      log.warn({ signal }, `second ${signal}: stopping now`);
      forced = true;
      // Each worker cuts its connections itself, so the access log says what was cut and
      // is flushed before it exits (a SIGKILL would lose those lines); the exit handler
      // above exits when the last one is gone. A worker that cannot even do that is killed.
      for (const w of pool.alive()) pool.send(w, { cmd: 'force' });
      setTimeout(() => {
        for (const w of pool.forked()) w.process.kill('SIGKILL');
        exit(EXIT_FORCED);
      }, FORCE_GRACE_MS);
    },
  );
  // logrotate's postrotate (like nginx -s reopen): reopen our files and tell every worker.
  // Handled in every process also because Node's default for SIGUSR1 starts the inspector.
  process.on('SIGUSR1', () => {
    reopenLogs(loggers, 'SIGUSR1');
    for (const w of pool.alive()) pool.send(w, { cmd: 'reopen' });
  });

  const forkAll = () => {
    for (let i = 0; i < config.workers; i++) fork(pool.current);
  };
  if (config.metricsPort === 0) forkAll();
  else {
    // The metrics port is bound before any worker starts: if it cannot be, nothing starts.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when metrics are on
    const { PrimaryMetrics, startMetricsServer } = require('../metrics/metrics-server') as typeof MetricsServer;
    const metrics = new PrimaryMetrics(counters, log);
    startMetricsServer(config.metricsHost, config.metricsPort, metrics.render, log, forkAll, (message) => stopFatally(message, 'cannot listen'));
  }
}
