/**
 * Exit codes of fleetserve-client. They are part of its interface (scripts test
 * them), so a value, once published, never changes meaning.
 */
export const EXIT = {
  OK: 0,
  /** A bug: an exception nobody expected. */
  INTERNAL: 1,
  USAGE: 2,
  /** Connection refused, network or host unreachable, or reset while connecting. */
  CONNECT: 3,
  HOST_NOT_FOUND: 4,
  /** --connect-timeout or --timeout ran out. */
  TIMEOUT: 5,
  /** The connection ended before the whole response arrived. */
  INCOMPLETE: 6,
  MALFORMED: 7,
  /** The -o file or stdout could not be written. */
  OUTPUT: 8,
  /** At least one response had a status of 400 or more (every body was still fetched). */
  HTTP_ERROR: 22,
  /** -L followed more redirects than --max-redirs allows (curl's code for it). */
  TOO_MANY_REDIRECTS: 47,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure that ends the run with a one-line message and a specific exit code. */
export class ClientError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}
