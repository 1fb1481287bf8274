/**
 * Where a worker's connections come from when fleetserve runs behind a proxy: trustedProxies
 * (whose X-Forwarded-For / -Proto are believed) and proxyProtocol (every connection starts
 * with a PROXY header naming the client). With both off there is no BehindProxy at all and
 * a socket goes straight to its Connection, as before.
 *
 * The chain is read from the socket outwards: the peer; with proxyProtocol, the client its
 * header names; then, when that address is a trusted proxy, X-Forwarded-For per request.
 * With proxyProtocol and a non-empty trustedProxies, only peers in the list may connect at
 * all: anyone else could name any client in a header of their own (the specification asks
 * receivers to accept the protocol from trusted proxies only, as HAProxy's docs and nginx's
 * `set_real_ip_from` do). With an empty list every peer's header is believed, which is safe
 * only where nothing but the proxy can reach the port.
 */
import type net from 'node:net';
import type { Config } from '../config/config';
import type { ConnectionOrigin } from './connection';
import { ForwardedFields } from './forwarded';
import { ProxyHeaderReader } from './proxy-header-reader';
import { TrustedProxies } from './trusted-proxies';
import type { Logger } from '../logs/logger';
import { countOf } from '../plural';

/** Closed connections are logged at once, then at most once per this while they go on, with counts. */
const REFUSAL_LOG_MS = 10_000;

export type BehindProxyConfig = Pick<Config, 'trustedProxies' | 'proxyProtocol' | 'proxyProtocolTimeoutMs'>;

export interface AcceptedSocket {
  /** Called with the client's origin (null: the plain peer, nothing believed) once it is known. */
  open(origin: ConnectionOrigin | null): void;
  /** Holds a socket whose PROXY header is being read (the worker counts it as a connection)... */
  hold(reader: ProxyHeaderReader): void;
  /** ...and lets go of it, after `open` when the header was good. */
  release(reader: ProxyHeaderReader): void;
}

export class BehindProxy {
  private readonly trusted: TrustedProxies | null;
  private readonly forwarded: ForwardedFields | null;
  private refusedSinceLog = 0;
  private lastRefusal = { peer: '', reason: '' };
  private logTimer: NodeJS.Timeout | null = null;

  /** null when neither feature is on: connections then skip this module altogether. */
  static from(config: BehindProxyConfig, log: Logger): BehindProxy | null {
    return config.trustedProxies.length === 0 && !config.proxyProtocol ? null : new BehindProxy(config, log);
  }

  private constructor(
    private readonly config: BehindProxyConfig,
    private readonly log: Logger,
  ) {
    this.trusted = config.trustedProxies.length === 0 ? null : new TrustedProxies(config.trustedProxies);
    this.forwarded = this.trusted === null ? null : new ForwardedFields(this.trusted);
  }

  /** Finds out who a freshly accepted socket's client is, then opens its connection (or closes the socket). */
  accept(socket: net.Socket, to: AcceptedSocket): void {
    const peer = socket.remoteAddress ?? '';
    if (!this.config.proxyProtocol) {
      to.open(this.forwarded !== null && this.trusted!.has(peer) ? { remote: peer, initial: null, forwarded: this.forwarded } : null);
      return;
    }
    if (this.trusted !== null && !this.trusted.has(peer)) {
      socket.on('error', () => {});
      socket.destroy();
      this.refused(peer, 'peer not in trustedProxies');
      return;
    }
    const reader = new ProxyHeaderReader(
      socket,
      this.config.proxyProtocolTimeoutMs,
      {
        header: (remote, initial) => {
          const forwarded = this.forwarded !== null && this.trusted!.has(remote) ? this.forwarded : null;
          to.open({ remote, initial, forwarded });
        },
        refused: (reason) => this.refused(peer, reason),
      },
      (r) => to.release(r),
    );
    to.hold(reader);
  }

  /** A connection closed for want of a valid PROXY header: a debug line each, a warning at once and then at most every 10 s. */
  private refused(peer: string, reason: string): void {
    this.log.debug({ peer, reason }, `PROXY protocol: closed a connection from ${peer}: ${reason}`);
    this.refusedSinceLog++;
    this.lastRefusal = { peer, reason };
    if (this.logTimer === null) this.logRefusals();
  }

  private logRefusals(): void {
    const { peer, reason } = this.lastRefusal;
    const closed = this.refusedSinceLog;
    this.log.warn({ closed, peer, reason }, `PROXY protocol: ${countOf(closed, 'connection')} closed without a valid header (the last from ${peer}: ${reason})`);
    this.refusedSinceLog = 0;
    this.logTimer = setTimeout(() => {
      this.logTimer = null;
      if (this.refusedSinceLog > 0) this.logRefusals();
    }, REFUSAL_LOG_MS);
    this.logTimer.unref();
  }
}
