/**
 * The HTTPS listener kind: an admitted socket is handed to the TLS acceptor (which reads the
 * ClientHello and picks the certificate pair by SNI); once its handshake is complete, the
 * tls.TLSSocket becomes a Connection exactly as a plain socket does — the request path does
 * not know which kind it came from. While the handshake runs, the socket is held as a step of
 * the process's connections, so the drain closes it and maxConnections counts it.
 * A plain-text HTTP request on this port gets a plain-text 400 and a close.
 *
 * Behind a proxy (trustedProxies, proxyProtocol) BehindProxy comes first, as on plain HTTP:
 * the PROXY header precedes the ClientHello on the raw socket, so it is read before the
 * acceptor sees a byte, and the client it names is the connection's (the access log's
 * remote); X-Forwarded-For from a trusted proxy is read per request inside the TLS stream.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { Connection, type ConnectionOptions, type ConnectionOrigin } from '../http/connection';
import { TlsAcceptor } from '../tls/acceptor';
import type { CertificateSet } from '../tls/certificates';
import type { HandshakeFailure, TlsPolicyOptions } from '../tls/context';
import type { Admitted, ListenerKind } from './listener';
import type { InForce } from './serving';
import type { Drainable } from './shutdown';

const PLAIN_TEXT_BODY = 'Bad Request: this port speaks HTTPS; send the request over TLS (https://)\n';

/** The answer to plain text on the TLS port, as nginx's "The plain HTTP request was sent to HTTPS port". */
export const PLAIN_TEXT_REPLY =
  'HTTP/1.1 400 Bad Request\r\n' + 'Content-Type: text/plain; charset=utf-8\r\n' + `Content-Length: ${Buffer.byteLength(PLAIN_TEXT_BODY)}\r\n` + 'Connection: close\r\n\r\n' + PLAIN_TEXT_BODY;

export interface HttpsEvents {
  /** A handshake failed (or timed out): counted by the metrics when they are on. */
  onHandshakeError(reason: HandshakeFailure, err: Error): void;
}

/** A socket whose handshake is under way: the drain and a forced stop close it. */
class Handshake implements Drainable {
  readonly idle = true;
  constructor(readonly socket: net.Socket) {}
  drain(): void {
    this.socket.destroy();
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

export class Https implements ListenerKind {
  private readonly acceptor: TlsAcceptor;
  private readonly handshakes = new Map<string, Held>();

  constructor(
    certificates: CertificateSet,
    policy: TlsPolicyOptions,
    private readonly options: ConnectionOptions,
    private readonly events: HttpsEvents,
    private readonly inForce: InForce,
  ) {
    this.acceptor = new TlsAcceptor(certificates, policy, {
      onSecure: (socket) => this.secure(socket),
      onPlainText: (socket) => answerPlainText(socket),
      onHandshakeError: (reason, err) => this.events.onHandshakeError(reason, err),
    });
  }

  accept(socket: net.Socket, to: Admitted): void {
    // Read per accepted socket: a reload in place changes who is trusted for new connections.
    const behindProxy = this.inForce.current.behindProxy;
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

  /** New certificates for the connections accepted from now on (a reload). */
  replaceCertificates(set: CertificateSet): void {
    this.acceptor.replaceCertificates(set);
  }

  setTicketKeys(keys: Buffer): void {
    this.acceptor.setTicketKeys(keys);
  }

  private secure(socket: tls.TLSSocket): void {
    const key = tupleOf(socket);
    const held = this.handshakes.get(key);
    if (held === undefined) {
      // Its raw socket closed while the last handshake bytes were processed.
      socket.destroy();
      return;
    }
    // Opened before the step is let go: a drain must never see the book empty in between
    // (it would end the process with this connection about to open).
    held.to.open(new Connection(socket, this.options, held.to.closed, held.origin));
    this.release(key, held.step);
  }

  private release(key: string, step: Handshake): void {
    const held = this.handshakes.get(key);
    if (held === undefined || held.step !== step) return;
    this.handshakes.delete(key);
    held.to.closed(step);
  }
}

/** Answers plain text on the TLS port and closes; what the client sends after it is ignored. */
function answerPlainText(socket: net.Socket): void {
  socket.on('error', () => socket.destroy());
  socket.on('data', () => undefined);
  socket.end(PLAIN_TEXT_REPLY);
  socket.setTimeout(5000, () => socket.destroy());
}
