/**
 * One serving process: a node:net server whose connections answer from the static handler.
 * Runs as a cluster worker (drain on a signal or on the primary's request) or, with
 * workers = 0, alone.
 */
import net from 'node:net';
import { AcceptGate } from './accept-gate';
import type { Config } from './config';
import { measureCapacity } from './descriptors';
import { describeListenError, isOutOfDescriptors } from './errors';
import { Connection } from './http/connection';
import type { Loggers } from './logger';
import { Drainer } from './shutdown';
import { StaticHandler } from './static';

/** Messages between primary and workers over the cluster IPC channel. */
export type ToWorker = { cmd: 'drain' } | { cmd: 'force' } | { cmd: 'accept-pause'; granted: boolean };
export type ToPrimary = { type: 'listen-error'; message: string } | { type: 'accept-pause' };

export function runWorker(config: Config, loggers: Loggers, mode: 'cluster' | 'single'): void {
  const { log, access } = loggers;
  const handler = new StaticHandler(config, log, () => gate.outOfDescriptors());
  const connections = new Set<Connection>();
  const connOptions = {
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    sendTimeoutMs: config.sendTimeoutMs,
    handle: (req: Parameters<StaticHandler['handle']>[0]) => handler.handle(req),
    onAccess: access,
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
    if (drainer.draining) {
      socket.destroy();
      return;
    }
    if (!gate.admit(socket)) return;
    connections.add(
      new Connection(socket, connOptions, (c) => {
        connections.delete(c);
        drainer.check();
      }),
    );
    gate.afterAdmit();
  });
  // Listening again after a pause uses the very same options: cluster finds the shared handle
  // by them (with port 0 too), so no new socket is bound.
  const listenOptions: net.ListenOptions = { host: config.host, port: config.port, backlog: 4096 };
  const gate = new AcceptGate({
    capacity: capacity.connections,
    open: () => connections.size,
    close: () => server.close(),
    listen: () => server.listen(listenOptions),
    askPause: mode === 'cluster' && process.send ? () => process.send!({ type: 'accept-pause' } satisfies ToPrimary) : null,
    draining: () => drainer.draining,
    log,
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
      if (isOutOfDescriptors(err)) gate.acceptFailed();
      else log.error({ err }, `accept failed: ${err.code ?? err.message}`);
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

  server.listen(listenOptions, () => {
    listening = true;
    if (mode === 'single') {
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
      else if (m?.cmd === 'accept-pause') gate.answer(m.granted);
    });
    // If the primary is killed outright, Node's cluster ends this worker at once when the
    // IPC channel closes (internal/cluster/child.js): a killed primary is a forced stop.
  }
}

export function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}
