/**
 * The pid file (`pidFile`): the primary's pid, for whatever must signal fleetserve without a
 * service manager that knows it (logrotate's `postrotate` on a plain install, an init script).
 * Written atomically — a temporary file in the same directory, then rename(2) — so a reader
 * never sees an empty or half-written file, and whatever was there before (a stale file from
 * a process that died) is simply replaced. Removed at exit only while it still holds this
 * process's pid: a newer fleetserve that took the path over keeps its file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';

/** Writes `pid` and a newline to `file` (an absolute path). Throws ConfigError when it cannot. */
export function writePidFile(file: string, pid: number): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${pid}.tmp`);
  try {
    fs.writeFileSync(temporary, `${pid}\n`, { mode: 0o644 });
    fs.renameSync(temporary, file);
  } catch (err) {
    fs.rmSync(temporary, { force: true });
    throw new ConfigError(`pidFile: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Removes `file` if it still holds `pid`; anything else (gone, another pid) is left alone. */
export function removePidFile(file: string, pid: number): void {
  try {
    if (fs.readFileSync(file, 'utf8').trim() === String(pid)) fs.unlinkSync(file);
  } catch {
    // Gone already, or unreadable now: nothing of ours to remove.
  }
}
