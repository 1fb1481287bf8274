/**
 * One serving process: listeners whose connections answer from the static handler, drained
 * on a signal, on the primary's request, or after an uncaught exception. It runs as a cluster
 * worker or, with workers = 0, alone: the difference is its role (worker-role.ts), asked at
 * the few points where the two differ. The parts, in the order they are built:
 *
 *   connections ─ the accept gate (accept-gate.ts) ─ the serving state in force (serving.ts)
 *   ─ the drain (shutdown.ts) ─ the listeners (listener.ts) of a kind (plain-http.ts)
 *
 * Each part is given only the parts built before it, so nothing is used before it exists.
 */
import { AcceptGate } from './accept-gate';
import type { InheritedSockets } from './activation';
import { BehindProxy } from '../http/behind-proxy';
import type { AccessSink } from '../http/access';
import { ClusterWorker } from './cluster-worker';
import type { Config } from '../config/config';
import { measureCapacity, type Capacity } from './descriptors';
import { AcmeChallengeError, ConfigError, ListenError } from '../errors';
import type { AcmeChallengePair } from '../tls/alpn-challenge';
import { logFault, onFaults } from './faults';
import { isHealthTarget } from './health';
import { resolveListenAddresses } from './listen-addresses';
import { Admission, Listener, ListenerGroup, type ListenerKind, type ListenTarget } from './listener';
import type { Logger, Loggers } from '../logs/logger';
import { LISTENER_LABELS, RequestCounters, TlsCounters } from '../metrics/counters';
import type * as ServingMetricsModule from '../metrics/serving-metrics';
import type { TlsState } from '../metrics/serving-metrics';
import type { ListenerName } from '../http/types';
import { HttpPortOptions } from './http-port';
import { Https, type Http2Options } from './https';
import { http2Refusal } from '../http2/node-version';
import { FLOOD_CAPS } from '../http2/session';
import type { HandshakeFailure } from '../tls/context';
import { PlainHttp } from './plain-http';
import { loadConfiguredCertificates, tlsEnabled } from '../tls/settings';
import type { CertificateSet } from '../tls/certificates';
import { ChallengeAnswers } from '../acme/answers';
import { acmeEnabled } from '../acme/settings';
import { storedCertificateSet } from '../acme/storage';
import { decodeTicketKeys, newTicketKeys, startTicketKeyRotation, TICKET_KEY_ROTATION_MS } from '../tls/ticket-keys';
import { hstsHeaderLines } from '../tls/hsts';
import { firstServing, InForce, ServingConnectionOptions, type Serving, type ServingParts } from './serving';
import { Drainer, onStopSignals, type Drainable } from './shutdown';
import { SingleProcess } from './single-process';
import { StaticHandler } from '../serve/static';
import type { WorkerRole } from './worker-role';

/**
 * A cluster worker: `addresses` are what the primary resolved config.host to (null: resolve
 * here). `inherited` are the socket-activated listening sockets to serve instead of binding
 * host:port (and httpPort): listen({ fd }) goes through the primary like any cluster listen,
 * the primary opens its own fd 3 (and 4) and shares it with the workers (scheduling "none",
 * which the primary always uses for it), so every worker accepts on the same sockets. Checked
 * on Node 20, 22, 24.
 */
export function runClusterWorker(
  config: Config,
  loggers: Loggers,
  workerId: number,
  inherited: InheritedSockets | null,
  addresses: readonly string[] | null,
  ticketKeys: Buffer | null = null,
  acmeAnswers: Record<string, string> = {},
): void {
  runWorker(new ClusterWorker(workerId, loggers), config, loggers, inherited, addresses, ticketKeys, new ChallengeAnswers(acmeAnswers));
}

/** workers = 0: `readConfig` reads the configuration sources again (SIGHUP reloads in place). */
export function runSingleProcess(config: Config, loggers: Loggers, readConfig: () => Config, inherited: InheritedSockets | null): void {
  // Alone, the process is its own primary: it makes the keys and rotates them itself.
  let kind: Https | null = null;
  const rotation = startTicketKeyRotation(TICKET_KEY_ROTATION_MS, (keys) => kind?.setTicketKeys(keys));
  const answers = new ChallengeAnswers();
  const role = new SingleProcess(loggers, readConfig);
  kind = runWorker(role, config, loggers, inherited, null, rotation.current(), answers);
  // Alone, it owns ACME too: the answers and the new certificate go straight to its listeners.
  const https = kind;
  if (https !== null && acmeEnabled(config)) {
    // Loaded only here: the ACME client and its libraries weigh 26 MiB and a quarter second per process.
    const { startAcme } = require('../acme/start') as typeof import('../acme/start');
    const publisher = {
      set: async (token: string, answer: string) => answers.set(token, answer),
      remove: (token: string) => answers.remove(token),
      setAlpn: async (serverName: string, pair: AcmeChallengePair) => setAcmeAlpn(https, serverName, pair, loggers.log),
      removeAlpn: (serverName: string) => setAcmeAlpn(https, serverName, null, loggers.log),
    };
    startAcme(config, loggers.log, publisher, {
      installed: () => readAcmeCertificate(https, config, loggers.log),
      counted: (result) => role.acmeRenewals[result]++,
    });
  }
}

/** Returns the HTTPS listener kind (null: plain HTTP, or nothing started), for the keys' rotation. */
export function runWorker(
  role: WorkerRole,
  config: Config,
  loggers: Loggers,
  inherited: InheritedSockets | null,
  addresses: readonly string[] | null,
  ticketKeys: Buffer | null,
  acmeAnswers: ChallengeAnswers,
): Https | null {
  const { log } = loggers;
  const capacity = measureCapacity(config.maxConnections);
  /** Open connections of every listener, and sockets whose PROXY header is still being read. */
  const connections = new Set<Drainable>();
  const listeners = new ListenerGroup();
  const gate = acceptGate(role, capacity, connections, listeners, log);
  const serving: ServingParts = {
    handler: (c) => new StaticHandler(c, log, () => gate.outOfDescriptors()),
    behindProxy: (c) => BehindProxy.from(c, log),
    // Read from the files now (a worker a reload forked reads the renewed ones), not taken from the check.
    certificates: certificatesOf,
  };
  const first = firstServingOrFail(role, config, serving);
  if (first === null) return null;
  const inForce = new InForce(first);
  warnIfLowered(capacity, config.maxConnections, log);
  const drainer = drainerOf(role, listeners, connections, inForce, log);
  // With metrics off nothing is counted and prom-client is never loaded.
  const counters = config.metricsPort !== 0 ? new RequestCounters(listenerNames(config)) : null;
  // HSTS is the HTTPS listener's header rule: on every response of it, never on plain HTTP.
  const headerRule = tlsEnabled(config) ? hstsHeaderLines : undefined;
  let https: Https | null = null;
  const ready = () => https === null || https.hasCertificate();
  const options = new ServingConnectionOptions(inForce, () => drainer.stopping, accessSink(loggers, inForce), counters, (err, what) => log.warn({ err }, what), headerRule, ready);
  const admission = new Admission(connections, gate, drainer, counters);
  const made = listenerKind(config, inForce, options, ticketKeys ?? newTicketKeys(), log, counters !== null);
  const { kind, tls } = made;
  https = made.https;
  // httpPort: a second, plain listener of the same admission (capacity, accept gate, drain),
  // without the HTTPS listener's header rule (no HSTS on plain HTTP).
  const httpPort = config.httpPort !== 0 ? new HttpPortOptions(options, inForce, acmeAnswers) : null;
  const httpKind = httpPort === null ? null : new PlainHttp(inForce, httpPort);
  stopOnSignalsAndFaults(role, drainer, inForce, log);
  role.install({
    drainer,
    gate,
    inForce,
    serving,
    ticketKeys: https && ((keys) => https.setTicketKeys(decodeTicketKeys(keys))),
    replaceCertificates: https && ((set) => https.replaceCertificates(set)),
    acmeAnswers,
    acmeAlpn: https && ((serverName, pair) => setAcmeAlpn(https, serverName, pair, log)),
    reloadAcmeCertificate: https && acmeEnabled(config) ? () => readAcmeCertificate(https, config, log) : null,
  });
  const make = (k: ListenerKind) => (target: ListenTarget) => new Listener(target, k, admission, log);
  const listen = () => {
    listenEverywhere(role, listeners, inForce, inherited, addresses, make(kind), httpPort && { options: httpPort, make: make(httpKind!) }).catch((err: unknown) => {
      if (!(err instanceof ListenError)) throw err; // a fault of ours: see stopOnSignalsAndFaults
      role.failStart({ kind: 'listen', message: err.message });
    });
  };
  if (counters === null) listen();
  else startMetrics(role, { counters, tls }, connections, inForce, listen);
  return https;
}

/** The accept gate of the process's listeners: stops accepting at capacity or out of descriptors. */
function acceptGate(role: WorkerRole, capacity: Capacity, connections: Set<Drainable>, listeners: ListenerGroup, log: Logger): AcceptGate {
  return new AcceptGate({
    capacity: capacity.connections,
    open: () => connections.size,
    close: () => listeners.pause(),
    listen: () => listeners.resume(),
    askPause: role.askPause,
    draining: () => listeners.closed,
    log,
  });
}

/** The drain of the process's listeners and connections, with the timings in force when a stop begins. */
function drainerOf(role: WorkerRole, listeners: ListenerGroup, connections: Set<Drainable>, inForce: InForce, log: Logger): Drainer {
  return new Drainer({
    server: listeners,
    connections,
    // Read when a stop begins: the timings of the last reload in place.
    get timeoutMs() {
      return inForce.current.config.drainTimeoutMs;
    },
    get preDrainMs() {
      return inForce.current.config.preDrainDelayMs;
    },
    log,
    exit: (code) => role.exit(code),
  });
}

/** The certificate pairs of a configuration: its files, or what ACME stored (null: none yet, or plain HTTP). */
function certificatesOf(c: Config): CertificateSet | null {
  if (acmeEnabled(c)) return storedCertificateSet(c);
  return tlsEnabled(c) ? loadConfiguredCertificates(c) : null;
}

/**
 * A TLS-ALPN-01 challenge certificate the ACME owner made (null: withdrawn). One that does not
 * fit its name is the owner's mistake, not a client's: logged, and the validation fails at the CA.
 */
function setAcmeAlpn(https: Https, serverName: string, pair: AcmeChallengePair | null, log: Logger): void {
  try {
    https.setAcmeChallenge(serverName, pair);
  } catch (err) {
    if (!(err instanceof AcmeChallengeError)) throw err;
    log.error(`ACME: ${err.message}`);
  }
}

/** The primary stored a new ACME certificate (or a new worker asks again): served to new connections when it differs. */
function readAcmeCertificate(https: Https, config: Config, log: Logger): void {
  const set = storedCertificateSet(config);
  const now = https.certificates()[0]?.info.fingerprint256;
  if (set === null || set.defaultPair.info.fingerprint256 === now) return;
  https.replaceCertificates(set);
  log.info({ notAfter: set.defaultPair.info.notAfter.toISOString() }, `ACME: serving the new certificate for ${config.acmeDomains.join(', ')} to new connections`);
}

/** The listeners this process has (the main one, and httpPort's), in the metrics' label order. */
function listenerNames(config: Config): ListenerName[] {
  const main: ListenerName = tlsEnabled(config) ? 'https' : 'http';
  return LISTENER_LABELS.filter((l) => l === main || (l === 'http' && config.httpPort !== 0));
}

/**
 * Plain HTTP, or HTTPS with tlsCert and tlsKey set: the handshake is bounded by
 * headersTimeoutMs, as the request head that follows it is. With metrics on, the HTTPS
 * listener's handshakes are counted and its certificates shown (`tls`).
 */
function listenerKind(
  config: Config,
  inForce: InForce,
  options: ServingConnectionOptions,
  ticketKeys: Buffer,
  log: Logger,
  metricsOn: boolean,
): { kind: ListenerKind; https: Https | null; tls: TlsState | null } {
  // The pairs were read with the first Serving (a failure there is a start error, not a fault);
  // with ACME they may be none yet.
  const { certificates } = inForce.current;
  if (!tlsEnabled(config)) return { kind: new PlainHttp(inForce, options), https: null, tls: null };
  const http2 = http2Options(config, log);
  const policy = { minVersion: config.tlsMinVersion, ticketKeys, alpn: http2 === null ? ['http/1.1'] : ['h2', 'http/1.1'], handshakeTimeoutMs: config.headersTimeoutMs };
  const counters = metricsOn ? new TlsCounters() : null;
  const events = {
    onHandshake: (resumed: boolean) => counters?.handshake(resumed),
    onHandshakeError: (reason: HandshakeFailure, err: Error) => {
      counters?.handshakeFailed(reason);
      log.debug({ err, reason }, `TLS handshake failed: ${reason}`);
    },
    // Only while an order is under way (a challenge is pending): a handful per validation.
    onAcmeChallenge: (serverName: string) => log.info({ serverName }, `ACME: answered a TLS-ALPN-01 validation for ${serverName}`),
  };
  const https = new Https(certificates, policy, options, events, http2, () => inForce.current.behindProxy);
  return { kind: https, https, tls: counters && { counters, certificates: () => https.certificates() } };
}

/** HTTP/2 beside HTTP/1.1 when http2 is on and this Node has the flood fixes (the primary warned if not). */
function http2Options(config: Config, log: Logger): Http2Options | null {
  if (!config.http2 || http2Refusal(process.version) !== null) return null;
  return {
    scheme: 'https',
    maxConcurrentStreams: config.http2MaxConcurrentStreams,
    caps: FLOOD_CAPS,
    onFlood: (what, remote) => log.warn({ remote, flood: what }, `HTTP/2 ${what} from ${remote}: session ended (GOAWAY ENHANCE_YOUR_CALM)`),
  };
}

/** The serving state to start with, or null after the role reported why there is none. */
function firstServingOrFail(role: WorkerRole, config: Config, serving: ServingParts): Serving | null {
  try {
    return firstServing(config, serving);
  } catch (err) {
    // An htpasswd file changed for the worse since the configuration was checked.
    if (!(err instanceof ConfigError)) throw err;
    role.failStart({ kind: 'config', message: err.message });
    return null;
  }
}

function warnIfLowered(capacity: Capacity, maxConnections: number, log: Logger): void {
  if (capacity.connections >= maxConnections) return;
  log.warn(
    { maxConnections, capacity: capacity.connections, fdLimit: capacity.fdLimit, fdsOpen: capacity.fdsOpen },
    `maxConnections ${maxConnections} lowered to ${capacity.connections}: the file-descriptor limit is ${capacity.fdLimit} (2 per connection, ${capacity.fdsOpen} already open)`,
  );
}

/** Health probes come every second or so: they would drown the access log. */
function accessSink(loggers: Loggers, inForce: InForce): AccessSink {
  const logAccess = loggers.access;
  return logAccess && ((r) => (isHealthTarget(r.path, inForce.current.healthPath) ? undefined : logAccess(r)));
}

/** SIGINT/SIGTERM (a second one stops at once), and the faults nobody caught (faults.ts). */
function stopOnSignalsAndFaults(role: WorkerRole, drainer: Drainer, inForce: InForce, log: Logger): void {
  onStopSignals(
    (signal) => {
      const { drainTimeoutMs, preDrainDelayMs } = inForce.current.config;
      role.announceStop(signal, { drainTimeoutMs, preDrainDelayMs });
      drainer.stop(signal);
    },
    (signal) => drainer.force(`second ${signal}`),
  );
  let faulted = false;
  onFaults((err, origin) => {
    if (!faulted) {
      faulted = true;
      logFault(log, err, origin, 'draining, then exiting with code 1');
      drainer.fail(origin);
    } else {
      logFault(log, err, origin, 'a second fault while draining: stopping now');
      drainer.force(`second fault (${origin})`, 1);
    }
  });
}

/** Listens on every address (or the inherited socket), then has the role announce it. */
async function listenEverywhere(
  role: WorkerRole,
  listeners: ListenerGroup,
  inForce: InForce,
  inherited: InheritedSockets | null,
  given: readonly string[] | null,
  make: (target: ListenTarget) => Listener,
  http: { options: HttpPortOptions; make: (target: ListenTarget) => Listener } | null,
): Promise<void> {
  const { config } = inForce.current;
  const addresses = inherited !== null ? [] : (given ?? (await resolveListenAddresses(config.host, config.port)));
  const targets: ListenTarget[] = inherited !== null ? [{ inherited: inherited.main }] : addresses.map((host) => ({ host, port: config.port }));
  let httpPortBound = 0;
  if (http !== null) {
    // Bound first: the primary counts a worker as listening by its main listener, which then
    // comes last (the primary skips the 'listening' of httpPort), so the "listening" line
    // means both listen. The Location's port is the main one's (with port 0: once bound).
    http.options.tlsPort = config.port;
    // A listen of its own: its port is httpPort on every address, never the main one's.
    const httpBound = await listeners.listen(await httpPortTargets(config, inherited, addresses), http.make);
    if (httpBound === null) return;
    httpPortBound = httpBound.port;
  }
  const bound = await listeners.listen(targets, make);
  if (bound === null) return; // the drain began meanwhile
  if (http !== null) http.options.tlsPort = bound.port;
  role.announce({ config: inForce.current.config, port: bound.port, addresses, inherited, inheritedAddress: bound.address, httpPortBound });
}

/** httpPort's own inherited socket (named "http"), or httpPort on the main listener's addresses (on an inherited main socket: host's). */
async function httpPortTargets(config: Config, inherited: InheritedSockets | null, addresses: readonly string[]): Promise<ListenTarget[]> {
  if (inherited?.httpPort) return [{ inherited: inherited.httpPort }];
  const hosts = inherited !== null ? await resolveListenAddresses(config.host, config.httpPort) : addresses;
  return hosts.map((host) => ({ host, port: config.httpPort }));
}

/** Metrics on: counted here, served by the primary (a cluster worker answers it) or by this process. */
function startMetrics(role: WorkerRole, counted: { counters: RequestCounters; tls: TlsState | null }, connections: Set<Drainable>, inForce: InForce, listen: () => void): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when metrics are on
  const { ServingMetrics } = require('../metrics/serving-metrics') as typeof ServingMetricsModule;
  const metrics = new ServingMetrics(
    {
      ...counted,
      openConnections: () => connections.size,
      cacheHits: () => inForce.current.retiredCacheHits + inForce.current.handler.cacheHits,
      cacheMisses: () => inForce.current.retiredCacheMisses + inForce.current.handler.cacheMisses,
      cacheSize: () => inForce.current.handler.cacheSize,
    },
    role.metricsLabel,
  );
  role.startMetrics(metrics, inForce.current.config, listen);
}
