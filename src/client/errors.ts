/**
 * fleetserve-client's error catalogue: its exit codes, what each means (the usage text's list
 * is built from EXIT_MEANINGS), and one error class per way a run fails, each with a stable
 * `code` and the exit code it ends the run with, in the style of the server's src/errors.ts.
 * Exit codes are part of the interface (scripts test them). They are curl's for the same
 * failure, so a script written for curl reads them the same way; 22 is the one difference:
 * it needs no -f here. The table is in numeric order, as --help lists it.
 */
export const EXIT = {
  OK: 0,
  /** A scheme other than http:// and https://, given or redirected to (curl: unsupported protocol). */
  UNSUPPORTED_PROTOCOL: 1,
  USAGE: 2,
  /** A URL (or a -L Location) that does not parse, or has no host. */
  BAD_URL: 3,
  HOST_NOT_FOUND: 6,
  /** Connection refused, network or host unreachable, or reset while connecting. */
  CONNECT: 7,
  MALFORMED: 8,
  /** The connection closed after part of the response (curl: partial file). */
  INCOMPLETE: 18,
  /** At least one response had a status of 400 or more (every path was still fetched). */
  HTTP_ERROR: 22,
  /** The -o file or stdout could not be written. */
  OUTPUT: 23,
  /** --connect-timeout, --timeout or -m ran out. */
  TIMEOUT: 28,
  /** The TLS handshake failed: not a TLS server, no shared version or cipher, closed or reset (curl: SSL connect error). */
  TLS_HANDSHAKE: 35,
  /** A bug: an exception nobody expected (curl's "internal error"). */
  INTERNAL: 43,
  /** -L followed more redirects than --max-redirs allows. */
  TOO_MANY_REDIRECTS: 47,
  /** The connection closed before a single byte of the response (curl: empty reply from server). */
  EMPTY_REPLY: 52,
  /** The connection was reset while the response was due or arriving (curl: failure receiving data). */
  RESET: 56,
  /** The server's certificate cannot be verified: expired, not yet valid, an unknown CA, not for the host (curl: peer failed verification). */
  CERTIFICATE: 60,
  /** --compressed: a Content-Encoding the client cannot decode, or a body that does not decode. */
  BAD_CONTENT_ENCODING: 61,
  /** The --cacert file cannot be read or holds no PEM certificate (curl: problem with the CA cert). */
  CA_FILE: 77,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Each exit code as the usage text lists it; the type makes a new code without a line a compile error. */
export const EXIT_MEANINGS: { readonly [K in keyof typeof EXIT]: string } = {
  OK: 'success',
  UNSUPPORTED_PROTOCOL: 'unsupported protocol (only http:// and https://)',
  USAGE: 'usage error',
  BAD_URL: 'malformed URL',
  HOST_NOT_FOUND: 'host not found',
  CONNECT: 'cannot connect',
  MALFORMED: 'malformed response',
  INCOMPLETE: 'connection closed before the response ended',
  HTTP_ERROR: 'a response had an HTTP status of 400 or more',
  OUTPUT: 'cannot write the output',
  TIMEOUT: 'timeout',
  TLS_HANDSHAKE: 'TLS handshake failed',
  INTERNAL: 'internal error (a bug)',
  TOO_MANY_REDIRECTS: 'more redirects than --max-redirs',
  EMPTY_REPLY: 'connection closed before any response',
  RESET: 'connection reset',
  CERTIFICATE: 'the server certificate cannot be verified (see --cacert, -k)',
  BAD_CONTENT_ENCODING: 'cannot decode the Content-Encoding (--compressed)',
  CA_FILE: 'cannot use the --cacert file',
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

/** A bad command line. */
export class UsageError extends coded('UsageError', 'FLEETSERVE_CLIENT_USAGE', EXIT.USAGE) {}

/** A URL (given, or a -L redirect's) with a scheme other than http:// and https://. */
export class UnsupportedProtocolError extends coded('UnsupportedProtocolError', 'FLEETSERVE_CLIENT_UNSUPPORTED_PROTOCOL', EXIT.UNSUPPORTED_PROTOCOL) {}

/** A URL that does not parse or has no host, on the command line or in a -L Location. */
export class BadUrlError extends coded('BadUrlError', 'FLEETSERVE_CLIENT_BAD_URL', EXIT.BAD_URL) {}

/** Connection refused, unreachable, or reset while connecting. */
export class ConnectError extends coded('ConnectError', 'FLEETSERVE_CLIENT_CONNECT', EXIT.CONNECT) {}

/** The host name did not resolve. */
export class HostNotFoundError extends coded('HostNotFoundError', 'FLEETSERVE_CLIENT_HOST_NOT_FOUND', EXIT.HOST_NOT_FOUND) {}

/** --connect-timeout while connecting, --timeout of silence while a response was due, or -m for a whole transfer. */
export class TimeoutError extends coded('TimeoutError', 'FLEETSERVE_CLIENT_TIMEOUT', EXIT.TIMEOUT) {}

/** The connection closed after part of the response, before its end. */
export class IncompleteResponseError extends coded('IncompleteResponseError', 'FLEETSERVE_CLIENT_INCOMPLETE', EXIT.INCOMPLETE) {}

/** The connection closed before a single byte of the response arrived. */
export class EmptyReplyError extends coded('EmptyReplyError', 'FLEETSERVE_CLIENT_EMPTY_REPLY', EXIT.EMPTY_REPLY) {}

/** The connection was reset (or failed) after it was made, before the response ended. */
export class ConnectionResetError extends coded('ConnectionResetError', 'FLEETSERVE_CLIENT_RESET', EXIT.RESET) {}

/** The server's bytes are not an HTTP/1.x response. */
export class MalformedResponseError extends coded('MalformedResponseError', 'FLEETSERVE_CLIENT_MALFORMED', EXIT.MALFORMED) {}

/** The -o/-O file or stdout could not be written. */
export class OutputError extends coded('OutputError', 'FLEETSERVE_CLIENT_OUTPUT', EXIT.OUTPUT) {}

/** --compressed: a Content-Encoding without a decoder here, or a body that does not decode. */
export class BadContentEncodingError extends coded('BadContentEncodingError', 'FLEETSERVE_CLIENT_CONTENT_ENCODING', EXIT.BAD_CONTENT_ENCODING) {}

/** -L would follow one redirect more than --max-redirs allows. */
export class TooManyRedirectsError extends coded('TooManyRedirectsError', 'FLEETSERVE_CLIENT_TOO_MANY_REDIRECTS', EXIT.TOO_MANY_REDIRECTS) {}

/** The TLS handshake did not complete (before any certificate check). */
export class TlsHandshakeError extends coded('TlsHandshakeError', 'FLEETSERVE_CLIENT_TLS_HANDSHAKE', EXIT.TLS_HANDSHAKE) {}

/** The handshake completed but the server's certificate failed verification (without -k). */
export class CertificateError extends coded('CertificateError', 'FLEETSERVE_CLIENT_CERTIFICATE', EXIT.CERTIFICATE) {}

/** The --cacert file cannot be read, or holds no PEM certificate. */
export class CaFileError extends coded('CaFileError', 'FLEETSERVE_CLIENT_CA_FILE', EXIT.CA_FILE) {}
