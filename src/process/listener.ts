/**
 * Where connections come from: one Listener per listening socket (an address, or the socket
 * handed over by socket activation), all of a process's listeners sharing one Admission (the
 * connection count, the accept gate, the drain). What differs between kinds of listener —
 * plain HTTP, and later TLS or a plain-HTTP redirect — is only how an admitted socket becomes
 * a connection: that is a ListenerKind. Binding, listening again after a pause, the accept
 * errors and their reports are the same for every kind, here.
 */
import net from 'node:net';
import type { AcceptGate } from './accept-gate';
import { describeInherited, type InheritedSocket } from './activation';
import { describeListenError, isOutOfDescriptors, ListenError } from '../errors';
import type { Logger } from '../logs/logger';
import type { RequestCounters } from '../metrics/counters';
import type { Drainable, Drainer } from './shutdown';

/** What a listener binds: an address, or an inherited listening socket (host and port then ignored). */
export type ListenTarget = { host: string; port: number } | { inherited: InheritedSocket };

/** Where a listener kind puts what it made of an admitted socket: the process's one book of connections. */
export interface Admitted {
  /** A connection is open: counted, and told to drain if the drain began meanwhile. */
  readonly open: (conn: Drainable) => void;
  /** Counted (and drained) while a step before the connection runs: a PROXY header, a handshake... */
  readonly hold: (step: Drainable) => void;
  /** ...and every connection or step that ends: no longer counted. */
  readonly closed: (c: Drainable) => void;
}

/** How an admitted socket becomes a connection: the one thing a kind of listener decides. */
export interface ListenerKind {
  accept(socket: net.Socket, to: Admitted): void;
}

/**
 * What every listener of the process shares: one count of connections (the capacity is the
 * process's file descriptors, whatever address a connection came in on), one accept gate,
 * one drain.
 */
export class Admission implements Admitted {
  constructor(
    readonly connections: Set<Drainable>,
    private readonly gate: AcceptGate,
    private readonly drain: Pick<Drainer, 'draining' | 'check'>,
    private readonly counters: RequestCounters | null,
  ) {}

  /** Every accepted socket, before its kind sees it; false: refused (the gate answered it). */
  admit(socket: net.Socket): boolean {
    if (this.counters !== null) this.counters.connectionsAccepted++;
    return this.gate.admit(socket);
  }

  readonly open = (conn: Drainable): void => {
    this.connections.add(conn);
    // Accepted after the drain began (the accept was already under way): it is answered
    // with Connection: close like every other, never dropped unanswered.
    if (this.drain.draining) conn.drain();
    else this.gate.afterAdmit();
  };

  readonly hold = (step: Drainable): void => {
    this.connections.add(step);
  };

  readonly closed = (c: Drainable): void => {
    this.connections.delete(c);
    this.drain.check();
  };

  /** accept() failed for lack of descriptors (EMFILE, ENFILE). */
  acceptFailed(): void {
    this.gate.acceptFailed();
  }
}

/** The part of net.Server a listener uses (a fake in tests). */
export type ServerLike = Pick<net.Server, 'listen' | 'close' | 'address' | 'on'>;
export type CreateServer = (onConnection: (socket: net.Socket) => void) => ServerLike;

const createNetServer: CreateServer = (onConnection) => net.createServer({ noDelay: true, allowHalfOpen: true }, onConnection);

/** Accepted connections waiting for the process: the kernel's queue, which the accept gate leans on. */
const BACKLOG = 4096;

export class Listener {
  private readonly server: ServerLike;
  /**
   * Listening again after a pause uses the very same options: cluster finds the shared handle
   * by them (with port 0 too, and the inherited fd), so no new socket is bound.
   */
  private readonly listenOptions: net.ListenOptions | { fd: number; backlog: number };
  private listened = false;
  private startFailed: ((err: ListenError) => void) | null = null;

  constructor(
    readonly target: ListenTarget,
    private readonly kind: ListenerKind,
    private readonly admission: Admission,
    private readonly log: Logger,
    createServer: CreateServer = createNetServer,
  ) {
    this.listenOptions = 'inherited' in target ? { fd: target.inherited.fd, backlog: BACKLOG } : { host: target.host, port: target.port, backlog: BACKLOG };
    this.server = createServer((socket) => {
      if (this.admission.admit(socket)) this.kind.accept(socket, this.admission);
    });
    this.server.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
  }

  /** Listens the first time: resolves with the address bound, rejects with the ListenError to report. */
  start(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.startFailed = reject;
      this.server.listen(this.listenOptions, () => {
        this.listened = true;
        this.startFailed = null;
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** After a pause (the accept gate's), or never when the drain began. */
  resume(): void {
    this.server.listen(this.listenOptions);
  }

  /** Stops accepting (a pause, or the drain); open connections are not touched. */
  close(): void {
    this.server.close();
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.listened) {
      // After the bind, errors come from accept() (EMFILE, ENFILE under load): that
      // connection is lost, the listener is not. Never turn them into a shutdown.
      if (isOutOfDescriptors(err)) this.admission.acceptFailed();
      else this.log.error({ err }, `accept failed: ${err.code ?? err.message}`);
      return;
    }
    const t = this.target;
    const message = 'inherited' in t ? `cannot serve the ${describeInherited(t.inherited)}: ${err.code ?? err.message}` : describeListenError(err, t.host, t.port);
    this.startFailed?.(new ListenError(message));
    this.startFailed = null;
  }
}

/**
 * Every listener of the process, paused and resumed together: a full process takes no
 * connection on any of its addresses, and the drain stops them all.
 */
export class ListenerGroup {
  private readonly listeners: Listener[] = [];
  private closedForGood = false;

  /** The drain began: no listener listens again. */
  get closed(): boolean {
    return this.closedForGood;
  }

  /**
   * Starts a listener on each address in turn. With port 0 the first one picks the port and
   * the others take the same, so that one name (localhost) means one port. Rejects with the
   * first ListenError; resolves with the first listener's address, or null when the drain
   * began meanwhile.
   */
  async listen(targets: readonly ListenTarget[], make: (target: ListenTarget) => Listener): Promise<net.AddressInfo | null> {
    let first: net.AddressInfo | null = null;
    for (const target of targets) {
      if (this.closedForGood) return null;
      const listener = make(first === null || 'inherited' in target ? target : { host: target.host, port: first.port });
      this.listeners.push(listener);
      const bound = await listener.start();
      first ??= bound;
      // A drain that began while this one was binding closed it too early to take effect.
      if (this.closedForGood) listener.close();
    }
    return this.closedForGood ? null : first;
  }

  pause(): void {
    for (const l of this.listeners) l.close();
  }

  resume(): void {
    if (this.closedForGood) return;
    for (const l of this.listeners) l.resume();
  }

  /** The drain: stop accepting for good. */
  close(): void {
    this.closedForGood = true;
    for (const l of this.listeners) l.close();
  }
}
