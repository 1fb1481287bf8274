/**
 * What a serving process serves with: one immutable value (the configuration in force, its
 * file handler, who the client is behind a proxy), which a reload in place (SIGHUP with
 * workers = 0) replaces whole and never changes. Everything else reads it when it needs it,
 * so what a live connection sees after a reload is decided per field, here, in one place:
 *
 * - the handler, its header rules and cache, and the health path: from its next request on;
 * - keepAliveTimeoutMs and headersTimeoutMs: from the next time it waits for a request;
 * - sendTimeoutMs: the value when it was accepted (its send watch is set up once);
 * - trustedProxies / proxyProtocol: connections accepted from then on (an open connection
 *   keeps the client it was accepted with);
 * - drainTimeoutMs and preDrainDelayMs: whenever a stop begins;
 * - the certificate pairs (tlsCert, tlsKey, tlsCertificates, read again from their files):
 *   connections accepted from then on; a handshake under way finishes with the pair it
 *   began with, and the session-ticket keys stay, so sessions issued before still resume.
 */
import type { Config } from '../config/config';
import type { ConnectionOptions } from '../http/connection';
import type { AccessSink } from '../http/access';
import type { BehindProxy } from '../http/behind-proxy';
import type { Reply, Request } from '../http/types';
import { ConfigError } from '../errors';
import { healthReply } from './health';
import type { Logger } from '../logs/logger';
import type { RequestCounters } from '../metrics/counters';
import type { CertificateSet } from '../tls/certificates';
import { certificateWarnings } from '../tls/settings';
import { applicable, changedKeys, describeChanges, singleRestartKeys, type ConfigChanges } from './reload';

/** The part of the file handler (serve/static.ts) a serving process uses. */
export interface Handler {
  handle(req: Request, remote: string): Reply | Promise<Reply>;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly cacheSize: { entries: number; bytes: number };
}

export interface Serving {
  readonly config: Config;
  readonly handler: Handler;
  /**
   * The values read per request, copied out of `config`: a small object of one shape is a
   * cheaper read on the hot path than the configuration's eighty-odd keys.
   */
  readonly healthPath: string;
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly sendTimeoutMs: number;
  /** Null when neither trustedProxies nor proxyProtocol is on. */
  readonly behindProxy: BehindProxy | null;
  /** The certificate pairs as read from their files for this configuration; null without TLS. */
  readonly certificates: CertificateSet | null;
  /** Cache hits and misses of the handlers reloads replaced: the metrics' counters never go down. */
  readonly retiredCacheHits: number;
  readonly retiredCacheMisses: number;
}

/**
 * How a Serving is built from a configuration; each may throw ConfigError (an htpasswd file
 * gone bad, a certificate file changed for the worse since the configuration was checked).
 */
export interface ServingParts {
  handler(config: Config): Handler;
  behindProxy(config: Config): BehindProxy | null;
  certificates(config: Config): CertificateSet | null;
}

/** The one place the Serving in force is kept: `current` is replaced, never changed. */
export class InForce {
  constructor(public current: Serving) {}
}

export function firstServing(config: Config, parts: ServingParts): Serving {
  return servingOf(config, parts, 0, 0);
}

/** Every Serving is built here, so that all have the one shape. */
function servingOf(config: Config, parts: ServingParts, retiredCacheHits: number, retiredCacheMisses: number): Serving {
  const { healthPath, keepAliveTimeoutMs, headersTimeoutMs, sendTimeoutMs } = config;
  const handler = parts.handler(config);
  const behindProxy = parts.behindProxy(config);
  const certificates = parts.certificates(config);
  return Object.freeze({ config, handler, healthPath, keepAliveTimeoutMs, headersTimeoutMs, sendTimeoutMs, behindProxy, certificates, retiredCacheHits, retiredCacheMisses });
}

/**
 * Reads the configuration sources again and puts what a single process can apply in place
 * in force: a new handler (fresh cache, new rules, the htpasswd files read again), the
 * timeouts, the health path, the log level, the certificate files read again. Its sockets,
 * loggers and code stay; keys that need a restart are reported. A configuration that fails
 * (a certificate pair that does not match, say) leaves everything as it was. Returns the
 * Serving put in force (null: none), for what the caller applies itself (the certificates).
 */
export function reloadInPlace(inForce: InForce, readConfig: () => Config, parts: ServingParts, log: Logger): Serving | null {
  log.info({ signal: 'SIGHUP' }, 'reload started: reading the configuration again');
  const old = inForce.current;
  let next: Serving;
  let needRestart: ConfigChanges;
  try {
    const read = readConfig();
    const applied = applicable(old.config, read, singleRestartKeys(old.config, read));
    needRestart = applied.needRestart;
    next = servingOf(applied.config, parts, old.retiredCacheHits + old.handler.cacheHits, old.retiredCacheMisses + old.handler.cacheMisses);
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : String(err);
    log.error({ reason: message }, `reload failed: ${message}; the configuration in force stays`);
    return null;
  }
  const changed = changedKeys(old.config, next.config);
  inForce.current = next;
  log.level = next.config.logLevel;
  const restart = Object.keys(needRestart).length > 0 ? `; needs a restart (not applied): ${describeChanges(needRestart)}` : '';
  // From the pairs this reload read (no second read of the files).
  if (next.certificates !== null) for (const warning of certificateWarnings(next.certificates)) log.warn(warning);
  const message = `reload finished in place: ${describeChanges(changed)}${restart}`;
  if (restart) log.warn({ changed, needRestart }, message);
  else log.info({ changed, needRestart }, message);
  return next;
}

/**
 * The options every connection of the process shares: a view of the Serving in force, read
 * at the moments the module comment lists. One object for the whole process; the getters are
 * read when a timer is set, not per byte.
 */
export class ServingConnectionOptions implements ConnectionOptions {
  constructor(
    private readonly inForce: InForce,
    /** A pre-drain or drain has begun: the health check answers 503. */
    private readonly stopping: () => boolean,
    readonly onAccess: AccessSink,
    readonly counters: RequestCounters | null,
    readonly onError: (err: unknown, what: string) => void,
    /** The listener's header rule (the HTTPS listener's HSTS): a reload in place changes it. */
    private readonly headerRule: (config: Config) => string = () => '',
    /** False while HTTPS has no certificate yet (ACME): the health check answers 503. */
    private readonly ready: () => boolean = () => true,
  ) {}

  /** The rule's lines for the configuration they were made from: made again only after a reload in place. */
  private headersFor: { config: Config; lines: string } | null = null;

  get listenerHeaders(): string {
    const { config } = this.inForce.current;
    if (this.headersFor?.config !== config) this.headersFor = { config, lines: this.headerRule(config) };
    return this.headersFor.lines;
  }

  get keepAliveTimeoutMs(): number {
    return this.inForce.current.keepAliveTimeoutMs;
  }

  get headersTimeoutMs(): number {
    return this.inForce.current.headersTimeoutMs;
  }

  get sendTimeoutMs(): number {
    return this.inForce.current.sendTimeoutMs;
  }

  /** The health path is matched before any file lookup: no file can shadow it. */
  handle(req: Request, remote: string): Reply | Promise<Reply> {
    const serving = this.inForce.current;
    return req.path === serving.healthPath ? healthReply(req, this.stopping(), this.ready()) : serving.handler.handle(req, remote);
  }
}
