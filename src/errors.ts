/**
 * Where a failed file-system call becomes an HTTP status: one table, like nginx's static
 * module (NGX_ENOENT → 404, NGX_EACCES → 403). Out of descriptors (this process: EMFILE, the
 * system: ENFILE) is a moment's overload, not a fault: 503 with Retry-After. Anything not
 * listed is our fault: 500.
 */
const ERRNO_STATUS: Readonly<Record<string, number>> = Object.freeze({
  ENOENT: 404,
  ENOTDIR: 404,
  ENAMETOOLONG: 404,
  ELOOP: 404,
  EACCES: 403,
  EPERM: 403,
  EMFILE: 503,
  ENFILE: 503,
});

/** Seconds a 503 for a transient overload asks the client to wait (Retry-After). */
export const RETRY_AFTER_SECONDS = 1;

/** Out of file descriptors: worth retrying in a moment, and a reason to stop accepting. */
export function isOutOfDescriptors(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

export function statusForErrno(err: unknown): number {
  const code = (err as NodeJS.ErrnoException | null)?.code;
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
