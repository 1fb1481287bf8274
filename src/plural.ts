/**
 * Counts in messages: "1 worker", "2 workers", never "1 workers". Its own module so that the
 * client, which never loads pino, can use it too.
 */

/** The noun for `n` of it: "fd" for 1, "fds" otherwise (0 included). */
export function nounFor(n: number, noun: string): string {
  return n === 1 ? noun : `${noun}s`;
}

/** "1 connection", "2 connections". */
export function countOf(n: number, noun: string): string {
  return `${n} ${nounFor(n, noun)}`;
}
