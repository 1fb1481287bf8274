/**
 * The time limits of one wait (connecting, or the next bytes of a response): the option's own
 * (--connect-timeout, --timeout) and what -m leaves of the whole transfer. The nearer one is
 * the timer; each names its own error, so the message says which limit ran out (pure).
 */
import { TimeoutError } from './errors';

export interface TimeLimit {
  ms: number;
  /** Made when the limit runs out, so that it can say how far the transfer got. */
  error: () => TimeoutError;
}

/** The limit of an option (--connect-timeout, --timeout) of `ms` (0: none), ending in `message`. */
export function optionLimit(ms: number, message: () => string): TimeLimit | undefined {
  return ms > 0 ? { ms, error: () => new TimeoutError(message()) } : undefined;
}

/** The limit that runs out first (undefined when neither applies); a tie goes to `b`. */
export function nearer(a: TimeLimit | undefined, b: TimeLimit | undefined): TimeLimit | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.ms < b.ms ? a : b;
}

/**
 * What -m (maxTimeMs; 0 is no limit) leaves at `now` of a transfer that started at `startedAt`.
 * At least 1 ms: a limit already spent fires at once rather than meaning "no limit".
 */
export function maxTimeLeft(maxTimeMs: number, startedAt: number, now: number, where: () => string): TimeLimit | undefined {
  if (maxTimeMs <= 0) return undefined;
  return {
    ms: Math.max(1, startedAt + maxTimeMs - now),
    error: () => new TimeoutError(`timed out: --max-time ${maxTimeMs / 1000} s reached ${where()}`),
  };
}

/** What is left of `limit` after `elapsedMs` (at least 1 ms, as maxTimeLeft), with the same error. */
export function remaining(limit: TimeLimit | undefined, elapsedMs: number): TimeLimit | undefined {
  return limit && { ms: Math.max(1, limit.ms - elapsedMs), error: limit.error };
}
