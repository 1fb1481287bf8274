/**
 * One serving process: a node:net server whose connections answer from the static handler.
 * Runs as a cluster worker (drain on a signal or on the primary's request) or, with
 * workers = 0, alone.
 */
import net from 'node:net';
import { ConfigError, type Config } from './config';
import { describeListenError } from './errors';
import { healthReply, isHealthTarget } from './health';
import { Connection, type ConnectionOptions } from './http/connection';
import type { AccessRecord, Request } from './http/types';
import type { Loggers } from './logger';
import { applicable, changedKeys, describeChanges, SINGLE_RESTART_KEYS } from './reload';
import { Drainer } from './shutdown';
import { StaticHandler } from './static';

/**
 * Messages between primary and workers over the cluster IPC channel. `drain` is a stop
 * (the pre-drain first, as on SIGTERM); `retire` is a reload replacing this worker: drain
 * at once, the rest of the cluster keeps serving.
 */
export type ToWorker = { cmd: 'drain' } | { cmd: 'retire' } | { cmd: 'force' };
export type ToPrimary = { type: 'listen-error'; message: string };

export function runWorker(config: Config, loggers: Loggers, mode: 'cluster' | 'single', reloadConfig?: () => Config): void {
  const { log } = loggers;
  let handler = new StaticHandler(config, log);
  let healthPath = config.healthPath;
  const connections = new Set<Connection>();
  // Health probes come every second or so: they would drown the access log.
  const logAccess = loggers.access;
  const access = logAccess && ((r: AccessRecord) => (isHealthTarget(r.path, healthPath) ? undefined : logAccess(r)));
  const connOptions: ConnectionOptions = {
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    sendTimeoutMs: config.sendTimeoutMs,
    // The health path is matched before any file lookup: no file can shadow it.
    handle: (req: Request) => (req.path === healthPath ? healthReply(req, drainer.stopping) : handler.handle(req)),
    onAccess: access,
    onError: (err: unknown, what: string) => log.warn({ err }, what),
  };

  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    const conn = new Connection(socket, connOptions, (c) => {
      connections.delete(c);
      drainer.check();
    });
    connections.add(conn);
    // Accepted after the drain began (the accept was already under way): it is answered
    // with Connection: close like every other, never dropped unanswered.
    if (drainer.draining) conn.drain();
  });

  const exit = (code: number) => {
    loggers.flush();
    process.exit(code);
  };
  const drainOptions = { server, connections, timeoutMs: config.drainTimeoutMs, preDrainMs: config.preDrainDelayMs, log, exit };
  const drainer = new Drainer(drainOptions);

  let listening = false;
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (listening) {
      // After the bind, errors come from accept() (EMFILE, ENFILE under load): that
      // connection is lost, the server is not. Never turn them into a shutdown.
      log.error({ err }, `accept failed: ${err.code ?? err.message}`);
      return;
    }
    const message = describeListenError(err, config.host, config.port);
    if (mode === 'cluster' && process.send) {
      // The primary prints the one line and stops everything; a respawn would only fail again.
      process.send({ type: 'listen-error', message } satisfies ToPrimary, () => exit(1));
    } else {
      process.stderr.write(`fleetserve: ${message}\n`);
      exit(1);
    }
  });

  server.listen({ host: config.host, port: config.port, backlog: 4096 }, () => {
    listening = true;
    if (mode === 'single') {
      const addr = server.address() as net.AddressInfo;
      log.info({ url: urlOf(config.host, addr.port), host: config.host, port: addr.port, workers: 0 }, `listening on ${urlOf(config.host, addr.port)} (single process)`);
    }
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) drainer.stop(signal);
    else drainer.force(`second ${signal}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (mode === 'cluster') {
    // SIGHUP is the primary's (a rolling reload). A terminal hangup sends it to the whole
    // group, and Node's default would end this worker: ignore it here.
    process.on('SIGHUP', () => log.debug('SIGHUP ignored by a worker: the primary reloads'));
    process.on('message', (m: ToWorker) => {
      if (m?.cmd === 'drain') drainer.stop('primary');
      else if (m?.cmd === 'retire') drainer.begin('replaced by a reload');
      else if (m?.cmd === 'force') drainer.force('primary');
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
    try {
      if (!reloadConfig) throw new ConfigError('no configuration source to read again');
      next = reloadConfig();
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : String(err);
      log.error({ reason: message }, `reload failed: ${message}; the configuration in force stays`);
      return;
    }
    const { config: applied, needRestart } = applicable(config, next, SINGLE_RESTART_KEYS);
    const changed = changedKeys(config, applied);
    config = applied;
    handler = new StaticHandler(config, log);
    healthPath = config.healthPath;
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

export function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}
