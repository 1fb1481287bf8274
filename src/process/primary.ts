/**
 * The primary: forks the workers, replaces one that dies, runs the drain for all of them,
 * and reloads on SIGHUP. It serves nothing itself. Ctrl+C reaches every process of the
 * group, SIGTERM from systemd or Docker only this one; either way the primary asks every
 * worker to stop, waits, and exits 0 only when every worker drained cleanly. A fault in the
 * primary itself (an uncaught exception, an unhandled rejection) is logged and stops the
 * server the same way, with exit code 1.
 *
 * `Primary` is the primary as an object whose methods are its events (a worker listening, a
 * worker's message, a worker's exit, each signal, a fault), with its state in one place;
 * `classifyExit` is the pure decision of what a worker's exit means; `listenTo` turns
 * node:cluster's and the process's events into the method calls; `runPrimary` puts them
 * together. The book of workers (generations, ports, roles, respawn back-off, sending) is
 * worker-pool.ts, the SIGHUP reload that replaces them one at a time rolling-reload.ts.
 */
import { encodeTicketKeys, startTicketKeyRotation, TICKET_KEY_ROTATION_MS } from '../tls/ticket-keys';
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { describeInherited, httpPortFrom, ignoredSettings, type InheritedSockets } from './activation';
import type { Config } from '../config/config';
import { describeFault, onFaults, type FaultOrigin } from './faults';
import { resolveListenAddresses } from './listen-addresses';
import { listeningRecord, schemeOf } from './listen-urls';
import { reopenLogs, type Loggers } from '../logs/logger';
import { PrimaryCounters } from '../metrics/counters';
import type * as MetricsServer from '../metrics/metrics-server';
import { countOf } from '../plural';
import { RollingReload } from './rolling-reload';
import { EXIT_FORCED, onStopSignals, stopAnnouncement } from './shutdown';
import type { ToPrimary } from './ipc';
import { WorkerPool, type ExitedWorker } from './worker-pool';
import { PrimaryAcme } from './acme-primary';
import { acmeEnabled } from '../acme/settings';

/** How long workers have to cut their connections and exit after a second stop signal before they are killed. */
const FORCE_GRACE_MS = 1000;
/** How much longer than the pre-drain and the drain deadline a stuck worker gets before it is killed. */
const BACKSTOP_SLACK_MS = 2000;

/**
 * Where the primary is in its life. `running`: serving, a worker that dies is replaced.
 * `stopping`: every worker drains (`cause`: a stop signal, or a fault in the primary) and the
 * primary exits after the last one with `exitCode`; `forced` once a second stop signal came.
 * `exiting`: the workers are killed and the process ends now (a fatal error); nothing more
 * is done.
 */
export type Phase = { kind: 'running' } | { kind: 'stopping'; cause: 'signal' | 'fault'; forced: boolean; exitCode: number } | { kind: 'exiting' };

/** What is known when a worker exits: the primary's phase and the pool's record of it. */
export interface ExitFacts {
  phase: Phase;
  /** The workers serve a socket-activated socket. */
  inherited: boolean;
  worker: ExitedWorker;
  /** Workers that still listen now that it is gone. */
  listeningLeft: number;
  code: number | null;
  signal: string | null;
}

export type ExitMeaning =
  /** The primary is exiting already. */
  | { kind: 'ignored' }
  /** One more worker gone during a stop; `exitCode` is the primary's exit code so far. */
  | { kind: 'stopped'; exitCode: number }
  /** The last worker serving the inherited socket: the socket is gone from this process. */
  | { kind: 'last-listener' }
  /** Retired by a reload; `clean` when its drain ended cleanly (exit code 0). */
  | { kind: 'retired'; clean: boolean }
  /** A reload's new worker that exited before it started: that reload reports it. */
  | { kind: 'failed-start' }
  /** It died while serving: replace it after the back-off. */
  | { kind: 'crashed' };

/** What a worker's exit means (pure: the primary acts on the answer). */
export function classifyExit(f: ExitFacts): ExitMeaning {
  if (f.phase.kind === 'exiting') return { kind: 'ignored' };
  if (f.phase.kind === 'stopping') return { kind: 'stopped', exitCode: exitCodeAfter(f.phase, f.code) };
  // Node's cluster closes the primary's copy of a shared listening fd when the last worker
  // using it leaves, and Node cannot dup() it first: the inherited socket is gone.
  if (f.inherited && f.worker.wasListening && f.listeningLeft === 0) return { kind: 'last-listener' };
  if (f.worker.role === 'retiring') return { kind: 'retired', clean: f.code === 0 };
  if (f.worker.role === 'starting') return { kind: 'failed-start' };
  return { kind: 'crashed' };
}

/**
 * The primary's exit code once one more worker exited with `code` during a stop: 130 after a
 * second stop signal whatever the workers exit with; otherwise a worker that did not exit 0
 * makes it 1 (130 if that worker was forced itself), and one that did leaves it as it was.
 */
function exitCodeAfter(stop: Extract<Phase, { kind: 'stopping' }>, code: number | null): number {
  if (stop.forced) return EXIT_FORCED;
  if (code === 0) return stop.exitCode;
  return code === EXIT_FORCED ? EXIT_FORCED : 1;
}

/** Runs `fn` after `ms`; `keepAlive` false lets the process exit before it fires. */
export type Schedule = (ms: number, fn: () => void, keepAlive: boolean) => void;

/** What the primary asks of the rolling reload. */
export type Reloads = Pick<RollingReload, 'requested' | 'startupDone' | 'reloading'>;

export interface PrimaryOptions {
  config: Config;
  loggers: Loggers;
  pool: WorkerPool;
  /** Makes the rolling reload, given how it can tell that the primary is stopping. */
  reloads: (stopping: () => boolean) => Reloads;
  counters: PrimaryCounters;
  inherited: InheritedSockets | null;
  /** Flushes the logs and ends the process (process.exit, but for tests). */
  exit?: (code: number) => void;
  stderr?: (text: string) => void;
  schedule?: Schedule;
  networkInterfaces?: () => ReturnType<typeof os.networkInterfaces>;
}

export class Primary {
  /**
   * The primary's state, all of it: its phase, how far the start has come, and the workers
   * that drained on a stop signal of their own and are not replaced yet (`drainedAhead`).
   */
  private readonly state: { phase: Phase; listenedAtStart: number; announced: boolean; httpPortBound: number; drainedAhead: Set<Worker> } = {
    phase: { kind: 'running' },
    listenedAtStart: 0,
    announced: false,
    httpPortBound: 0,
    drainedAhead: new Set(),
  };
  private readonly o: Required<PrimaryOptions>;
  private readonly reloads: Reloads;

  constructor(options: PrimaryOptions) {
    this.o = {
      exit: (code) => {
        options.loggers.flush();
        process.exit(code);
      },
      stderr: (text) => process.stderr.write(text),
      schedule: (ms, fn, keepAlive) => {
        const timer = setTimeout(fn, ms);
        if (!keepAlive) timer.unref();
      },
      networkInterfaces: os.networkInterfaces,
      ...options,
    };
    this.reloads = options.reloads(() => this.stopping);
  }

  /** No reload starts or goes on, no worker is replaced. */
  get stopping(): boolean {
    return this.state.phase.kind !== 'running';
  }

  get phase(): Readonly<Phase> {
    return this.state.phase;
  }

  private get log() {
    return this.o.loggers.log;
  }

  /** Forks the workers of the start. */
  start(): void {
    for (let i = 0; i < this.o.config.workers; i++) this.o.pool.fork(this.o.pool.current);
  }

  workerListening(w: Worker, address: { port: number; fd?: number }): void {
    const { pool, config } = this.o;
    // The plain-HTTP listener (httpPort) binds before the main one: the main one says the worker listens.
    if (config.httpPort !== 0 && !this.isMainListener(address)) {
      this.state.httpPortBound = address.port;
      return;
    }
    const first = pool.listened(w, address.port);
    // A stop that came while it started: now it can hear it (see stopSignal).
    if (this.state.phase.kind === 'stopping') pool.send(w, { cmd: 'drain' });
    if (!first || this.state.announced || ++this.state.listenedAtStart < config.workers) return;
    this.state.announced = true;
    pool.currentPort = address.port;
    this.announce(address.port);
    this.reloads.startupDone();
  }

  workerMessage(w: Worker, m: ToPrimary): void {
    const { pool } = this.o;
    if (m?.type === 'accept-pause') {
      pool.send(w, { cmd: 'accept-pause', granted: !this.stopping && pool.pause(w) });
      return;
    }
    // A reload's new worker that cannot bind or start fails that reload, not the server.
    if ((m?.type !== 'listen-error' && m?.type !== 'start-error') || this.state.phase.kind === 'exiting' || pool.roleOf(w) === 'starting') return;
    this.stopFatally(m.message, m.type === 'listen-error' ? 'cannot listen' : 'cannot start');
  }

  workerExited(w: Worker, code: number | null, signal: string | null): void {
    const { pool, inherited } = this.o;
    const worker = pool.remove(w);
    const meaning = classifyExit({ phase: this.state.phase, inherited: inherited !== null, worker, listeningLeft: pool.list('listening').length, code, signal });
    const fields = { workerId: w.id, workerPid: w.process.pid, code, signal };
    switch (meaning.kind) {
      case 'stopped':
        this.log.info(fields, `worker ${w.id} exited (${signal ?? code})`);
        this.stopped(meaning.exitCode);
        return;
      case 'last-listener':
        this.log.fatal({ workerId: w.id, code, signal, fd: inherited!.main.fd }, `worker ${w.id} died and was the last one serving the ${describeInherited(inherited!.main)}; exiting for a restart`);
        this.exitNow(1);
        return;
      case 'retired':
        if (meaning.clean) this.log.info(fields, `worker ${w.id} retired after its drain`);
        else this.log.warn(fields, `worker ${w.id} retired with ${signal ?? `exit code ${code}`}: its drain did not end cleanly`);
        return;
      case 'crashed':
        this.log.warn(fields, `worker ${w.id} died (${signal ? `signal ${signal}` : `exit code ${code}`}); replacing it`);
        // Exit code 0 is a clean drain: a stop signal of its own, perhaps the group's Ctrl+C
        // that this process has not handled yet (see stopSignal).
        if (code === 0) this.state.drainedAhead.add(w);
        this.replaceLater(w, worker.lived);
        return;
      case 'failed-start': // the reload that forked it reports the failure
      case 'ignored':
        return;
    }
  }

  /** SIGINT or SIGTERM: every worker drains, then the primary exits. */
  stopSignal(signal: NodeJS.Signals): void {
    const { phase } = this.state;
    if (phase.kind === 'exiting') return;
    const workers = this.o.pool.list('alive');
    // Ctrl+C signals the whole group: an idle worker may have drained on its own SIGINT and
    // exited before this process handles its own. It was serving when the signal came.
    const serving = workers.length + this.state.drainedAhead.size;
    const { drainTimeoutMs, preDrainDelayMs } = this.o.pool.current.config;
    const { reloading } = this.reloads;
    this.log.info(
      { signal, workers: serving, drainTimeoutMs, preDrainDelayMs, reloading },
      stopAnnouncement(signal, countOf(serving, 'worker'), { drainTimeoutMs, preDrainDelayMs }, reloading),
    );
    // A fault's drain is under way already; a second signal stops at once, as the line says.
    if (phase.kind === 'running') this.drainAll('signal', workers);
  }

  /** A second SIGINT or SIGTERM: every worker cuts its connections and exits now. */
  secondStopSignal(signal: NodeJS.Signals): void {
    const { phase } = this.state;
    if (phase.kind !== 'stopping') return;
    this.log.warn({ signal }, `second ${signal}: stopping now`);
    phase.forced = true;
    // Each worker cuts its connections itself, so the access log says what was cut and
    // is flushed before it exits (a SIGKILL would lose those lines); the primary exits when
    // the last one is gone. A worker that cannot even do that is killed.
    for (const w of this.o.pool.list('alive')) this.o.pool.send(w, { cmd: 'force' });
    this.o.schedule(FORCE_GRACE_MS, () => this.exitNow(EXIT_FORCED), true);
  }

  /** SIGHUP: a rolling reload. */
  reloadSignal(): void {
    this.reloads.requested();
  }

  /**
   * SIGUSR1 (logrotate's postrotate, like nginx -s reopen): reopen our files and tell every
   * worker. Handled in every process also because Node's default for SIGUSR1 starts the inspector.
   */
  reopenSignal(): void {
    reopenLogs(this.o.loggers, 'SIGUSR1');
    for (const w of this.o.pool.list('alive')) this.o.pool.send(w, { cmd: 'reopen' });
  }

  /**
   * An uncaught exception or unhandled rejection in the primary: its state may be wrong from
   * here on, so it stops as on SIGTERM and exits 1. One while stopping ends it at once: the
   * drain itself may be what fails.
   */
  fault(fault: unknown, origin: FaultOrigin): void {
    const { fields, what } = describeFault(fault, origin, 'in the primary');
    if (this.state.phase.kind !== 'running') {
      this.log.error(fields, `${what}; exiting now (while stopping)`);
      this.exitNow(1);
      return;
    }
    const workers = this.o.pool.list('alive');
    this.log.error(fields, `${what}; draining ${countOf(workers.length, 'worker')}, then exiting with code 1`);
    this.drainAll('fault', workers);
  }

  /** A problem no worker can get past (a port that cannot be bound): one line, exit 1 at once. */
  stopFatally(message: string, what: string): void {
    if (this.state.phase.kind === 'exiting') return;
    this.o.stderr(`fleetserve: ${message}\n`);
    // On a terminal the stderr line says it all; JSON logs get the record for collectors.
    if (!this.o.loggers.pretty) this.log.fatal({ reason: message }, what);
    this.exitNow(1);
  }

  private drainAll(cause: 'signal' | 'fault', workers: Worker[]): void {
    const { pool } = this.o;
    const phase: Phase = { kind: 'stopping', cause, forced: false, exitCode: cause === 'fault' ? 1 : 0 };
    this.state.phase = phase;
    if (workers.length === 0) {
      this.o.exit(phase.exitCode);
      return;
    }
    // Old and new workers alike; the ones a reload retires are draining already. A worker
    // still starting may not listen for messages yet (one sent now could be lost): it is
    // asked when it listens, or it exits on its own.
    for (const w of workers) if (pool.hasListened(w)) pool.send(w, { cmd: 'drain' });
    // Each worker runs its own Drainer with the drain deadline and cuts its connections
    // itself; this is only the backstop for a worker that cannot even do that (stuck).
    const { preDrainDelayMs, drainTimeoutMs } = pool.current.config;
    this.o.schedule(
      preDrainDelayMs + drainTimeoutMs + BACKSTOP_SLACK_MS,
      () => {
        this.log.error({ left: pool.list('forked').length }, 'workers did not exit after the drain deadline; killing them');
        this.exitNow(1);
      },
      false,
    );
  }

  /** A worker exited during a stop: after the last one, so does the primary. */
  private stopped(exitCode: number): void {
    (this.state.phase as Extract<Phase, { kind: 'stopping' }>).exitCode = exitCode;
    if (this.o.pool.list('forked').length > 0) return;
    this.log.info({ code: exitCode }, exitCode === 0 ? 'all workers drained; exiting' : 'workers stopped; exiting with errors');
    this.o.exit(exitCode);
  }

  /** A crashed worker is replaced after the back-off its short life calls for. */
  private replaceLater(w: Worker, lived: number): void {
    const { pool } = this.o;
    this.o.counters.workerRestarts++;
    this.o.schedule(
      pool.respawnDelayAfter(lived),
      () => {
        this.state.drainedAhead.delete(w);
        // A reload may have filled the gap meanwhile (or changed the count): never overshoot.
        // A reload's new worker still starting counts, as it is meant to serve.
        const inService = pool.list('serving').length + pool.list('starting').length;
        if (!this.stopping && inService < pool.current.config.workers) pool.fork(pool.current);
      },
      true,
    );
  }

  /** The workers are killed and the process ends now. */
  private exitNow(code: number): void {
    this.state.phase = { kind: 'exiting' };
    this.o.pool.killAll();
    this.o.exit(code);
  }

  /** The one "listening" line, once every worker of the start listens. */
  private announce(port: number): void {
    const { config, inherited } = this.o;
    if (inherited === null) {
      const { fields, msg } = listeningRecord(config.host, port, config.workers, this.o.networkInterfaces(), this.o.pool.current.addresses, schemeOf(config));
      this.log.info({ ...fields, scheduling: config.scheduling, root: config.root }, msg);
      return;
    }
    const { main, httpPort } = inherited;
    const http = httpPort && { httpFd: httpPort.fd, httpFdName: httpPort.name, httpPort: this.state.httpPortBound };
    this.log.info(
      { fd: main.fd, fdName: main.name, port, ...http, workers: config.workers, scheduling: 'none', root: config.root },
      `listening on port ${port} from the ${describeInherited(main)}${httpPortFrom(httpPort, this.state.httpPortBound)} with ${countOf(config.workers, 'worker')} (${ignoredSettings(httpPort)} ignored)`,
    );
  }

  /**
   * Which listener a worker's 'listening' is: on inherited sockets node:cluster says the fd
   * (the ports are the sockets' own, whatever the configuration says), else the port tells.
   */
  private isMainListener(address: { port: number; fd?: number }): boolean {
    const { inherited, config } = this.o;
    if (inherited !== null && address.fd !== undefined) return address.fd === inherited.main.fd;
    return address.port !== config.httpPort;
  }
}

/**
 * node:cluster's events and the process's signals and faults, as the primary's method calls.
 * `clusterEvents` is node:cluster and `processEvents` is `process`, but for tests.
 */
export function listenTo(primary: Primary, clusterEvents: Pick<NodeJS.EventEmitter, 'on'>, processEvents: Pick<NodeJS.EventEmitter, 'on' | 'off'>): void {
  clusterEvents.on('listening', (w: Worker, address: { port: number }) => primary.workerListening(w, address));
  clusterEvents.on('message', (w: Worker, m: ToPrimary) => primary.workerMessage(w, m));
  clusterEvents.on('exit', (w: Worker, code: number | null, signal: string | null) => primary.workerExited(w, code, signal));
  processEvents.on('SIGHUP', () => primary.reloadSignal());
  processEvents.on('SIGUSR1', () => primary.reopenSignal());
  onStopSignals(
    (signal) => primary.stopSignal(signal),
    (signal) => primary.secondStopSignal(signal),
    processEvents,
  );
  onFaults((fault, origin) => primary.fault(fault, origin), processEvents);
}

export function runPrimary(config: Config, loggers: Loggers, reloadConfig: () => Config, inherited: InheritedSockets | null = null): void {
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
  // HTTPS: the primary makes the session-ticket keys, hands them to every worker it forks and
  // sends every rotation to the workers alive, so a session resumes on any worker. Made with
  // plain HTTP too: a reload may turn TLS on, and its new workers must share keys as well.
  const rotation = startTicketKeyRotation(TICKET_KEY_ROTATION_MS, (keys) => broadcastTicketKeys(pool, keys));
  // ACME: the primary owns it; the pending answers go to every worker forked.
  let acme: PrimaryAcme | null = null;
  const pool = new WorkerPool({ config, inherited, counters, log, ticketKeys: () => rotation.current(), acmeAnswers: () => acme?.answers.all() ?? null });
  if (acmeEnabled(config)) {
    const owner = new PrimaryAcme(pool);
    acme = owner;
    // The first order waits for a worker to listen: the CA's check must find httpPort open.
    let started = false;
    cluster.on('listening', (w: Worker) => {
      owner.workerListening(w);
      if (!started) owner.start(config, log, counters);
      started = true;
    });
  }
  const reloads = (stopping: () => boolean) => new RollingReload({ pool, stopping, reloadConfig, log, counters, inherited });
  const primary = new Primary({ config, loggers, pool, reloads, counters, inherited });
  listenTo(primary, cluster, process);
  // The host is resolved once, here, and every worker listens on what it resolved to.
  const start = () => {
    if (inherited) return primary.start();
    resolveListenAddresses(config.host, config.port).then(
      (addresses) => {
        pool.current.addresses = addresses;
        primary.start();
      },
      (err: Error) => primary.stopFatally(err.message, 'cannot listen'),
    );
  };
  if (config.metricsPort === 0) {
    start();
    return;
  }
  // The metrics port is bound before any worker starts: if it cannot be, nothing starts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when metrics are on
  const { PrimaryMetrics, startMetricsServer } = require('../metrics/metrics-server') as typeof MetricsServer;
  const metrics = new PrimaryMetrics(counters, log, () => pool.list('alive').length);
  startMetricsServer(config.metricsHost, config.metricsPort, metrics.render, log, start, (message) => primary.stopFatally(message, 'cannot listen'));
}

function broadcastTicketKeys(pool: WorkerPool, keys: Buffer): void {
  for (const w of pool.list('alive')) pool.send(w, { cmd: 'ticket-keys', keys: encodeTicketKeys(keys) });
}
