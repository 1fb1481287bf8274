/**
 * How many connections a worker can hold without running out of file descriptors: read once
 * at start-up. A connection needs its socket, and one more descriptor while it streams a
 * file or reads one into the cache, so it is counted as two (nginx's advice for
 * worker_rlimit_nofile is the same: twice worker_connections). Running out at accept() is what
 * must never happen: libuv then accepts and closes every queued connection to clear the
 * backlog (its "EMFILE trick"), dropping them without a word.
 */
import fs from 'node:fs';

/** Descriptors kept for everything else: log files, a refused connection's 503, listening again. */
export const FD_RESERVE = 32;
/** Descriptors a connection may need: its socket and one open file. */
export const FDS_PER_CONNECTION = 2;

export interface Capacity {
  /** Most connections this worker accepts at once. */
  connections: number;
  /** The soft RLIMIT_NOFILE, or null where it cannot be read (not Linux). */
  fdLimit: number | null;
  /** Descriptors open when the capacity was computed. */
  fdsOpen: number | null;
}

/** The soft "Max open files" of /proc/<pid>/limits, or null. */
export function parseNofileLimit(limits: string): number | null {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (m === null) return null;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/** min(maxConnections, what the descriptor limit leaves after the reserve, two per connection), at least 1. */
export function connectionCapacity(maxConnections: number, fdLimit: number | null, fdsOpen: number | null): number {
  if (fdLimit === null || fdsOpen === null || !Number.isFinite(fdLimit)) return maxConnections;
  const byDescriptors = Math.floor((fdLimit - fdsOpen - FD_RESERVE) / FDS_PER_CONNECTION);
  return Math.max(1, Math.min(maxConnections, byDescriptors));
}

/** This process's capacity, from its own limit and descriptors (Linux /proc; elsewhere maxConnections). */
export function measureCapacity(maxConnections: number): Capacity {
  let fdLimit: number | null = null;
  let fdsOpen: number | null = null;
  try {
    fdLimit = parseNofileLimit(fs.readFileSync('/proc/self/limits', 'latin1'));
    fdsOpen = fs.readdirSync('/proc/self/fd').length;
  } catch {
    // no /proc: trust maxConnections
  }
  return { connections: connectionCapacity(maxConnections, fdLimit, fdsOpen), fdLimit, fdsOpen };
}
