/**
 * One serving process: a node:net server whose connections answer from the static handler.
 * Runs as a cluster worker (drain on a signal or on the primary's request) or, with
 * workers = 0, alone.
 */
import net from 'node:net';
import os from 'node:os';
import { AcceptGate } from './accept-gate';
import { describeIgnoredFds, describeInherited, type InheritedSocket } from './activation';
import { BehindProxy, type AcceptedSocket } from '../http/behind-proxy';
import type { Config } from '../config/config';
import { measureCapacity } from './descriptors';
import { ConfigError, describeListenError, isOutOfDescriptors } from '../errors';
import { healthReply, isHealthTarget } from './health';
import { Connection, type ConnectionOptions, type ConnectionOrigin } from '../http/connection';
import type { AccessRecord, Request } from '../http/types';
import { listeningRecord } from './listen-urls';
import { reopenLogs, type Loggers } from '../logs/logger';
import { RequestCounters } from '../metrics/counters';
import type * as MetricsServer from '../metrics/metrics-server';
import type * as ServingMetrics from '../metrics/serving-metrics';
import { applicable, changedKeys, describeChanges, SINGLE_RESTART_KEYS, type ConfigChanges } from './reload';
import { Drainer, onStopSignals, stopAnnouncement, type Drainable } from './shutdown';
import { StaticHandler } from '../serve/static';
import type { ToPrimary, ToWorker } from './ipc';

/**
 * `workerId` is the cluster worker id (0 in single mode): the `worker` label of process
 * metrics. `reloadConfig` reads the configuration sources again (single mode's SIGHUP).
 *
 * `inherited` is the socket-activated listening socket to serve instead of binding
 * host:port. In a cluster worker, listen({ fd }) goes through the primary like any cluster
 * listen: the primary opens its own fd 3 and shares it with the workers (scheduling "none",
 * which the primary always uses for it), so every worker accepts on the same socket. Checked
 * on Node 20, 22 and 24.
 */
export function runWorker(
  config: Config,
  loggers: Loggers,
  mode: 'cluster' | 'single',
  workerId = 0,
  reloadConfig?: () => Config,
  inherited: InheritedSocket | null = null,
): void {
  const { log } = loggers;
  const onOutOfDescriptors = () => gate.outOfDescriptors();
  let handler: StaticHandler;
  try {
    handler = new StaticHandler(config, log, onOutOfDescriptors);
  } catch (err) {
    // An htpasswd file changed for the worse since the configuration was checked.
    if (!(err instanceof ConfigError)) throw err;
    if (mode === 'cluster' && process.send) process.send({ type: 'start-error', message: err.message } satisfies ToPrimary, () => process.exit(1));
    else {
      process.stderr.write(`fleetserve: ${err.message}\n`);
      loggers.flush();
      process.exit(2);
    }
    return;
  }
  /** Cache hits and misses of handlers a reload in place replaced: the counters never go down. */
  const retiredCache = { hits: 0, misses: 0 };
  let healthPath = config.healthPath;
  /** Open connections, and sockets whose PROXY header is still being read. */
  const connections = new Set<Drainable>();
  /** Behind a proxy (trustedProxies, proxyProtocol), who the client is; null when neither is on. */
  let behindProxy = BehindProxy.from(config, log);
  // Health probes come every second or so: they would drown the access log.
  const logAccess = loggers.access;
  const access = logAccess && ((r: AccessRecord) => (isHealthTarget(r.path, healthPath) ? undefined : logAccess(r)));
  // With metrics off nothing is counted and prom-client is never loaded.
  const counters = config.metricsPort !== 0 ? new RequestCounters() : null;
  const connOptions: ConnectionOptions = {
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    sendTimeoutMs: config.sendTimeoutMs,
    // The health path is matched before any file lookup: no file can shadow it.
    handle: (req: Request, remote: string) => (req.path === healthPath ? healthReply(req, drainer.stopping) : handler.handle(req, remote)),
    onAccess: access,
    counters,
    onError: (err: unknown, what: string) => log.warn({ err }, what),
  };

  const capacity = measureCapacity(config.maxConnections);
  if (capacity.connections < config.maxConnections) {
    log.warn(
      { maxConnections: config.maxConnections, capacity: capacity.connections, fdLimit: capacity.fdLimit, fdsOpen: capacity.fdsOpen },
      `maxConnections ${config.maxConnections} lowered to ${capacity.connections}: the file-descriptor limit is ${capacity.fdLimit} (2 per connection, ${capacity.fdsOpen} already open)`,
    );
  }

  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    if (counters !== null) counters.connectionsAccepted++;
    if (!gate.admit(socket)) return;
    if (behindProxy === null) openConnection(socket, null);
    else behindProxy.accept(socket, acceptedSocket(socket));
  });
  const onClosed = (c: Drainable) => {
    connections.delete(c);
    drainer.check();
  };
  function openConnection(socket: net.Socket, origin: ConnectionOrigin | null): void {
    const conn = new Connection(socket, connOptions, onClosed, origin);
    connections.add(conn);
    // Accepted after the drain began (the accept was already under way): it is answered
    // with Connection: close like every other, never dropped unanswered.
    if (drainer.draining) conn.drain();
    else gate.afterAdmit();
  }
  const acceptedSocket = (socket: net.Socket): AcceptedSocket => ({
    open: (origin) => openConnection(socket, origin),
    hold: (reader) => connections.add(reader),
    release: onClosed,
  });
  // Listening again after a pause uses the very same options: cluster finds the shared handle
  // by them (with port 0 too, and the inherited fd), so no new socket is bound.
  const listenOptions: net.ListenOptions | { fd: number; backlog: number } = inherited ? { fd: inherited.fd, backlog: 4096 } : { host: config.host, port: config.port, backlog: 4096 };
  const gate = new AcceptGate({
    capacity: capacity.connections,
    open: () => connections.size,
    close: () => server.close(),
    listen: () => server.listen(listenOptions),
    askPause: mode === 'cluster' && process.send ? () => process.send!({ type: 'accept-pause' } satisfies ToPrimary) : null,
    draining: () => drainer.draining,
    log,
  });

  /** Runs before exiting (at most about a second): a worker hands over its final counts. */
  let beforeExit: (() => Promise<void>) | null = null;
  const exit = (code: number) => {
    loggers.flush();
    if (beforeExit === null) process.exit(code);
    const done = () => process.exit(code);
    beforeExit().then(done, done);
  };
  const drainOptions = { server, connections, timeoutMs: config.drainTimeoutMs, preDrainMs: config.preDrainDelayMs, log, exit };
  const drainer = new Drainer(drainOptions);

  let listening = false;
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (listening) {
      // After the bind, errors come from accept() (EMFILE, ENFILE under load): that
      // connection is lost, the server is not. Never turn them into a shutdown.
      if (isOutOfDescriptors(err)) gate.acceptFailed();
      else log.error({ err }, `accept failed: ${err.code ?? err.message}`);
      return;
    }
    const message = inherited
      ? `cannot serve the ${describeInherited(inherited)}: ${err.code ?? err.message}`
      : describeListenError(err, config.host, config.port);
    if (mode === 'cluster' && process.send) {
      // The primary prints the one line and stops everything; a respawn would only fail again.
      process.send({ type: 'listen-error', message } satisfies ToPrimary, () => exit(1));
    } else {
      process.stderr.write(`fleetserve: ${message}\n`);
      exit(1);
    }
  });

  const listen = () =>
    server.listen(listenOptions, () => {
      listening = true;
      if (mode === 'single' && inherited) {
        const addr = server.address() as net.AddressInfo;
        log.info(
          { fd: inherited.fd, fdName: inherited.name, address: addr.address, port: addr.port, workers: 0, root: config.root },
          `listening on ${addr.address}:${addr.port} from the ${describeInherited(inherited)} (single process; host and port settings ignored)`,
        );
        if (inherited.ignoredFds.length) log.warn({ ignoredFds: inherited.ignoredFds }, describeIgnoredFds(inherited));
      } else if (mode === 'single') {
        const addr = server.address() as net.AddressInfo;
        const { fields, msg } = listeningRecord(config.host, addr.port, 0, os.networkInterfaces());
        log.info({ ...fields, root: config.root }, msg);
      }
    });

  if (counters === null) listen();
  else {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when metrics are on */
    const { ServingMetrics: Metrics, sendFinalCounts } = require('../metrics/serving-metrics') as typeof ServingMetrics;
    const metrics = new Metrics(
      {
        counters,
        openConnections: () => connections.size,
        cacheHits: () => retiredCache.hits + handler.cacheHits,
        cacheMisses: () => retiredCache.misses + handler.cacheMisses,
        cacheSize: () => handler.cacheSize,
      },
      mode === 'single' ? 'single' : String(workerId),
    );
    if (mode === 'cluster') {
      metrics.answerPrimary();
      beforeExit = () => sendFinalCounts(metrics);
      listen();
    } else {
      // Alone, this process serves the metrics itself; a metrics port it cannot bind stops
      // the start before the public port is opened.
      const { renderAggregate, startMetricsServer } = require('../metrics/metrics-server') as typeof MetricsServer;
      /* eslint-enable @typescript-eslint/no-require-imports */
      startMetricsServer(config.metricsHost, config.metricsPort, async () => renderAggregate(await metrics.snapshot()), log, listen, (message) => {
        process.stderr.write(`fleetserve: ${message}\n`);
        exit(1);
      });
    }
  }

  onStopSignals(
    (signal) => {
      // In a cluster the primary announces the stop (Ctrl+C reaches every process); alone, this one does.
      if (mode === 'single') {
        const timing = { drainTimeoutMs: drainOptions.timeoutMs, preDrainDelayMs: drainOptions.preDrainMs };
        log.info({ signal, ...timing }, stopAnnouncement(signal, '', timing));
      }
      drainer.stop(signal);
    },
    (signal) => drainer.force(`second ${signal}`),
  );
  // SIGUSR1 reopens the log files; it must be handled in every process anyway, or Node
  // would start its inspector on it. A group signal reaches a worker twice (the signal, and
  // the primary's message): reopening twice is harmless.
  process.on('SIGUSR1', () => reopenLogs(loggers, mode === 'single' ? 'SIGUSR1' : null));
  if (mode === 'cluster') {
    // SIGHUP is the primary's (a rolling reload). A terminal hangup sends it to the whole
    // group, and Node's default would end this worker: ignore it here.
    process.on('SIGHUP', () => log.debug('SIGHUP ignored by a worker: the primary reloads'));
    process.on('message', (m: ToWorker) => {
      if (m?.cmd === 'drain') drainer.stop('primary');
      else if (m?.cmd === 'retire') drainer.begin('replaced by a reload');
      else if (m?.cmd === 'force') drainer.force('the primary\'s second stop signal');
      else if (m?.cmd === 'reopen') reopenLogs(loggers, null);
      else if (m?.cmd === 'accept-pause') gate.answer(m.granted);
    });
    // If the primary is killed outright, Node's cluster ends this worker at once when the
    // IPC channel closes (internal/cluster/child.js): a killed primary is a forced stop.
  } else {
    process.on('SIGHUP', () => {
      if (drainer.stopping) {
        log.warn('SIGHUP while stopping: ignored');
        return;
      }
      reloadInPlace();
    });
  }

  /**
   * A single process cannot fork a replacement, so SIGHUP applies the new configuration in
   * place: a new file handler (fresh cache, new header rules, …), new timeouts for every
   * connection, the health path, the log level. Its socket, its loggers and its code stay.
   */
  function reloadInPlace(): void {
    log.info({ signal: 'SIGHUP' }, 'reload started: reading the configuration again');
    let next: Config;
    let applied: Config;
    let needRestart: ConfigChanges;
    let nextHandler: StaticHandler;
    try {
      if (!reloadConfig) throw new ConfigError('no configuration source to read again');
      next = reloadConfig();
      ({ config: applied, needRestart } = applicable(config, next, SINGLE_RESTART_KEYS));
      // A new handler reads the htpasswd files again, changed or not.
      nextHandler = new StaticHandler(applied, log, onOutOfDescriptors);
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : String(err);
      log.error({ reason: message }, `reload failed: ${message}; the configuration in force stays`);
      return;
    }
    const changed = changedKeys(config, applied);
    config = applied;
    retiredCache.hits += handler.cacheHits;
    retiredCache.misses += handler.cacheMisses;
    handler = nextHandler;
    healthPath = config.healthPath;
    behindProxy = BehindProxy.from(config, log); // for connections from now on
    connOptions.keepAliveTimeoutMs = config.keepAliveTimeoutMs;
    connOptions.headersTimeoutMs = config.headersTimeoutMs;
    connOptions.sendTimeoutMs = config.sendTimeoutMs;
    drainOptions.timeoutMs = config.drainTimeoutMs;
    drainOptions.preDrainMs = config.preDrainDelayMs;
    log.level = config.logLevel;
    const restart = Object.keys(needRestart).length > 0 ? `; needs a restart (not applied): ${describeChanges(needRestart)}` : '';
    const message = `reload finished in place: ${describeChanges(changed)}${restart}`;
    if (restart) log.warn({ changed, needRestart }, message);
    else log.info({ changed, needRestart }, message);
  }
}
