/**
 * The cluster worker's role: the primary speaks for the whole cluster. It prints a failed
 * start (a respawn would only fail again), announces the addresses once every worker listens,
 * announces a stop, serves the metrics, and reloads on SIGHUP; a worker answers its messages.
 *
 * If the primary is killed outright, Node's cluster ends the worker at once when the IPC
 * channel closes (internal/cluster/child.js): a killed primary is a forced stop.
 */
import type { Config } from '../config/config';
import { reopenLogs, type Loggers } from '../logs/logger';
import type { ServingMetrics } from '../metrics/serving-metrics';
import type * as ServingMetricsModule from '../metrics/serving-metrics';
import type { ToPrimary } from './ipc';
import { onPrimaryMessages } from './worker-ipc';
import { processHost, WorkerRole, type RoleHost, type StartFailure, type WorkerParts } from './worker-role';

export class ClusterWorker extends WorkerRole {
  readonly metricsLabel: string;
  readonly askPause = () => this.host.send({ type: 'accept-pause' } satisfies ToPrimary, () => {});

  constructor(workerId: number, loggers: Loggers, host: RoleHost = processHost) {
    super(loggers, host);
    this.metricsLabel = String(workerId);
  }

  failStart(failure: StartFailure): void {
    const type = failure.kind === 'listen' ? 'listen-error' : 'start-error';
    this.host.send({ type, message: failure.message } satisfies ToPrimary, () => this.exit(1));
  }

  startMetrics(metrics: ServingMetrics, _config: Config, listen: () => void): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when metrics are on
    const { sendFinalCounts } = require('../metrics/serving-metrics') as typeof ServingMetricsModule;
    metrics.answerPrimary();
    this.beforeExit = () => sendFinalCounts(metrics);
    listen();
  }

  /** The primary announces when every worker listens (it hears each one's 'listening'). */
  announce(): void {}

  /** Ctrl+C reaches every process of the group: the primary says it once for all. */
  announceStop(): void {}

  install(parts: WorkerParts): void {
    const { log } = this.loggers;
    const { drainer, gate } = parts;
    // SIGHUP is the primary's (a rolling reload). A terminal hangup sends it to the whole
    // group, and Node's default would end this worker: ignore it here.
    this.host.on('SIGHUP', () => log.debug('SIGHUP ignored by a worker: the primary reloads'));
    // It must be handled in every process anyway, or Node would start its inspector on it. A
    // group signal reaches a worker twice (the signal, and the primary's message): reopening
    // twice is harmless.
    this.host.on('SIGUSR1', () => reopenLogs(this.loggers, null));
    onPrimaryMessages(this.host, {
      stop: () => drainer.stop('primary'),
      retire: () => drainer.begin('replaced by a reload'),
      force: () => drainer.force("the primary's second stop signal"),
      reopenLogs: () => reopenLogs(this.loggers, null),
      acceptPause: (granted) => gate.answer(granted),
      ticketKeys: (keys) => parts.ticketKeys?.(keys),
      acmeChallenge: (token, answer) => (answer === null ? parts.acmeAnswers.remove(token) : parts.acmeAnswers.set(token, answer)),
      acmeAlpn: (serverName, pair) => parts.acmeAlpn?.(serverName, pair),
      acmeCertificate: () => parts.reloadAcmeCertificate?.(),
    });
  }
}
