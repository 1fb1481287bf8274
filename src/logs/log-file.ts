/**
 * A log file opened for appending, written synchronously, and reopened by name on request
 * (SIGUSR1 after logrotate has moved it away).
 *
 * Every process of the cluster opens the same path with O_APPEND, so each write(2) lands
 * whole at the current end of the file, never over or inside another process's write: whole
 * lines (or whole batches of lines) in, whole lines in the file. Writes are synchronous: into
 * a regular file they only copy into the page cache, and they make a reopen exact (what was
 * handed over before the reopen is in the old file, what comes after in the new one).
 */
import fs from 'node:fs';

export class LogFile {
  private fd: number;
  /** Set after a failed write, so a full disk gives one stderr line, not one per request. */
  private failing = false;

  /** Opens (creating if missing) for appending; throws the open error for the caller to report. */
  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'a');
  }

  write(text: string): void {
    this.writeBytes(Buffer.from(text, 'utf8'));
  }

  /** Writes `buf` whole before returning (the caller may reuse it at once). */
  writeBytes(buf: Buffer): void {
    try {
      let off = 0;
      while (off < buf.length) off += fs.writeSync(this.fd, buf, off);
      this.failing = false;
    } catch (err) {
      // A log that cannot be written must never take the server down (ENOSPC, EIO, EDQUOT).
      if (!this.failing) process.stderr.write(`fleetserve: cannot write to ${this.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; log lines are being lost\n`);
      this.failing = true;
    }
  }

  /**
   * Opens the path again and switches to it; the old descriptor (the rotated file) is closed.
   * If the path cannot be opened, keeps writing to the old file and throws for the caller.
   */
  reopen(): void {
    const fd = fs.openSync(this.path, 'a');
    const old = this.fd;
    this.fd = fd;
    fs.closeSync(old);
  }
}
