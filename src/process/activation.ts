/**
 * Socket activation (sd_listen_fds(3)): systemd — or anything speaking its protocol, such as
 * systemd-socket-activate — opens the listening socket itself and hands it to the process as
 * fd 3, saying so with LISTEN_PID (which process the fds are for), LISTEN_FDS (how many,
 * from fd 3 on) and LISTEN_FDNAMES (their names, colon-separated).
 *
 * Because the socket outlives the process, a full restart refuses no connection: the kernel
 * keeps completing handshakes into the socket's backlog while no process accepts, and the
 * next fleetserve takes them from there.
 */
import { nounFor } from '../plural';

/** The first inherited file descriptor, fixed by the protocol. */
export const SD_LISTEN_FDS_START = 3;

/** The environment variables of the protocol; cleared before any child process starts. */
export const ACTIVATION_ENV = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

export interface InheritedSocket {
  /** The fd served (always SD_LISTEN_FDS_START). */
  fd: number;
  /** Its name from LISTEN_FDNAMES (the socket unit's FileDescriptorName=), or "". */
  name: string;
  /** Further inherited fds, which fleetserve does not serve (one listening socket only). */
  ignoredFds: number[];
}

export type Activation = { kind: 'none' } | { kind: 'socket'; socket: InheritedSocket } | { kind: 'invalid'; reason: string };

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
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const ignoredFds: number[] = [];
  for (let i = 1; i < count; i++) ignoredFds.push(SD_LISTEN_FDS_START + i);
  return { kind: 'socket', socket: { fd: SD_LISTEN_FDS_START, name: names[0] ?? '', ignoredFds } };
}

/** The warning for sockets beyond the first, which are not served: "serving fd 3 only; ignoring inherited fds 4, 5". */
export function describeIgnoredFds(s: InheritedSocket): string {
  return `serving fd ${s.fd} only; ignoring inherited ${nounFor(s.ignoredFds.length, 'fd')} ${s.ignoredFds.join(', ')}`;
}

/** Human wording of the served socket, for log lines. */
export function describeInherited(s: InheritedSocket): string {
  return `inherited socket fd ${s.fd}${s.name ? ` (${s.name})` : ''}`;
}
