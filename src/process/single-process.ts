/**
 * The single process's role (workers = 0): no primary speaks for it, so it prints its own
 * failed start, announces its addresses and a stop, serves the metrics port itself, and,
 * unable to fork a replacement, applies SIGHUP's new configuration in place (the certificate
 * files read again included).
 */
import os from 'node:os';
import { describeInherited, httpPortFrom, ignoredSettings } from './activation';
import type { Config } from '../config/config';
import { listeningRecord, schemeOf } from './listen-urls';
import { reopenLogs, type Loggers } from '../logs/logger';
import type * as MetricsServer from '../metrics/metrics-server';
import type { ServingMetrics } from '../metrics/serving-metrics';
import { reloadInPlace } from './serving';
import { stopAnnouncement, type StopTiming } from './shutdown';
import { processHost, WorkerRole, type Listening, type RoleHost, type StartFailure, type WorkerParts } from './worker-role';

export class SingleProcess extends WorkerRole {
  readonly metricsLabel = 'single';
  /** Alone, it may never stop listening: the socket would close with its only handle. */
  readonly askPause = null;
  /** Alone, it owns ACME: its orders are counted here, as the primary's are in PrimaryCounters. */
  readonly acmeRenewals = { success: 0, failure: 0 };

  /** `readConfig` reads the configuration sources again (SIGHUP). */
  constructor(
    loggers: Loggers,
    private readonly readConfig: () => Config,
    host: RoleHost = processHost,
  ) {
    super(loggers, host);
  }

  /** A configuration gone bad is a configuration error (exit 2); an address that cannot be served exits 1. */
  failStart(failure: StartFailure): void {
    this.host.writeError(`fleetserve: ${failure.message}\n`);
    this.exit(failure.kind === 'config' ? 2 : 1);
  }

  /** A metrics port it cannot bind stops the start before the public port is opened. */
  startMetrics(metrics: ServingMetrics, config: Config, listen: () => void): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when metrics are on
    const { acmeRenewalsRegistry, renderAggregate, startMetricsServer } = require('../metrics/metrics-server') as typeof MetricsServer;
    const own = acmeRenewalsRegistry(this.acmeRenewals);
    const render = async () => renderAggregate([...(await metrics.snapshot()), await own.getMetricsAsJSON()]);
    startMetricsServer(config.metricsHost, config.metricsPort, render, this.loggers.log, listen, (message) => this.failStart({ kind: 'listen', message }));
  }

  announce(l: Listening): void {
    const { log } = this.loggers;
    const { config, port, inherited } = l;
    if (inherited === null) {
      const { fields, msg } = listeningRecord(config.host, port, 0, os.networkInterfaces(), l.addresses, schemeOf(config));
      log.info({ ...fields, root: config.root }, msg);
      return;
    }
    const { main, httpPort } = inherited;
    const http = httpPort && { httpFd: httpPort.fd, httpFdName: httpPort.name, httpPort: l.httpPortBound };
    log.info(
      { fd: main.fd, fdName: main.name, address: l.inheritedAddress, port, ...http, workers: 0, root: config.root },
      `listening on ${l.inheritedAddress}:${port} from the ${describeInherited(main)}${httpPortFrom(httpPort, l.httpPortBound)} (single process; ${ignoredSettings(httpPort)} ignored)`,
    );
  }

  announceStop(signal: NodeJS.Signals, timing: StopTiming): void {
    this.loggers.log.info({ signal, ...timing }, stopAnnouncement(signal, '', timing));
  }

  install(parts: WorkerParts): void {
    const { log } = this.loggers;
    this.host.on('SIGHUP', () => {
      if (parts.drainer.stopping) {
        log.warn('SIGHUP while stopping: ignored');
        return;
      }
      // The pairs are read again with the configuration: one that does not serve failed the reload above.
      const next = reloadInPlace(parts.inForce, this.readConfig, parts.serving, log);
      if (next?.certificates && parts.replaceCertificates) parts.replaceCertificates(next.certificates);
    });
    // logrotate's postrotate; handled also because Node's default for SIGUSR1 starts the inspector.
    this.host.on('SIGUSR1', () => reopenLogs(this.loggers, 'SIGUSR1'));
  }
}
