/**
 * A serving process is either a cluster worker (cluster-worker.ts) or, with workers = 0, the
 * single process (single-process.ts), as Node's own lib/internal/cluster splits child.js from
 * primary.js. What differs is only the role's: how a failed start is reported, who announces
 * the listening addresses and a stop, where metrics are served, what SIGHUP and SIGUSR1 do.
 * worker.ts builds the same parts for both and asks the role at each of these points.
 */
import type { AcceptGate } from './accept-gate';
import type { InheritedSockets } from './activation';
import type { Config } from '../config/config';
import type { Loggers } from '../logs/logger';
import type { ServingMetrics } from '../metrics/serving-metrics';
import type { CertificateSet } from '../tls/certificates';
import type { ChallengeAnswers } from '../acme/answers';
import type { AcmeChallengePair } from '../tls/alpn-challenge';
import type { InForce, ServingParts } from './serving';
import type { Drainer, StopTiming } from './shutdown';

/** The process around a role: `process`, but a fake in tests. */
export interface RoleHost {
  /** Signals, and a cluster worker's messages from the primary. */
  on(event: string, listener: (...args: never[]) => void): void;
  /** To the primary over the cluster IPC channel; `sent` once written (or failed). Cluster workers only. */
  send(message: unknown, sent: () => void): void;
  /** One line on stderr. */
  writeError(line: string): void;
  exit(code: number): void;
}

export const processHost: RoleHost = {
  on: (event, listener) => void process.on(event, listener as (...args: unknown[]) => void),
  send: (message, sent) => {
    if (process.send) process.send(message, undefined, undefined, () => sent());
    else sent();
  },
  writeError: (line) => void process.stderr.write(line),
  exit: (code) => process.exit(code),
};

/** What the start could not get past: a configuration that went bad since it was checked, or an address. */
export interface StartFailure {
  kind: 'config' | 'listen';
  message: string;
}

/** Every listener listens: what the announcement says. */
export interface Listening {
  config: Config;
  port: number;
  /** What config.host resolved to (listen-addresses.ts); empty on an inherited socket. */
  addresses: readonly string[];
  inherited: InheritedSockets | null;
  /** The address the inherited socket is bound to. */
  inheritedAddress: string;
  /** The port the httpPort listener is bound to (0: none). */
  httpPortBound: number;
}

/** The parts a role hands its signals and messages to. */
export interface WorkerParts {
  drainer: Drainer;
  gate: AcceptGate;
  inForce: InForce;
  serving: ServingParts;
  /** Applies session-ticket keys the primary rotated (base64); null with plain HTTP. */
  ticketKeys: ((keys: string) => void) | null;
  /** Serves new certificate pairs to the connections accepted from now on (a reload in place); null with plain HTTP. */
  replaceCertificates: ((set: CertificateSet) => void) | null;
  /** The HTTP-01 answers the plain-HTTP port gives (ACME). */
  acmeAnswers: ChallengeAnswers;
  /** Sets (or with null withdraws) a TLS-ALPN-01 challenge certificate; null with plain HTTP. */
  acmeAlpn: ((serverName: string, pair: AcmeChallengePair | null) => void) | null;
  /** Reads the certificate ACME stored and serves it to new connections; null without ACME. */
  reloadAcmeCertificate: (() => void) | null;
}

export abstract class WorkerRole {
  /** Runs before exiting (at most about a second): a cluster worker hands over its final counts. */
  protected beforeExit: (() => Promise<void>) | null = null;

  constructor(
    protected readonly loggers: Loggers,
    protected readonly host: RoleHost,
  ) {}

  /** The `worker` label of process metrics. */
  abstract readonly metricsLabel: string;
  /** Asks whether this process may stop listening (AcceptGate's askPause); null: it never may. */
  abstract readonly askPause: (() => void) | null;
  abstract failStart(failure: StartFailure): void;
  /** Metrics are on: set them up, then call `listen` (not at all when that fails). */
  abstract startMetrics(metrics: ServingMetrics, config: Config, listen: () => void): void;
  abstract announce(listening: Listening): void;
  /** The first SIGINT/SIGTERM, before the drain begins. */
  abstract announceStop(signal: NodeJS.Signals, timing: StopTiming): void;
  /** SIGHUP, SIGUSR1, and the primary's messages. */
  abstract install(parts: WorkerParts): void;

  /** Flushes the logs (and hands over the final counts) and exits. */
  exit(code: number): void {
    this.loggers.flush();
    const done = () => this.host.exit(code);
    if (this.beforeExit === null) return done();
    this.beforeExit().then(done, done);
  }
}
