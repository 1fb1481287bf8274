/**
 * fleetserve-client's TCP side: making a connection (within a time limit, and errno codes
 * turned into the catalogue's errors) and reading it as a sequence of chunks with backpressure.
 */
import type * as net from 'node:net';
import { ConnectError, HostNotFoundError, TimeoutError, type ClientError } from './errors';
import type { TimeLimit } from './time-limit';

const EMPTY = Buffer.alloc(0);
/** Received chunks held before the socket is paused. */
const MAX_QUEUED_CHUNKS = 16;

/** How a connection ended. */
export type End = 'closed' | 'reset';

/** --timeout ran out while waiting for the next chunk (the caller says what it was waiting for). */
export class IdleTimeout extends Error {}

/** One TCP connection, read as a sequence of chunks ending with how it ended. */
export class Connection {
  /** Unparsed bytes after the last complete response (pipelining). */
  pending: Buffer = EMPTY;
  responses = 0;
  private readonly queue: Buffer[] = [];
  private ended: End | undefined;
  private wake: (() => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      if (this.queue.length >= MAX_QUEUED_CHUNKS) socket.pause();
      this.notify();
    });
    socket.on('end', () => this.finish('closed'));
    // After the connection is up, any socket error (ECONNRESET, EPIPE...) means the response is cut short.
    socket.on('error', () => this.finish('reset'));
    socket.on('close', () => this.finish('closed'));
  }

  get open(): boolean {
    return this.ended === undefined && !this.socket.destroyed;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The bytes left over from the previous response (pipelining), taken once. */
  takePending(): Buffer {
    const pending = this.pending;
    this.pending = EMPTY;
    return pending;
  }

  /** The next chunk, or how the connection ended; rejects with IdleTimeout after timeoutMs of silence. */
  async next(timeoutMs: number): Promise<Buffer | End> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk) {
        if (this.queue.length < MAX_QUEUED_CHUNKS / 2 && this.socket.isPaused()) this.socket.resume();
        return chunk;
      }
      if (this.ended) return this.ended;
      await new Promise<void>((resolve, reject) => {
        const timer =
          timeoutMs > 0 ? setTimeout(() => ((this.wake = undefined), reject(new IdleTimeout())), timeoutMs) : undefined;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private finish(how: End): void {
    this.ended ??= how;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Where a connection goes; `origin` ("host:port", IPv6 bracketed) is what messages name. */
export interface Destination {
  host: string;
  port: number;
  origin: string;
}

/** Opens a socket with `open`; resolves once connected, or rejects with a catalogued error (the limit's when it runs out). */
export function connectSocket(
  open: (host: string, port: number) => net.Socket,
  to: Destination,
  limit: TimeLimit | undefined,
): Promise<net.Socket> {
  return whenReady(open(to.host, to.port), 'connect', limit, (err) => connectError(err, to));
}

/**
 * Resolves with `socket` at its `ready` event ("connect", "secureConnect"); rejects with the
 * limit's error when it runs out first, or `failed(err)` at an error. A socket that fails is destroyed.
 */
export function whenReady<S extends net.Socket>(
  socket: S,
  ready: string,
  limit: TimeLimit | undefined,
  failed: (err: NodeJS.ErrnoException) => ClientError,
): Promise<S> {
  return new Promise((resolve, reject) => {
    const timer = limit
      ? setTimeout(() => {
          socket.destroy();
          reject(limit.error());
        }, limit.ms)
      : undefined;
    const onError = (err: NodeJS.ErrnoException): void => {
      if (timer) clearTimeout(timer);
      socket.destroy();
      reject(failed(err));
    };
    socket.once('error', onError);
    socket.once(ready, () => {
      if (timer) clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}

/** A failed connect, by its errno code: refused (7), name not found (6), timed out (28), else cannot connect (7). */
export function connectError(err: NodeJS.ErrnoException, to: Destination): ClientError {
  // With several addresses to try (happy eyeballs) Node reports an AggregateError; its parts carry the codes.
  const parts = (err as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }).errors ?? [];
  const code = err.code ?? parts.find((e) => e.code)?.code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return new ConnectError(`connection refused by ${to.origin}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
    case 'EAI_FAIL':
      return new HostNotFoundError(`host not found: ${to.host}`);
    case 'ETIMEDOUT':
      return new TimeoutError(`connection to ${to.origin} timed out (ETIMEDOUT)`);
    default:
      return new ConnectError(`cannot connect to ${to.origin}: ${code === '' ? err.message : code}`);
  }
}
