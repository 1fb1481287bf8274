/**
 * The server's error catalogue: every error the request path raises on purpose is a class
 * here with a stable `code` (greppable, safe to match on), and the one table that turns a
 * failed file-system call into an HTTP status, like nginx's static module (NGX_ENOENT → 404,
 * NGX_EACCES → 403). Out of descriptors (this process: EMFILE, the system: ENFILE) and a file
 * that keeps changing while it is read are a moment's trouble, not a fault: 503 with
 * Retry-After. Anything not listed is our fault: 500.
 */

/** What went wrong, in words, for a log line: an Error's message, or whatever was thrown as text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Base of the errors fleetserve raises itself; `code` never changes between versions. */
export abstract class FleetserveError extends Error {
  abstract readonly code: string;
}

/** A file changed (size, mtime, inode) between the stat that described it and the read or open that serves it. */
export class FileChangedError extends FleetserveError {
  override readonly name = 'FileChangedError';
  readonly code = 'FLEETSERVE_FILE_CHANGED';
}

/** The symlink policy refused a path (a link where links are denied, or one leading out of the root): answered as not found. */
export class SymlinkRefusedError extends FleetserveError {
  override readonly name = 'SymlinkRefusedError';
  readonly code = 'FLEETSERVE_SYMLINK_REFUSED';
}

/** A body stream stopped early: the connection closed under it, or the file shrank after its length was sent. */
export class StreamAbortedError extends FleetserveError {
  override readonly name = 'StreamAbortedError';
  readonly code = 'FLEETSERVE_STREAM_ABORTED';
}

/** A configuration that cannot be used: a bad value, an unknown key or flag, an unreadable file. */
export class ConfigError extends FleetserveError {
  override readonly name = 'ConfigError';
  readonly code = 'FLEETSERVE_CONFIG';
}

/**
 * A TLS certificate or key that cannot be served: unreadable, not PEM, unparsable, a key that
 * does not belong to its certificate. `file` is the file at fault and `role` says which of the
 * pair it is, so that configuration can name its key (tlsCert / tlsKey) and a reload can log it.
 */
export class CertificateError extends FleetserveError {
  override readonly name = 'CertificateError';
  readonly code = 'FLEETSERVE_TLS_CERTIFICATE';
  constructor(
    message: string,
    readonly file: string,
    readonly role: 'cert' | 'key',
  ) {
    super(message);
  }
}

/**
 * A listening address that cannot be served (cannot be bound, a host name that does not
 * resolve, an inherited socket that cannot be listened on); the message is the one line a
 * user reads (see describeListenError).
 */
export class ListenError extends FleetserveError {
  override readonly name = 'ListenError';
  readonly code = 'FLEETSERVE_LISTEN';
}

/** A TLS connection sent no complete ClientHello within the handshake timeout. */
export class HandshakeTimeoutError extends FleetserveError {
  override readonly name = 'HandshakeTimeoutError';
  readonly code = 'FLEETSERVE_TLS_HANDSHAKE_TIMEOUT';
}

/** A connection on the TLS port began with plain text (an HTTP request) instead of a ClientHello. */
export class PlainTextOnTlsPortError extends FleetserveError {
  override readonly name = 'PlainTextOnTlsPortError';
  readonly code = 'FLEETSERVE_TLS_PLAIN_TEXT';
}

/** A TLS-ALPN-01 challenge that cannot be served: a name that is no host name, or a pair that does not fit it. */
export class AcmeChallengeError extends FleetserveError {
  override readonly name = 'AcmeChallengeError';
  readonly code = 'FLEETSERVE_TLS_ACME_CHALLENGE';
}

/** A TLS-ALPN-01 validation (ALPN acme-tls/1 alone) for a name with no challenge pending: refused. */
export class NoAcmeChallengeError extends FleetserveError {
  override readonly name = 'NoAcmeChallengeError';
  readonly code = 'FLEETSERVE_TLS_ACME_NO_CHALLENGE';
}

const ERRNO_STATUS: Readonly<Record<string, number>> = Object.freeze({
  ENOENT: 404,
  ENOTDIR: 404,
  ENAMETOOLONG: 404,
  ELOOP: 404,
  EACCES: 403,
  EPERM: 403,
  EMFILE: 503,
  ENFILE: 503,
  FLEETSERVE_SYMLINK_REFUSED: 404,
  FLEETSERVE_FILE_CHANGED: 503,
});

/** Seconds a 503 for a transient overload asks the client to wait (Retry-After). */
export const RETRY_AFTER_SECONDS = 1;

function codeOf(err: unknown): string | undefined {
  return (err as { code?: unknown } | null)?.code as string | undefined;
}

/** Out of file descriptors: worth retrying in a moment, and a reason to stop accepting. */
export function isOutOfDescriptors(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'EMFILE' || code === 'ENFILE';
}

/** Trouble that passes by itself (no descriptors, a file being rewritten): 503 + Retry-After, nothing cached. */
export function isTransient(err: unknown): boolean {
  return isOutOfDescriptors(err) || err instanceof FileChangedError;
}

/** The HTTP status for a failed file-system call or a catalogued error; 500 for anything else. */
export function statusForError(err: unknown): number {
  const code = codeOf(err);
  return (code && ERRNO_STATUS[code]) || 500;
}

/** A bind failure turned into the one line a user should read. */
export function describeListenError(err: NodeJS.ErrnoException, host: string, port: number): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied to listen on port ${port} on ${host} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `address ${host} is not available on this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name ${host} could not be resolved`;
    default:
      return `cannot listen on ${host}:${port}: ${err.code ?? err.message}`;
  }
}

/** The ACME storage directory cannot be created, read or written (acmeStorage). */
export class AcmeStorageError extends FleetserveError {
  override readonly name = 'AcmeStorageError';
  readonly code = 'FLEETSERVE_ACME_STORAGE';
}

/** A TLS handshake refused because ACME has not obtained the first certificate yet. */
export class NoCertificateYetError extends FleetserveError {
  override readonly name = 'NoCertificateYetError';
  readonly code = 'FLEETSERVE_NO_CERTIFICATE_YET';
}
