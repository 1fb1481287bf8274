/**
 * pino loggers for every process. Lifecycle lines are written synchronously so lines from
 * different workers never interleave mid-line and nothing is lost when a process exits;
 * access lines go through a buffered asynchronous destination (one write per ~4 KiB instead
 * of one per request) that is flushed when the worker drains.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config';

export type { Logger };

export interface Loggers {
  log: Logger;
  access: Logger | null;
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
    const access = config.accessLog ? log.child({ kind: 'access' }) : null;
    return { log, access, flush: () => {} };
  }
  const log = pino(options, pino.destination({ dest: 1, sync: true }));
  if (!config.accessLog) return { log, access: null, flush: () => {} };
  const accessDest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const access = pino({ ...options, level: 'info' }, accessDest).child({ kind: 'access' });
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
