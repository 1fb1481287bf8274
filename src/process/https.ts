/**
 * The HTTPS listener kind: an admitted socket is handed to the TLS acceptor (which reads the
 * ClientHello and picks the certificate pair by SNI); once its handshake is complete, the
 * tls.TLSSocket becomes a Connection exactly as a plain socket does — the request path does
 * not know which kind it came from. While the handshake runs, the socket is held as a step of
 * the process's connections, so the drain waits for it and maxConnections counts it.
 * A plain-text HTTP request on this port gets a plain-text 400 and a close.
 *
 * Behind a proxy (trustedProxies, proxyProtocol) BehindProxy comes first, as on plain HTTP:
 * the PROXY header precedes the ClientHello on the raw socket, so it is read before the
 * acceptor sees a byte, and the client it names is the connection's (the access log's
 * remote); X-Forwarded-For from a trusted proxy is read per request inside the TLS stream.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { PlainTextOnTlsPortError } from '../errors';
import type { BehindProxy } from '../http/behind-proxy';
import { Connection, FRESH_GRACE_MS, type ConnectionOptions, type ConnectionOrigin } from '../http/connection';
import { H2Session, openSession, type SessionOptions } from '../http2/session';
import { TlsAcceptor } from '../tls/acceptor';
import type { AcmeChallengePair } from '../tls/alpn-challenge';
import type { CertificatePair, CertificateSet } from '../tls/certificates';
import { classifyHandshakeError, type HandshakeFailure, type TlsPolicyOptions } from '../tls/context';
import type { Admitted, ListenerKind } from './listener';
import type { Drainable } from './shutdown';

const PLAIN_TEXT_BODY = 'Bad Request: this port speaks HTTPS; send the request over TLS (https://)\n';

/** The answer to plain text on the TLS port, as nginx's "The plain HTTP request was sent to HTTPS port". */
export const PLAIN_TEXT_REPLY =
  'HTTP/1.1 400 Bad Request\r\n' + 'Content-Type: text/plain; charset=utf-8\r\n' + `Content-Length: ${Buffer.byteLength(PLAIN_TEXT_BODY)}\r\n` + 'Connection: close\r\n\r\n' + PLAIN_TEXT_BODY;

/** What the listener tells the process about handshakes: counted by the metrics when they are on. */
export interface HttpsEvents {
  /** A handshake completed; `resumed`: with a session ticket, not a full handshake. */
  onHandshake(resumed: boolean): void;
  /** A handshake failed (or timed out, or the client spoke plain text). */
  onHandshakeError(reason: HandshakeFailure, err: Error): void;
  /** A TLS-ALPN-01 validation for `serverName` was answered (not a handshake of a connection, not a request). */
  onAcmeChallenge?(serverName: string): void;
}

/**
 * A socket whose handshake is under way. A client handshaking is about to send its request:
 * closing it now would fail a request on a connection never used, which the client cannot
 * retry as it would on a reused one (seen under load during a reload). So the drain lets a
 * handshake that has begun finish (the handshake timeout bounds it), and the connection it
 * becomes is told to drain at once: its request is answered with Connection: close. A socket
 * that has sent nothing gets the same short grace as a fresh plain connection, then is
 * closed. The drain deadline and a forced stop close it whatever its state.
 */
class Handshake implements Drainable {
  readonly idle = false;
  private readonly acceptedAt = performance.now();
  constructor(readonly socket: net.Socket) {}
  drain(): void {
    const closeIfSilent = () => {
      if (this.socket.bytesRead === 0) this.socket.destroy();
    };
    const left = FRESH_GRACE_MS - (performance.now() - this.acceptedAt);
    if (left <= 0) closeIfSilent();
    else setTimeout(closeIfSilent, Math.ceil(left)).unref();
  }
  cut(): void {
    this.socket.destroy();
  }
}

/**
 * The four addresses of a TCP connection: the same for the raw socket and the TLS socket on
 * it (a PROXY header names the client, it does not change the socket's own addresses).
 */
function tupleOf(s: net.Socket): string {
  return `${s.localAddress}|${s.localPort}|${s.remoteAddress}|${s.remotePort}`;
}

/** A handshake under way: its step in the book, and who the client is (null: the peer). */
interface Held {
  step: Handshake;
  to: Admitted;
  origin: ConnectionOrigin | null;
}

/** HTTP/2 on this listener (ALPN h2 offered): the session limits and caps. */
export interface Http2Options extends SessionOptions {
  readonly maxConcurrentStreams: number;
}

export class Https implements ListenerKind {
  private readonly acceptor: TlsAcceptor;
  private readonly handshakes = new Map<string, Held>();

  constructor(
    /** Null: none yet (ACME before its first certificate): handshakes are refused until replaceCertificates. */
    certificates: CertificateSet | null,
    policy: TlsPolicyOptions,
    private readonly options: ConnectionOptions,
    private readonly events: HttpsEvents,
    /** null: ALPN offers http/1.1 only. */
    private readonly http2: Http2Options | null = null,
    /**
     * Who is behind a proxy, read per accepted socket (a reload in place changes who is
     * trusted for new connections); null: no proxy in front, the peer is the client.
     */
    private readonly behindProxy: () => BehindProxy | null = () => null,
  ) {
    this.acceptor = new TlsAcceptor(certificates, policy, {
      onSecure: (socket) => this.secure(socket),
      onPlainText: (socket) => this.answerPlainText(socket),
      onHandshakeError: (reason, err) => this.events.onHandshakeError(reason, err),
      onAcmeChallenge: (serverName) => this.events.onAcmeChallenge?.(serverName),
    });
  }

  accept(socket: net.Socket, to: Admitted): void {
    const behindProxy = this.behindProxy();
    if (behindProxy === null) {
      this.handshake(socket, null, null, to);
      return;
    }
    behindProxy.accept(socket, {
      // What came after the PROXY header is the start of the TLS handshake, not of a request.
      open: (origin) => this.handshake(socket, origin && { ...origin, initial: null }, origin?.initial ?? null, to),
      hold: to.hold,
      release: to.closed,
    });
  }

  /** `initial`: bytes of the ClientHello already read (with the PROXY header in front of them). */
  private handshake(socket: net.Socket, origin: ConnectionOrigin | null, initial: Buffer | null, to: Admitted): void {
    const key = tupleOf(socket);
    const step = new Handshake(socket);
    this.handshakes.set(key, { step, to, origin });
    // Held before the PROXY header's reader is let go: the connection is counted all along.
    to.hold(step);
    // Whatever ends the handshake (failure, timeout, plain text, the drain) closes the raw
    // socket, unless it succeeded: then the step is over already.
    socket.once('close', () => this.release(key, step));
    this.acceptor.accept(socket, initial);
  }

  /** New certificates for the connections accepted from now on (a reload; null: none, handshakes refused). */
  replaceCertificates(set: CertificateSet | null): void {
    this.acceptor.replaceCertificates(set);
  }

  /**
   * Sets (pair) or removes (null) the TLS-ALPN-01 challenge certificate for a server name
   * (RFC 8737), for the connections accepted from now on: a ClientHello for that name offering
   * ALPN acme-tls/1 alone gets it and is closed after the handshake (no request is served, none
   * counted); acme-tls/1 for a name with none pending is refused (a handshake error,
   * 'no-shared'); every other client is served as before. Throws AcmeChallengeError for a name
   * that is no host name or a pair that does not fit it (TlsAcceptor.setAcmeChallenge).
   */
  setAcmeChallenge(serverName: string, pair: AcmeChallengePair | null): void {
    this.acceptor.setAcmeChallenge(serverName, pair);
  }

  setTicketKeys(keys: Buffer): void {
    this.acceptor.setTicketKeys(keys);
  }

  /** Whether a certificate is in force (with ACME: once the first one is obtained): the health check says so. */
  hasCertificate(): boolean {
    return this.acceptor.pairs().length > 0;
  }

  /** The certificate pairs in force now (after a reload, the new ones): what the metrics show. */
  certificates(): readonly CertificatePair[] {
    return this.acceptor.pairs();
  }

  private secure(socket: tls.TLSSocket): void {
    this.events.onHandshake(socket.isSessionReused());
    const key = tupleOf(socket);
    const held = this.handshakes.get(key);
    if (held === undefined) {
      // Its raw socket closed while the last handshake bytes were processed.
      socket.destroy();
      return;
    }
    // Which listener, and the version agreed: data the access lines of its requests carry.
    const listener = { name: 'https', tls: socket.getProtocol() ?? undefined } as const;
    // Opened before the step is let go: a drain must never see the book empty in between
    // (it would end the process with this connection about to open).
    held.to.open(this.connectionFor(socket, held, listener));
    this.release(key, held.step);
  }

  /**
   * The protocol the handshake agreed decides: h2 to an HTTP/2 session, the rest (http/1.1,
   * or a client without ALPN) to the HTTP/1.1 connection as on plain HTTP.
   */
  private connectionFor(socket: tls.TLSSocket, held: Held, listener: { name: 'https'; tls: string | undefined }): Drainable {
    if (socket.alpnProtocol === 'h2' && this.http2 !== null) {
      const peer = socket.remoteAddress ?? '';
      const session = openSession(socket, this.http2.maxConcurrentStreams);
      return new H2Session(session, this.options, this.http2, { remote: held.origin?.remote ?? peer, peer, listener }, held.to.closed, held.origin?.forwarded ?? null);
    }
    return new Connection(socket, this.options, held.to.closed, held.origin, listener);
  }

  private release(key: string, step: Handshake): void {
    const held = this.handshakes.get(key);
    if (held === undefined || held.step !== step) return;
    this.handshakes.delete(key);
    held.to.closed(step);
  }

  /**
   * Answers plain text on the TLS port and closes; what the client sends after it is read and
   * ignored until it closes too, for headersTimeoutMs at most (the bound on a connection that
   * has begun no request, read when the answer is sent). A deadline, not the socket's
   * inactivity timer, which every byte the client trickles in would start again.
   */
  private answerPlainText(socket: net.Socket): void {
    const err = new PlainTextOnTlsPortError('a plain-text request on the TLS port (answered 400)');
    this.events.onHandshakeError(classifyHandshakeError(err), err);
    const deadline = setTimeout(() => socket.destroy(), this.options.headersTimeoutMs);
    socket.once('close', () => clearTimeout(deadline));
    socket.on('error', () => socket.destroy());
    socket.on('data', () => undefined);
    socket.end(PLAIN_TEXT_REPLY);
  }
}
