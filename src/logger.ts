/**
 * pino loggers for every process. Lifecycle lines are written synchronously so lines from
 * different workers never interleave mid-line and nothing is lost when a process exits;
 * access lines go through a buffered asynchronous destination (one write per ~4 KiB instead
 * of one per request) that is flushed at least once a second and when the worker drains.
 *
 * Access lines are the one place where logging sits on the hot path, so in JSON mode they
 * are formatted here as the exact line pino would write (same fields, same order) with one
 * template string, instead of pino's generic serializer: that halves their cost.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config';
import type { AccessRecord } from './http/types';

export type { Logger };

export interface Loggers {
  log: Logger;
  /** Records one response, or null when the access log is off. */
  access: ((record: AccessRecord) => void) | null;
  /** Writes out buffered access lines; call before exiting. */
  flush(): void;
}

export function usePretty(setting: Config['logPretty'], isTTY: boolean): boolean {
  return setting === 'true' || (setting === 'auto' && isTTY);
}

/** `worker` is the cluster worker id, or "primary" / "single". */
export function createLoggers(config: Pick<Config, 'logLevel' | 'logPretty' | 'accessLog'>, worker: number | string): Loggers {
  const base = { pid: process.pid, worker };
  const options: pino.LoggerOptions = { level: config.logLevel, base, timestamp: pino.stdTimeFunctions.isoTime };
  if (usePretty(config.logPretty, Boolean(process.stdout.isTTY))) {
    const stream = pretty({ sync: true, colorize: Boolean(process.stdout.isTTY), ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' });
    const log = pino(options, stream);
    const child = log.child({ kind: 'access' });
    const access = config.accessLog ? (r: AccessRecord) => child.info(r) : null;
    return { log, access, flush: () => {} };
  }
  const log = pino(options, pino.destination({ dest: 1, sync: true }));
  if (!config.accessLog) return { log, access: null, flush: () => {} };
  const accessDest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const access = accessLineWriter(accessDest, worker);
  // minLength holds lines until 4 KiB gather; on a quiet server that could be minutes, so
  // push them out at least once a second.
  setInterval(() => {
    try {
      accessDest.flush();
    } catch {
      // not open yet
    }
  }, 1000).unref();
  return {
    log,
    access,
    flush: () => {
      try {
        accessDest.flushSync();
      } catch {
        // Not ready yet (nothing written) or stdout gone: nothing more can be done.
      }
    },
  };
}

/**
 * A JSON string literal. Methods are tokens and targets visible ASCII (the parser refuses
 * anything else), so only '"' and '\\' can need escaping, and rarely do.
 */
function jsonString(s: string): string {
  return s.indexOf('"') === -1 && s.indexOf('\\') === -1 ? `"${s}"` : JSON.stringify(s);
}

/** Formats access records as pino's JSON lines (level 30, ISO time, pid, worker, kind). */
export function accessLineWriter(dest: { write(s: string): unknown }, worker: number | string): (r: AccessRecord) => void {
  const prefix = `{"level":30,"time":"`;
  const middle = `","pid":${process.pid},"worker":${JSON.stringify(worker)},"kind":"access","method":`;
  let lastMs = 0;
  let lastIso = '';
  return (r) => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastIso = new Date(now).toISOString();
    }
    dest.write(
      `${prefix}${lastIso}${middle}"${r.method}","path":${jsonString(r.path)},"status":${r.status},` +
        `"bytes":${r.bytes},"ms":${r.ms},"remote":${jsonString(r.remote)}}\n`,
    );
  };
}
