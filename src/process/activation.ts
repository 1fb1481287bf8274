/**
 * Socket activation (sd_listen_fds(3)): systemd — or anything speaking its protocol, such as
 * systemd-socket-activate — opens the listening sockets itself and hands them to the process
 * from fd 3 on, saying so with LISTEN_PID (which process the fds are for), LISTEN_FDS (how
 * many) and LISTEN_FDNAMES (their names, colon-separated: each socket unit's
 * FileDescriptorName=, by default the unit's own name).
 *
 * Because a socket outlives the process, a full restart refuses no connection: the kernel
 * keeps completing handshakes into the socket's backlog while no process accepts, and the
 * next fleetserve takes them from there.
 *
 * fleetserve has at most two listeners, and a name says which socket is which:
 *   one socket, any name (or none) the main listener (host/port), as ever
 *   "https"                        the main listener, with HTTPS on (tlsCert/tlsKey)
 *   "http"                         the httpPort listener beside it (httpPort ≠ 0)
 * Alone, a socket named "http" is the main listener of a plain-HTTP server; two sockets must
 * be named "https" and "http". Anything else is an error: guessing would serve TLS on the
 * port meant for redirects, or the other way round.
 */

/** The first inherited file descriptor, fixed by the protocol. */
export const SD_LISTEN_FDS_START = 3;

/** The environment variables of the protocol; cleared before any child process starts. */
export const ACTIVATION_ENV = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

/** The name (FileDescriptorName=) of the socket the main listener serves over TLS. */
export const HTTPS_SOCKET_NAME = 'https';
/** The name of the socket the httpPort listener serves (or, alone and without TLS, the main one). */
export const HTTP_SOCKET_NAME = 'http';

export interface InheritedSocket {
  /** The inherited fd, from SD_LISTEN_FDS_START on. */
  fd: number;
  /** Its name from LISTEN_FDNAMES (the socket unit's FileDescriptorName=), or "". */
  name: string;
}

/** The inherited sockets a process serves: always the main listener's, and httpPort's when named so. */
export interface InheritedSockets {
  main: InheritedSocket;
  /** null: httpPort (when not 0) binds host:httpPort itself. */
  httpPort: InheritedSocket | null;
}

export type Activation = { kind: 'none' } | { kind: 'sockets'; sockets: InheritedSocket[] } | { kind: 'invalid'; reason: string };

/**
 * Reads the protocol's variables. Like sd_listen_fds(), variables meant for another process
 * (LISTEN_PID is not ours) mean "not activated"; values that cannot be right are an error,
 * because guessing would either bind a port the operator did not ask for or serve a wrong fd.
 */
export function readActivation(env: Readonly<Record<string, string | undefined>>, pid: number): Activation {
  const listenPid = env.LISTEN_PID;
  const listenFds = env.LISTEN_FDS;
  if (listenPid === undefined && listenFds === undefined) return { kind: 'none' };
  if (listenPid === undefined || listenFds === undefined) {
    return { kind: 'invalid', reason: `socket activation needs both LISTEN_PID and LISTEN_FDS (got only ${listenPid === undefined ? 'LISTEN_FDS' : 'LISTEN_PID'})` };
  }
  if (!/^[1-9]\d*$/.test(listenPid)) return { kind: 'invalid', reason: `LISTEN_PID must be a process id: got ${JSON.stringify(listenPid)}` };
  if (Number(listenPid) !== pid) return { kind: 'none' };
  if (!/^\d+$/.test(listenFds)) return { kind: 'invalid', reason: `LISTEN_FDS must be a whole number: got ${JSON.stringify(listenFds)}` };
  const count = Number(listenFds);
  if (count === 0) return { kind: 'none' };
  // Unset or empty: no socket has a name (as sd_listen_fds_with_names(), which says "unknown").
  const given = env.LISTEN_FDNAMES;
  const names = given === undefined || given === '' ? Array<string>(count).fill('') : given.split(':');
  if (names.length !== count) {
    return { kind: 'invalid', reason: `LISTEN_FDNAMES names ${names.length} sockets (${JSON.stringify(given)}) but LISTEN_FDS is ${count}` };
  }
  return { kind: 'sockets', sockets: names.map((name, i) => ({ fd: SD_LISTEN_FDS_START + i, name })) };
}

/** What the configuration makes of the listeners: whether the main one speaks TLS, and httpPort (0: none). */
export interface Listeners {
  tls: boolean;
  httpPort: number;
}

export type Assignment = { kind: 'ok'; inherited: InheritedSockets } | { kind: 'invalid'; reason: string };

const NAMING = `"${HTTPS_SOCKET_NAME}" for the main listener (host/port) and "${HTTP_SOCKET_NAME}" for httpPort (FileDescriptorName= in their socket units)`;

/** Which inherited socket each listener serves (see the table at the top), or why none fits. */
export function assignInheritedSockets(sockets: readonly InheritedSocket[], listeners: Listeners): Assignment {
  const invalid = (reason: string): Assignment => ({ kind: 'invalid', reason });
  if (sockets.length === 1) return assignOne(sockets[0]!, listeners);
  if (sockets.length > 2) return invalid(`${sockets.length} inherited sockets (LISTEN_FDS=${sockets.length}), but fleetserve serves at most 2: ${NAMING}`);
  if (!listeners.tls) return invalid(`2 inherited sockets (LISTEN_FDS=2), but without HTTPS (tlsCert and tlsKey) fleetserve has one listener`);
  if (sockets.every((s) => s.name === '')) return invalid(`2 inherited sockets need names to tell them apart: ${NAMING}`);
  for (const s of sockets) {
    if (s.name !== HTTPS_SOCKET_NAME && s.name !== HTTP_SOCKET_NAME) return invalid(`inherited fd ${s.fd} is named ${JSON.stringify(s.name)}: name the 2 sockets ${NAMING}`);
  }
  const main = sockets.find((s) => s.name === HTTPS_SOCKET_NAME);
  const httpPort = sockets.find((s) => s.name === HTTP_SOCKET_NAME);
  if (main === undefined || httpPort === undefined) return invalid(`both inherited sockets are named ${JSON.stringify(sockets[0]!.name)}: name them ${NAMING}`);
  if (listeners.httpPort === 0) {
    return invalid(`the inherited socket fd ${httpPort.fd} is named "${HTTP_SOCKET_NAME}" (the httpPort listener) but httpPort is 0 (off): set httpPort to turn that listener on (the socket's own port is served)`);
  }
  return { kind: 'ok', inherited: { main, httpPort } };
}

/** One socket is the main listener's, as before names were read; only a name that says otherwise is an error. */
function assignOne(socket: InheritedSocket, listeners: Listeners): Assignment {
  if (socket.name === HTTPS_SOCKET_NAME && !listeners.tls) {
    return { kind: 'invalid', reason: `the inherited socket is named "${HTTPS_SOCKET_NAME}" but HTTPS is off: set tlsCert and tlsKey, or rename the socket (FileDescriptorName=)` };
  }
  if (socket.name === HTTP_SOCKET_NAME && listeners.tls) {
    return {
      kind: 'invalid',
      reason: `the only inherited socket is named "${HTTP_SOCKET_NAME}" (the httpPort listener) but HTTPS is on: the main listener needs a socket named "${HTTPS_SOCKET_NAME}"`,
    };
  }
  return { kind: 'ok', inherited: { main: socket, httpPort: null } };
}

/** Human wording of a served socket, for log lines. */
export function describeInherited(s: InheritedSocket): string {
  return `inherited socket fd ${s.fd}${s.name ? ` (${s.name})` : ''}`;
}

/** " and httpPort 80 from the inherited socket fd 4 (http)" when httpPort is served from a socket of its own, for the listening line. */
export function httpPortFrom(httpPort: InheritedSocket | null, port: number): string {
  return httpPort === null ? '' : ` and httpPort ${port} from the ${describeInherited(httpPort)}`;
}

/** The settings the inherited sockets stand in for, as the listening line names them. */
export function ignoredSettings(httpPort: InheritedSocket | null): string {
  return httpPort === null ? 'host and port settings' : 'host, port and httpPort settings';
}
