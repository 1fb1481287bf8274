/**
 * The primary: forks the workers, replaces one that dies, and runs the drain for all of them.
 * It serves nothing itself. Ctrl+C reaches every process of the group, SIGTERM from systemd
 * or Docker only this one; either way the primary asks every worker to drain, waits, and
 * exits 0 only when every worker drained cleanly.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config';
import type { Loggers } from './logger';
import { PrimaryCounters } from './metrics/counters';
import type * as MetricsServer from './metrics/metrics-server';
import { EXIT_FORCED } from './shutdown';
import os from 'node:os';
import { listeningRecord } from './listen-urls';
import { countOf } from './logger';
import { reopenLogs, type ToPrimary, type ToWorker } from './worker';

export const WORKER_CONFIG_ENV = 'FLEETSERVE_WORKER_CONFIG';

/** Respawn delays grow while workers keep dying young, so a crash loop cannot spin the CPU. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 10_000;
const STABLE_AFTER_MS = 30_000;

export function runPrimary(config: Config, loggers: Loggers): void {
  const { log } = loggers;
  cluster.schedulingPolicy = config.scheduling === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  cluster.setupPrimary({ args: [] });
  let env = { [WORKER_CONFIG_ENV]: JSON.stringify(config) };

  const started = new Map<Worker, number>();
  let stopping = false;
  let fatal = false;
  let announced = false;
  let listening = 0;
  /** Workers that listen now: not paused by their accept gate, not dead. */
  const listeningWorkers = new Set<number>();
  let respawnDelay = RESPAWN_MIN_MS;
  let exitCode = 0;
  // Counted whether metrics are on or off; the metrics listener reads them. A reload adds 1
  // to counters.reloads when it begins replacing workers.
  const counters = new PrimaryCounters();

  const exit = (code: number) => {
    loggers.flush();
    process.exit(code);
  };

  const fork = () => {
    const w = cluster.fork(env);
    started.set(w, Date.now());
    w.on('message', (m: ToPrimary) => {
      if (m?.type === 'accept-pause') {
        // A full worker may stop listening only while another one listens: closing the last
        // handle would close the shared socket and lose every queued connection.
        const granted = !stopping && [...listeningWorkers].some((id) => id !== w.id);
        if (granted) listeningWorkers.delete(w.id);
        send(w, { cmd: 'accept-pause', granted }, counters);
        return;
      }
      if ((m?.type !== 'listen-error' && m?.type !== 'start-error') || fatal) return;
      stopFatally(m.message, m.type === 'listen-error' ? 'cannot listen' : 'cannot start');
    });
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
    listening++;
    if (!announced && listening >= config.workers) {
      announced = true;
      if (config.port === 0) {
        // Replacements must join the port that was announced, not pick a new free one
        // (cluster closes the shared socket when its last worker dies).
        env = { [WORKER_CONFIG_ENV]: JSON.stringify({ ...config, port: address.port }) };
      }
      const { fields, msg } = listeningRecord(config.host, address.port, config.workers, os.networkInterfaces());
      log.info({ ...fields, scheduling: config.scheduling, root: config.root }, msg);
    }
  });

  cluster.on('exit', (w, code, signal) => {
    listeningWorkers.delete(w.id);
    const bornAt = started.get(w) ?? Date.now();
    started.delete(w);
    if (stopping) {
      if (code !== 0) exitCode = code === EXIT_FORCED ? EXIT_FORCED : 1;
      log.info({ workerId: w.id, workerPid: w.process.pid, code, signal }, `worker ${w.id} exited (${signal ?? code})`);
      if (started.size === 0) {
        log.info({ code: exitCode }, exitCode === 0 ? 'all workers drained; exiting' : 'workers stopped; exiting with errors');
        exit(exitCode);
      }
      return;
    }
    log.warn({ workerId: w.id, workerPid: w.process.pid, code, signal }, `worker ${w.id} died (${signal ? `signal ${signal}` : `exit code ${code}`}); replacing it`);
    counters.workerRestarts++;
    const lived = Date.now() - bornAt;
    respawnDelay = lived > STABLE_AFTER_MS ? RESPAWN_MIN_MS : Math.min(respawnDelay * 2, RESPAWN_MAX_MS);
    setTimeout(() => {
      if (!stopping) fork();
    }, lived > STABLE_AFTER_MS ? 0 : respawnDelay);
  });

  let signals = 0;
  let deadline: NodeJS.Timeout | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (signals === 1) {
      stopping = true;
      log.info({ signal, workers: workers.length }, `${signal}: draining ${countOf(workers.length, 'worker')}`);
      if (workers.length === 0) exit(0);
      for (const w of workers) send(w, { cmd: 'drain' }, counters);
      // Workers cut their own connections at drainTimeoutMs; this is the backstop for a
      // worker that cannot even do that.
      deadline = setTimeout(() => {
        log.error({ left: started.size }, 'workers did not exit after the drain deadline; killing them');
        for (const w of started.keys()) w.process.kill('SIGKILL');
        exit(1);
      }, config.drainTimeoutMs + 2000);
      deadline.unref();
      return;
    }
    log.warn({ signal }, `second ${signal}: stopping now`);
    for (const w of workers) w.process.kill('SIGKILL');
    exit(EXIT_FORCED);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // logrotate's postrotate (like nginx -s reopen): reopen our files and tell every worker.
  // Handled in every process also because Node's default for SIGUSR1 starts the inspector.
  process.on('SIGUSR1', () => {
    reopenLogs(loggers, 'SIGUSR1');
    for (const w of Object.values(cluster.workers ?? {})) if (w !== undefined) send(w, { cmd: 'reopen' }, counters);
  });

  const forkAll = () => {
    for (let i = 0; i < config.workers; i++) fork();
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

function send(w: Worker, m: ToWorker, counters: PrimaryCounters): void {
  try {
    w.send(m);
    if (m.cmd === 'drain') counters.workerDrains++;
  } catch {
    // Already gone: its exit event will be counted.
  }
}
