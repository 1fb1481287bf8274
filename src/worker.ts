/**
 * One serving process: a node:net server whose connections answer from the static handler.
 * Runs as a cluster worker (drain on a signal or on the primary's request) or, with
 * workers = 0, alone.
 */
import net from 'node:net';
import { describeInherited, type InheritedSocket } from './activation';
import type { Config } from './config';
import { describeListenError } from './errors';
import { Connection } from './http/connection';
import type { Loggers } from './logger';
import { Drainer } from './shutdown';
import { StaticHandler } from './static';

/** Messages between primary and workers over the cluster IPC channel. */
export type ToWorker = { cmd: 'drain' } | { cmd: 'force' };
export type ToPrimary = { type: 'listen-error'; message: string };

/**
 * `inherited` is the socket-activated listening socket to serve instead of binding
 * host:port. In a cluster worker, listen({ fd }) goes through the primary like any cluster
 * listen: the primary opens its own fd 3 and shares it with the workers (scheduling "none",
 * which the primary always uses for it), so every worker accepts on the same socket. Checked
 * on Node 20, 22 and 24.
 */
export function runWorker(config: Config, loggers: Loggers, mode: 'cluster' | 'single', inherited: InheritedSocket | null = null): void {
  const { log, access } = loggers;
  const handler = new StaticHandler(config, log);
  const connections = new Set<Connection>();
  const connOptions = {
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    sendTimeoutMs: config.sendTimeoutMs,
    handle: (req: Parameters<StaticHandler['handle']>[0]) => handler.handle(req),
    onAccess: access,
    onError: (err: unknown, what: string) => log.warn({ err }, what),
  };

  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    const conn = new Connection(socket, connOptions, (c) => {
      connections.delete(c);
      drainer.check();
    });
    connections.add(conn);
    // With scheduling "rr" the primary may hand over a connection it accepted just before
    // this worker stopped accepting: answer its request with Connection: close, never reset it.
    if (drainer.draining) conn.drain();
  });

  const exit = (code: number) => {
    loggers.flush();
    process.exit(code);
  };
  const drainer = new Drainer({ server, connections, timeoutMs: config.drainTimeoutMs, log, exit });

  let listening = false;
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (listening) {
      // After the bind, errors come from accept() (EMFILE, ENFILE under load): that
      // connection is lost, the server is not. Never turn them into a shutdown.
      log.error({ err }, `accept failed: ${err.code ?? err.message}`);
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

  const target = inherited ? { fd: inherited.fd, backlog: 4096 } : { host: config.host, port: config.port, backlog: 4096 };
  server.listen(target, () => {
    listening = true;
    if (mode === 'single' && inherited) {
      const addr = server.address() as net.AddressInfo;
      log.info(
        { url: urlOf(addr.address, addr.port), fd: inherited.fd, fdName: inherited.name, address: addr.address, port: addr.port, workers: 0 },
        `listening on ${urlOf(addr.address, addr.port)} from the ${describeInherited(inherited)} (single process; host and port settings ignored)`,
      );
      if (inherited.ignoredFds.length) log.warn({ ignoredFds: inherited.ignoredFds }, `serving fd ${inherited.fd} only; ignoring inherited fds ${inherited.ignoredFds.join(', ')}`);
    } else if (mode === 'single') {
      const addr = server.address() as net.AddressInfo;
      log.info({ url: urlOf(config.host, addr.port), host: config.host, port: addr.port, workers: 0 }, `listening on ${urlOf(config.host, addr.port)} (single process)`);
    }
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) drainer.begin(signal);
    else drainer.force(`second ${signal}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (mode === 'cluster') {
    process.on('message', (m: ToWorker) => {
      if (m?.cmd === 'drain') drainer.begin('primary');
      else if (m?.cmd === 'force') drainer.force('primary');
    });
    // If the primary is killed outright, Node's cluster ends this worker at once when the
    // IPC channel closes (internal/cluster/child.js): a killed primary is a forced stop.
  }
}

export function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}
