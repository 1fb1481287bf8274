/**
 * Turns accepted TCP sockets into TLS sockets, each with the certificate its ClientHello asks
 * for. A listener (net.Server) hands every socket to accept(); TLS sockets come out of
 * onSecure after their handshake.
 *
 * Why not one tls.Server with an SNICallback: Node up to 22 applies the context SNICallback
 * returns by copying its certificate into the connection (SSL_use_certificate), which fills
 * OpenSSL's slot for that key type but leaves the slot of the server's own certificate as it
 * was. With an ECDSA default and an RSA pair for a.test, the connection holds both, and a
 * TLS 1.3 client (which prefers ECDSA signatures) gets the ECDSA default for a.test; with an
 * RSA default and an ECDSA pair, a TLS 1.2 client preferring ECDHE-RSA gets the RSA default.
 * Measured with openssl s_client and node's tls.connect on Node 20.20 and 22.23; 24.22 no
 * longer mixes them. And SNICallback is not called at all without SNI (clients that connect
 * to an IP address send none), so the server's own context must hold a certificate.
 *
 * So the pair is chosen before OpenSSL starts: the ClientHello is read here (client-hello.ts),
 * its server name looked up (sni.ts), the bytes put back (socket.unshift; Node's TLSSocket
 * feeds what the socket has buffered to OpenSSL first), and the socket is given to a
 * tls.Server that holds only that pair — one per pair, never listening. Each connection's
 * OpenSSL state then starts from exactly one certificate, on every Node version; the rest of
 * the handshake (timeouts, ALPN, tickets, errors) is Node's own tls.Server.
 *
 * The same read answers TLS-ALPN-01 (RFC 8737), which SNICallback could not at all: it is
 * called with the server name only, and a validation is told apart by its ALPN list (acme-tls/1
 * alone). Such a connection goes to the challenge set for its name (setAcmeChallenge): its
 * own tls.Server, closed once the handshake is done; with none pending, it is refused with a
 * no_application_protocol alert. Every other ClientHello is served as above.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { AcmeChallengeError, HandshakeTimeoutError, NoAcmeChallengeError, NoCertificateYetError } from '../errors';
import { checkChallenge, isTlsAlpnValidation, NO_APPLICATION_PROTOCOL_ALERT, type AcmeChallengePair } from './alpn-challenge';
import type { CertificatePair, CertificateSet } from './certificates';
import { peekClientHello } from './client-hello';
import { challengeServerOptions, classifyHandshakeError, serverOptions, type HandshakeFailure, type TlsPolicyOptions } from './context';
import { buildSniIndex, chooseForServerName, normalizeHostName, type SniIndex } from './sni';

export interface AcceptorEvents {
  /** A TLS socket whose handshake is complete; it allows half-open, as the listener's plain sockets do. */
  onSecure(socket: tls.TLSSocket): void;
  /**
   * The connection began with plain text (an HTTP request on the HTTPS port): `received` is
   * what came so far; the caller answers it (a plain-text 400) and closes the socket. The
   * socket is the caller's from here, error handling included (the acceptor's listeners are
   * gone).
   */
  onPlainText(socket: net.Socket, received: Buffer): void;
  /** A handshake that failed; the socket is already being destroyed. */
  onHandshakeError(reason: HandshakeFailure, err: Error): void;
  /**
   * A TLS-ALPN-01 validation was answered with the challenge certificate for `serverName`
   * (normalized); the socket is being closed (it never reaches onSecure).
   */
  onAcmeChallenge?(serverName: string): void;
}

/**
 * The bytes of a connection until its ClientHello is complete. The first chunk is kept as it
 * is (the usual case: the whole ClientHello in one segment); later ones are appended into a
 * buffer that doubles, so a client sending one byte per segment costs linear copying, not
 * quadratic (the peek stops at MAX_CLIENT_HELLO_BYTES anyway).
 */
class HelloBuffer {
  private buf: Buffer = Buffer.alloc(0);
  private used = 0;

  append(chunk: Buffer): void {
    if (this.used === 0) {
      this.buf = chunk;
      this.used = chunk.length;
      return;
    }
    if (this.used + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + chunk.length));
      this.buf.copy(grown, 0, 0, this.used);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.used);
    this.used += chunk.length;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.used);
  }
}

/** One pair and the (never listening) tls.Server that serves it. */
interface Served {
  readonly pair: CertificatePair;
  readonly server: tls.Server;
}

export class TlsAcceptor {
  /** Null until there is a certificate (ACME before its first one): every handshake is refused. */
  private index: SniIndex<Served> | null;
  private served: readonly Served[] = [];
  private keys: Buffer;
  /** TLS-ALPN-01 challenges pending, by normalized host name: the server answering each. */
  private readonly challenges = new Map<string, tls.Server>();

  constructor(
    set: CertificateSet | null,
    private readonly policy: TlsPolicyOptions,
    private readonly events: AcceptorEvents,
  ) {
    this.keys = policy.ticketKeys;
    this.index = this.buildIndex(set);
  }

  /** The certificate a server name gets (null: no SNI), as the next connection would. */
  pairFor(serverName: string | null): CertificatePair {
    if (this.index === null) throw new NoCertificateYetError('no certificate yet');
    return chooseForServerName(this.index, serverName).pair;
  }

  /**
   * New pairs for the connections accepted from now on (a reload). Handshakes under way
   * finish with the pairs they started with. The servers are made anew, with the ticket keys
   * in use now: tls.Server#setSecureContext without ticketKeys would go back to the keys the
   * server was created with (setTicketKeys does not update them), and sessions issued since
   * the last rotation would stop resuming.
   */
  replaceCertificates(set: CertificateSet | null): void {
    this.index = this.buildIndex(set);
  }

  /** The pairs in force now, the default first: what the next connection may get. */
  pairs(): readonly CertificatePair[] {
    return this.served.map((s) => s.pair);
  }

  /**
   * Sets (or, with null, removes) the TLS-ALPN-01 challenge for a server name (RFC 8737): from
   * the next connection on, a ClientHello with that name (SNI, compared as for certificates)
   * that offers ALPN acme-tls/1 alone is handshaken with `pair` (and ALPN acme-tls/1), then
   * closed; nothing else about the name changes. Setting a name again replaces its pair.
   * Throws AcmeChallengeError for a name that is no host name, or a pair that does not fit it
   * (see checkChallenge); nothing is changed then.
   */
  setAcmeChallenge(serverName: string, pair: AcmeChallengePair | null): void {
    if (pair === null) {
      const host = normalizeHostName(serverName);
      if (host !== null) this.challenges.delete(host);
      return;
    }
    const host = checkChallenge(serverName, pair);
    let server: tls.Server;
    try {
      server = this.makeChallengeServer(host, pair);
    } catch (err) {
      throw new AcmeChallengeError(`TLS-ALPN-01 challenge for ${host}: the pair cannot be served (${(err as Error).message})`);
    }
    this.challenges.set(host, server);
  }

  /** Applies rotated session-ticket keys (from the primary) to every pair. */
  setTicketKeys(keys: Buffer): void {
    this.keys = keys;
    for (const { server } of this.served) server.setTicketKeys(keys);
  }

  /**
   * Takes an accepted socket. Until a whole ClientHello has arrived, the socket is read here;
   * the deadline is the handshake timeout, so a client that sends nothing, or half a
   * ClientHello, or one byte a second, is closed by then. The rest of the handshake is then
   * bounded by Node's handshakeTimeout (the same value; measured: not renewed by the bytes that
   * arrive), so a handshake lasts at most twice the timeout.
   *
   * `initial`: the first bytes of the connection, read already by whoever came first (the
   * PROXY header's reader, with the header cut off).
   */
  accept(socket: net.Socket, initial: Buffer | null = null): void {
    const received = new HelloBuffer();
    if (initial !== null) received.append(initial);
    const deadline = setTimeout(() => {
      finish();
      socket.destroy();
      this.events.onHandshakeError('timeout', new HandshakeTimeoutError(`no complete ClientHello within ${this.policy.handshakeTimeoutMs} ms`));
    }, this.policy.handshakeTimeoutMs);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) received.append(chunk);
      const peek = peekClientHello(received.bytes());
      if (peek.kind === 'more') return;
      finish();
      if (peek.kind === 'plain-text') {
        this.events.onPlainText(socket, received.bytes());
        return;
      }
      // A validation is answered from its challenge, also before the first certificate.
      if (isTlsAlpnValidation(peek.alpn)) {
        this.validate(socket, received.bytes(), peek.serverName);
        return;
      }
      if (this.index === null) {
        // Refused rather than answered with a made-up certificate: a client would show a
        // certificate warning a user might click through, and HSTS would pin the error.
        socket.destroy();
        this.events.onHandshakeError('other', new NoCertificateYetError('no certificate yet (ACME has not obtained the first one): handshake refused'));
        return;
      }
      handOver(socket, received.bytes(), chooseForServerName(this.index, peek.serverName).server);
    };
    // Gone before a ClientHello (a port scan, a health check that only connects, a drain that
    // closed it): nothing to report.
    const onGone = (): void => {
      finish();
      socket.destroy();
    };
    const finish = (): void => {
      clearTimeout(deadline);
      socket.off('readable', onReadable);
      socket.off('end', onGone);
      socket.off('error', onGone);
      socket.off('close', onGone);
    };
    // A 'readable' listener takes a socket that was flowing (read by 'data' events) out of
    // that mode, so no byte after `initial` is emitted to nobody.
    socket.on('readable', onReadable);
    socket.on('end', onGone);
    socket.on('error', onGone);
    socket.on('close', onGone);
    // The whole ClientHello may have come with the PROXY header: no 'readable' would follow.
    if (initial !== null) onReadable();
  }

  /**
   * A TLS-ALPN-01 validation: handshaken with the challenge for its name, or, with none
   * pending (or no name), refused with a no_application_protocol alert, before OpenSSL sees it.
   */
  private validate(socket: net.Socket, hello: Buffer, serverName: string | null): void {
    const host = serverName === null ? null : normalizeHostName(serverName);
    const server = host === null ? undefined : this.challenges.get(host);
    if (server !== undefined) {
      handOver(socket, hello, server);
      return;
    }
    socket.on('error', () => socket.destroy());
    socket.end(NO_APPLICATION_PROTOCOL_ALERT, () => socket.destroy());
    const name = serverName === null ? 'no server name' : JSON.stringify(serverName);
    const err = new NoAcmeChallengeError(`TLS-ALPN-01 validation (ALPN acme-tls/1) for ${name}: no challenge pending; refused with no_application_protocol`);
    this.events.onHandshakeError(classifyHandshakeError(err), err);
  }

  private makeChallengeServer(host: string, pair: AcmeChallengePair): tls.Server {
    const server = tls.createServer(challengeServerOptions(pair, { ...this.policy, ticketKeys: this.keys }));
    server.on('secureConnection', (socket) => {
      // The validation needs the certificate only; nothing is served on this connection. A
      // client that does not close its side in turn is cut after the handshake timeout.
      socket.on('error', () => socket.destroy());
      const cut = setTimeout(() => socket.destroy(), this.policy.handshakeTimeoutMs);
      socket.once('close', () => clearTimeout(cut));
      socket.end();
      this.events.onAcmeChallenge?.(host);
    });
    this.reportClientErrors(server);
    return server;
  }

  private reportClientErrors(server: tls.Server): void {
    server.on('tlsClientError', (err, socket) => {
      // Node destroys the socket after an OpenSSL error, but not after its own handshake
      // timeout: that connection would stay open, stalled, for as long as the client likes.
      socket.destroy();
      this.events.onHandshakeError(classifyHandshakeError(err), err);
    });
  }

  private buildIndex(set: CertificateSet | null): SniIndex<Served> | null {
    if (set === null) return null;
    this.served = [set.defaultPair, ...set.sniPairs].map((pair) => ({ pair, server: this.makeServer(pair) }));
    return buildSniIndex(
      this.served.map((s) => ({ names: s.pair.info.dnsNames, value: s })),
      this.served[0]!,
    );
  }

  private makeServer(pair: CertificatePair): tls.Server {
    const server = tls.createServer(serverOptions(pair, { ...this.policy, ticketKeys: this.keys }));
    server.on('secureConnection', (socket) => {
      socket.allowHalfOpen = true;
      this.events.onSecure(socket);
    });
    this.reportClientErrors(server);
    return server;
  }
}

/** Gives a socket whose ClientHello has been read to the tls.Server that is to handshake it. */
function handOver(socket: net.Socket, hello: Buffer, server: tls.Server): void {
  socket.unshift(hello);
  // The listener's sockets are half-open (a client may shut down its side after its
  // requests), and the TLS socket takes that from this one. During the handshake it must
  // not be: a TLS socket that allows half-open waits out the whole handshake timeout after
  // the client's FIN (seen with a client closing right after its Finished), holding a
  // connection slot and a drain. onSecure's socket allows it again (makeServer).
  socket.allowHalfOpen = false;
  server.emit('connection', socket);
}
