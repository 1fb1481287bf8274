/**
 * The primary: forks the workers, replaces one that dies, and runs the drain for all of them.
 * It serves nothing itself. Ctrl+C reaches every process of the group, SIGTERM from systemd
 * or Docker only this one; either way the primary asks every worker to drain, waits, and
 * exits 0 only when every worker drained cleanly.
 */
import cluster, { type Worker } from 'node:cluster';
import { describeInherited, type InheritedSocket } from './activation';
import type { Config } from './config';
import type { Loggers } from './logger';
import { EXIT_FORCED } from './shutdown';
import { urlOf, type ToPrimary, type ToWorker } from './worker';

export const WORKER_CONFIG_ENV = 'FLEETSERVE_WORKER_CONFIG';
/** The socket-activated socket the workers serve (JSON InheritedSocket), when there is one. */
export const WORKER_INHERITED_ENV = 'FLEETSERVE_WORKER_INHERITED';

/** Respawn delays grow while workers keep dying young, so a crash loop cannot spin the CPU. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 10_000;
const STABLE_AFTER_MS = 30_000;

export function runPrimary(config: Config, loggers: Loggers, inherited: InheritedSocket | null = null): void {
  const { log } = loggers;
  // On an inherited socket the kernel always balances: Node's round-robin primary closes the
  // connections it has accepted but not yet handed out when its last worker stops listening,
  // and a restart on a socket that outlives the process must not reset anyone.
  const scheduling = inherited ? 'none' : config.scheduling;
  if (inherited && config.scheduling === 'rr') log.warn({ scheduling }, 'scheduling "rr" is not used on an inherited socket: the kernel balances connections (scheduling "none")');
  cluster.schedulingPolicy = scheduling === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  cluster.setupPrimary({ args: [] });
  let env: Record<string, string> = { [WORKER_CONFIG_ENV]: JSON.stringify(config) };
  if (inherited) env[WORKER_INHERITED_ENV] = JSON.stringify(inherited);
  /** Workers that have joined the listening socket and not exited yet. */
  const serving = new Set<Worker>();

  const started = new Map<Worker, number>();
  let stopping = false;
  let fatal = false;
  let announced = false;
  let listening = 0;
  let respawnDelay = RESPAWN_MIN_MS;
  let exitCode = 0;

  const exit = (code: number) => {
    loggers.flush();
    process.exit(code);
  };

  const fork = () => {
    const w = cluster.fork(env);
    started.set(w, Date.now());
    w.on('message', (m: ToPrimary) => {
      if (m?.type !== 'listen-error' || fatal) return;
      fatal = true;
      stopping = true;
      process.stderr.write(`fleetserve: ${m.message}\n`);
      log.fatal({ reason: m.message }, 'cannot listen');
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
      exit(1);
    });
  };

  cluster.on('listening', (w, address) => {
    listening++;
    serving.add(w);
    if (!announced && listening >= config.workers && inherited) {
      announced = true;
      log.info(
        { fd: inherited.fd, fdName: inherited.name, port: address.port, workers: config.workers, scheduling },
        `listening on port ${address.port} from the ${describeInherited(inherited)} with ${config.workers} workers (host and port settings ignored)`,
      );
      if (inherited.ignoredFds.length) log.warn({ ignoredFds: inherited.ignoredFds }, `serving fd ${inherited.fd} only; ignoring inherited fds ${inherited.ignoredFds.join(', ')}`);
    } else if (!announced && listening >= config.workers) {
      announced = true;
      if (config.port === 0) {
        // Replacements must join the port that was announced, not pick a new free one
        // (cluster closes the shared socket when its last worker dies).
        env = { ...env, [WORKER_CONFIG_ENV]: JSON.stringify({ ...config, port: address.port }) };
      }
      const url = urlOf(config.host, address.port);
      log.info({ url, host: config.host, port: address.port, workers: config.workers, scheduling: config.scheduling }, `listening on ${url} with ${config.workers} workers`);
    }
  });

  cluster.on('exit', (w, code, signal) => {
    const bornAt = started.get(w) ?? Date.now();
    started.delete(w);
    if (stopping) {
      serving.delete(w);
      if (code !== 0) exitCode = code === EXIT_FORCED ? EXIT_FORCED : 1;
      log.info({ workerId: w.id, workerPid: w.process.pid, code, signal }, `worker ${w.id} exited (${signal ?? code})`);
      if (started.size === 0) {
        log.info({ code: exitCode }, exitCode === 0 ? 'all workers drained; exiting' : 'workers stopped; exiting with errors');
        exit(exitCode);
      }
      return;
    }
    if (inherited && serving.delete(w) && serving.size === 0) {
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
    log.warn({ workerId: w.id, workerPid: w.process.pid, code, signal }, `worker ${w.id} died (${signal ? `signal ${signal}` : `exit code ${code}`}); replacing it`);
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
      log.info({ signal, workers: workers.length }, `${signal}: draining ${workers.length} workers`);
      if (workers.length === 0) exit(0);
      for (const w of workers) send(w, { cmd: 'drain' });
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

  for (let i = 0; i < config.workers; i++) fork();
}

function send(w: Worker, m: ToWorker): void {
  try {
    w.send(m);
  } catch {
    // Already gone: its exit event will be counted.
  }
}
