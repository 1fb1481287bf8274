/**
 * The socket side of the PROXY protocol: reads a new connection's header (proxy-protocol.ts
 * decides) before the HTTP connection takes the socket, within a time limit from accept.
 * Then it hands over the client the header names and the bytes that came after it, or it
 * closes the socket without a word: no HTTP answer to something that is not our protocol.
 *
 * While it reads, the worker counts it as a connection (maxConnections, the drain): a drain
 * lets it finish, since its request is right behind the header, and the time limit bounds it.
 */
import type net from 'node:net';
import { parseProxyHeader } from './proxy-protocol';

export interface ProxyHeaderOutcome {
  /** A valid header: `remote` is the client it names (the peer's own address when it names none). */
  header(remote: string, initial: Buffer | null): void;
  /** Closed: the header was invalid, incomplete in time, or cut by the peer's close. */
  refused(reason: string): void;
}

export class ProxyHeaderReader {
  /** Never idle for a drain: a connection that sent no header yet is still coming in. */
  readonly idle = false;
  private received: Buffer | null = null;
  private finished = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onData = (chunk: Buffer) => this.read(chunk);
  /** The peer closed (FIN or reset): worth a line only when it had begun a header. */
  private readonly onGone = () => this.refuse(this.received === null ? null : 'closed by the peer within its PROXY header');

  constructor(
    readonly socket: net.Socket,
    timeoutMs: number,
    private readonly outcome: ProxyHeaderOutcome,
    private readonly onFinished: (reader: ProxyHeaderReader) => void,
  ) {
    this.timer = setTimeout(() => this.refuse(`no complete PROXY header within ${timeoutMs} ms`), timeoutMs);
    socket.on('data', this.onData);
    socket.on('end', this.onGone);
    socket.on('close', this.onGone);
    socket.on('error', ignoreError); // a reset while reading: 'close' follows
  }

  /** The drain waits for the header (its request follows at once); the time limit bounds the wait. */
  drain(): void {}

  /** The drain deadline or a forced stop: no request has been read, so there is nothing to log. */
  cut(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    const received = this.received === null ? chunk : Buffer.concat([this.received, chunk]);
    const result = parseProxyHeader(received);
    if (result.kind === 'incomplete') {
      this.received = received;
      return;
    }
    if (result.kind === 'invalid') {
      this.refuse(result.reason);
      return;
    }
    this.stop();
    const rest = result.consumed < received.length ? received.subarray(result.consumed) : null;
    // Synchronously, inside this 'data' event: the connection's own listener is on before any
    // further byte can be emitted, so nothing is lost between the two.
    this.outcome.header(result.source?.address ?? this.socket.remoteAddress ?? '', rest);
    this.onFinished(this);
  }

  /** Closes the connection; `reason` null: the peer went away before sending anything (not worth a line). */
  private refuse(reason: string | null): void {
    if (this.finished) return;
    this.stop();
    this.socket.destroy();
    if (reason !== null) this.outcome.refused(reason);
    this.onFinished(this);
  }

  private stop(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.received = null;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onGone);
    this.socket.off('close', this.onGone);
    this.socket.off('error', ignoreError);
  }
}

function ignoreError(): void {}
