/**
 * fleetserve-client's error catalogue: its exit codes, what each means (the usage text's list
 * is built from EXIT_MEANINGS), and one error class per way a run fails, each with a stable
 * `code` and the exit code it ends the run with, in the style of the server's src/errors.ts.
 * Exit codes are part of the interface (scripts test them): a value, once published, never
 * changes meaning.
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

/** Each exit code as the usage text lists it; the type makes a new code without a line a compile error. */
export const EXIT_MEANINGS: { readonly [K in keyof typeof EXIT]: string } = {
  OK: 'success',
  INTERNAL: 'internal error (a bug)',
  USAGE: 'usage error',
  CONNECT: 'cannot connect',
  HOST_NOT_FOUND: 'host not found',
  TIMEOUT: 'timeout',
  INCOMPLETE: 'connection closed before the response ended',
  MALFORMED: 'malformed response',
  OUTPUT: 'cannot write the output',
  HTTP_ERROR: 'a response had an HTTP status of 400 or more',
  TOO_MANY_REDIRECTS: 'more redirects than --max-redirs',
};

/** A failure that ends the run with a one-line message and its exit code. */
export abstract class ClientError extends Error {
  /** Stable and greppable, never changes between versions. */
  abstract readonly code: string;
  abstract readonly exitCode: ExitCode;
}

/** The base of one catalogue entry: its class name, stable code and exit code, written once. */
function coded(name: string, code: string, exitCode: ExitCode) {
  return class extends ClientError {
    override readonly name = name;
    readonly code = code;
    readonly exitCode = exitCode;
  };
}

/** A bad command line, or a -L redirect to something the client cannot follow (not http://). */
export class UsageError extends coded('UsageError', 'FLEETSERVE_CLIENT_USAGE', EXIT.USAGE) {}

/** Connection refused, unreachable, or reset while connecting. */
export class ConnectError extends coded('ConnectError', 'FLEETSERVE_CLIENT_CONNECT', EXIT.CONNECT) {}

/** The host name did not resolve. */
export class HostNotFoundError extends coded('HostNotFoundError', 'FLEETSERVE_CLIENT_HOST_NOT_FOUND', EXIT.HOST_NOT_FOUND) {}

/** --connect-timeout while connecting, or --timeout of silence while a response was due. */
export class TimeoutError extends coded('TimeoutError', 'FLEETSERVE_CLIENT_TIMEOUT', EXIT.TIMEOUT) {}

/** The connection closed or was reset before the response ended. */
export class IncompleteResponseError extends coded('IncompleteResponseError', 'FLEETSERVE_CLIENT_INCOMPLETE', EXIT.INCOMPLETE) {}

/** The server's bytes are not an HTTP/1.x response (or a -L Location is not a URL). */
export class MalformedResponseError extends coded('MalformedResponseError', 'FLEETSERVE_CLIENT_MALFORMED', EXIT.MALFORMED) {}

/** The -o/-O file or stdout could not be written. */
export class OutputError extends coded('OutputError', 'FLEETSERVE_CLIENT_OUTPUT', EXIT.OUTPUT) {}

/** -L would follow one redirect more than --max-redirs allows. */
export class TooManyRedirectsError extends coded('TooManyRedirectsError', 'FLEETSERVE_CLIENT_TOO_MANY_REDIRECTS', EXIT.TOO_MANY_REDIRECTS) {}
