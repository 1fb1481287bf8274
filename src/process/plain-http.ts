/**
 * The plain HTTP/1.1 listener kind: an admitted socket becomes a Connection at once, or,
 * behind a proxy (trustedProxies, proxyProtocol), once BehindProxy knows who the client is.
 */
import type net from 'node:net';
import type { AcceptedSocket } from '../http/behind-proxy';
import { Connection, type ConnectionOptions, type ConnectionOrigin } from '../http/connection';
import type { ListenerInfo } from '../http/types';
import type { Admitted, ListenerKind } from './listener';
import type { InForce } from './serving';

/** Every plain connection's listener data: the main plain listener and httpPort are both "http". */
const PLAIN_HTTP: ListenerInfo = Object.freeze({ name: 'http', tls: undefined });

export class PlainHttp implements ListenerKind {
  constructor(
    private readonly inForce: InForce,
    private readonly options: ConnectionOptions,
  ) {}

  accept(socket: net.Socket, to: Admitted): void {
    // Read per accepted socket: a reload in place changes who is trusted for new connections.
    const behindProxy = this.inForce.current.behindProxy;
    if (behindProxy === null) this.open(socket, null, to);
    else behindProxy.accept(socket, this.acceptedSocket(socket, to));
  }

  private open(socket: net.Socket, origin: ConnectionOrigin | null, to: Admitted): void {
    to.open(new Connection(socket, this.options, to.closed, origin, PLAIN_HTTP));
  }

  private acceptedSocket(socket: net.Socket, to: Admitted): AcceptedSocket {
    return { open: (origin) => this.open(socket, origin, to), hold: to.hold, release: to.closed };
  }
}
