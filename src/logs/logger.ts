/**
 * pino loggers for every process. Lifecycle lines are written synchronously so lines from
 * different workers never interleave mid-line and nothing is lost when a process exits;
 * access lines are gathered into batches of whole lines for an asynchronous destination (one
 * write per 20–300 lines instead of one per request), pushed at least once a second and
 * flushed synchronously when the worker drains. With accessLogFile / logFile the lines go to
 * files instead of stdout (see log-file.ts), reopened by name on SIGUSR1.
 *
 * Access lines are the one place where logging sits on the hot path, so in JSON mode they
 * are formatted here as the line pino would write (same fields, same order; a null `reason`
 * left out) with one template string, instead of pino's generic serializer: that halves
 * their cost.
 */
import fs from 'node:fs';
import pino, { type Logger } from 'pino';
import { LogFile } from './log-file';
import type { Config } from '../config/config';
import type { AccessRecord } from '../http/types';

export type { Logger };

export interface Loggers {
  log: Logger;
  /** Records one response, or null when the access log is off. */
  access: ((record: AccessRecord) => void) | null;
  /** Writes out buffered access lines; call before exiting. */
  flush(): void;
  /** Lines are for a person (pino-pretty), not JSON. */
  pretty: boolean;
  /**
   * Reopens the log files by name (SIGUSR1, after logrotate moved them): access lines
   * gathered so far are written to the old file first, so none is lost or written twice.
   * Throws when a file cannot be opened again (the old one stays in use).
   */
  reopen(): void;
}

/**
 * Fields a pretty line never shows: pino's own, the worker (shown as a prefix), and the
 * drain's cause and deadline (the signal line before it said why, the deadline is configured),
 * a stop's pre-drain and whether it aborted a reload (its message says both when they apply),
 * and an access line's protocol, referer and user agent (kept in JSON logs; too long for a
 * terminal row), its completion (the message says when a response was cut, and why) and its
 * listener (its `tls` version, shown, tells an HTTPS line).
 */
const PRETTY_HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'worker', 'kind', 'reason', 'timeoutMs', 'preDrainDelayMs', 'reloading', 'protocol', 'listener', 'referer', 'userAgent', 'completed']);

function fieldText(key: string, value: unknown): string {
  if (key === 'err' && value && typeof value === 'object' && 'message' in value) return String((value as { message: unknown }).message);
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/**
 * One terminal line for one log record: who (a worker's number), the message, then only the
 * fields whose values the message does not already say, as key=value. The "listening" record
 * lists its URLs one per line, as `serve` does, so each can be clicked.
 */
export function prettyMessage(log: Record<string, unknown>): string {
  const msg = typeof log.msg === 'string' ? log.msg : '';
  const who = typeof log.worker === 'number' ? `worker ${log.worker}: ` : '';
  const urls = Array.isArray(log.urls) ? (log.urls as unknown[]).map(String) : [];
  if (urls.length > 0 && msg.startsWith('listening on ')) {
    const how = msg.slice(msg.lastIndexOf(urls[urls.length - 1]!) + urls[urls.length - 1]!.length).trim();
    const lines = [`${who}listening ${how} on ${String(log.host)} port ${String(log.port)}; open:`];
    if (typeof log.root === 'string') lines.push(`    serving ${log.root}`);
    for (const url of urls) lines.push(`    ${url}`);
    return lines.join('\n');
  }
  const extras: string[] = [];
  for (const [key, value] of Object.entries(log)) {
    if (PRETTY_HIDDEN.has(key) || value === undefined || value === null) continue;
    const text = fieldText(key, value);
    if (!msg.includes(text)) extras.push(`${key}=${text}`);
  }
  return wrapClauses(who + msg) + (extras.length > 0 ? `  ${extras.join(' ')}` : '');
}

/** What is left of an 80-column row after pino-pretty's "[HH:MM:SS.mmm] INFO: ". */
const FIRST_ROW_COLUMNS = 59;
const CONTINUATION = '    ';

/**
 * A message too long for one terminal row goes on over indented rows, broken after a "; "
 * (where one clause of a message ends and the next begins); a clause longer than a row stays
 * whole. JSON lines keep the message as it is.
 */
export function wrapClauses(text: string): string {
  if (text.length <= FIRST_ROW_COLUMNS) return text;
  const rows: string[] = [];
  let row = '';
  for (const clause of text.split('; ')) {
    // Room for the ";" that ends a row when another follows.
    const room = (rows.length === 0 ? FIRST_ROW_COLUMNS : 80 - CONTINUATION.length) - 1;
    if (row === '') row = clause;
    else if (row.length + 2 + clause.length <= room) row += `; ${clause}`;
    else {
      rows.push(`${row};`);
      row = clause;
    }
  }
  rows.push(row);
  return rows.join(`\n${CONTINUATION}`);
}

export function usePretty(setting: Config['logPretty'], isTTY: boolean): boolean {
  return setting === 'true' || (setting === 'auto' && isTTY);
}

type LoggerConfig = Pick<Config, 'logLevel' | 'logPretty' | 'accessLog' | 'accessLogFile' | 'logFile'>;

/**
 * `worker` is the cluster worker id, or "primary" / "single". Log files always hold JSON
 * lines; pino-pretty is only for what goes to stdout. Throws when a log file cannot be opened.
 */
export function createLoggers(config: LoggerConfig, worker: number | string): Loggers {
  const base = { pid: process.pid, worker };
  const options: pino.LoggerOptions = { level: config.logLevel, base, timestamp: pino.stdTimeFunctions.isoTime };
  const logFile = config.logFile ? new LogFile(config.logFile) : null;
  const accessFile = config.accessLog && config.accessLogFile ? new LogFile(config.accessLogFile) : null;
  const pretty = usePretty(config.logPretty, Boolean(process.stdout.isTTY))
    ? // Loaded only for a terminal: it is 1.3 MiB resident that a service never uses.
      (require('pino-pretty') as typeof import('pino-pretty'))({
        sync: true,
        colorize: Boolean(process.stdout.isTTY),
        hideObject: true,
        ignore: 'pid,hostname',
        translateTime: 'SYS:HH:MM:ss.l',
        messageFormat: (log) => prettyMessage(log),
      })
    : null;
  // Lines for a person only when they go to the terminal; a log file always holds JSON.
  const forPerson = logFile === null && pretty !== null;
  const log = pino(options, logFile ?? pretty ?? pino.destination({ dest: 1, sync: true }));
  const reopenLog = () => reopenAll([logFile]);
  const noop = () => {};

  if (!config.accessLog) return { log, access: null, flush: noop, reopen: reopenLog, pretty: forPerson };
  if (accessFile !== null) {
    // Into a regular file any batch size lands whole; 64 KiB batches are one write(2) per
    // ~300 lines.
    const batch = new LineBatcher((bytes) => accessFile.writeBytes(bytes), 64 * 1024);
    setInterval(() => batch.push(), 1000).unref();
    const flush = () => batch.push();
    return {
      log,
      access: accessLineWriter(batch, worker),
      flush,
      pretty: forPerson,
      reopen: () => {
        flush();
        reopenAll([accessFile, logFile]);
      },
    };
  }
  if (pretty !== null) {
    const child = pino(options, pretty).child({ kind: 'access' });
    const access = (r: AccessRecord) =>
      child.info(r, `${r.method} ${r.path} ${r.status} ${r.bytes} B ${r.ms} ms ${r.remote}${r.reason === null ? '' : ` (incomplete: ${r.reason})`}`);
    return { log, access, flush: noop, reopen: reopenLog, pretty: forPerson };
  }
  const batchBytes = accessBatchBytes(1);
  const accessDest = pino.destination({ dest: 1, sync: false, minLength: 0, maxWrite: batchBytes });
  // sonic-boom keeps what it is given until its asynchronous write is done: a string copy.
  const batch = new LineBatcher((bytes) => accessDest.write(bytes.toString('latin1')), batchBytes);
  // A quiet server still shows its access lines within a second.
  setInterval(() => batch.push(), 1000).unref();
  return {
    log,
    access: accessLineWriter(batch, worker),
    pretty: forPerson,
    flush: () => {
      batch.push();
      try {
        accessDest.flushSync();
      } catch {
        // Not ready yet (nothing written) or stdout gone: nothing more can be done.
      }
    },
    reopen: reopenLog,
  };
}

/** Reopens every file, even when one fails; then throws the first failure. */
function reopenAll(files: (LogFile | null)[]): void {
  let failure: unknown = null;
  for (const f of files) {
    try {
      f?.reopen();
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== null) throw failure;
}

/**
 * How many bytes of whole access lines go into one write(2). Into a regular file any size
 * lands whole. Into a pipe or socket (docker, systemd) only writes of at most PIPE_BUF
 * (4096 on Linux) are atomic: a larger one could be split by another worker's line, so
 * batches stay at 4 KiB there, ~20 lines a write.
 */
export function accessBatchBytes(fd: number): number {
  try {
    return fs.fstatSync(fd).isFile() ? 64 * 1024 : 4096;
  } catch {
    return 4096;
  }
}

/**
 * Gathers whole lines and hands them to the destination in batches of at most `batchBytes`
 * (unless one line is longer), so each write the destination makes holds whole lines only.
 * Each line is copied into one reused buffer as it arrives, so no string outlives its
 * request: a batch kept as a list of strings lived ~5 ms, long enough to survive young-
 * generation collections, which then grew the young generation to its maximum (16 MiB
 * semi-spaces) and doubled each collection's pause. Measured on one process at 50
 * connections (3 rounds of 4 s of wrk, CPU time from /proc, with the faster line format
 * below): 13.5 → 11.4 µs of CPU per request (access log off: 11.2), p99 3.5 → 1.6 ms,
 * resident memory 101 → 64 MiB.
 * `toDestination` is handed the bytes of one batch; they are valid only during the call.
 */
export class LineBatcher {
  private readonly buf: Buffer;
  private length = 0;

  constructor(
    private readonly toDestination: (bytes: Buffer) => void,
    batchBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(batchBytes);
  }

  /** `line` is ASCII (access lines are built from ASCII only), so its length is its byte count. */
  write(line: string): void {
    if (this.length + line.length > this.buf.length) {
      this.push();
      if (line.length > this.buf.length) {
        this.toDestination(Buffer.from(line, 'latin1'));
        return;
      }
    }
    this.length += this.buf.write(line, this.length, 'latin1');
  }

  /** Hands what has gathered to the destination. */
  push(): void {
    if (this.length === 0) return;
    const bytes = this.buf.subarray(0, this.length);
    this.length = 0;
    this.toDestination(bytes);
  }
}

/** Any character that JSON must escape, or that would make the line non-ASCII. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;

/**
 * The inside of a JSON string literal, in plain ASCII. Targets are visible ASCII (the parser
 * refuses anything else), but Referer and User-Agent may hold '"', '\\' and obs-text bytes
 * (latin1 0x80-0xFF): those become \\uXXXX so a line's length stays its byte count.
 */
export function jsonAsciiInner(s: string): string {
  if (s.length === 0 || !NEEDS_ESCAPE.test(s)) return s;
  return JSON.stringify(s)
    .slice(1, -1)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** "000" to "999": the milliseconds' fraction as three digits. */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * Formats access records as pino's JSON lines (level 30, ISO time, pid, worker, kind).
 * Built for the hot path, 510 ns a line where the straightforward template took 770–880
 * (`node` micro-benchmark, 10^6 lines): the line's start up to the method is made once per
 * millisecond, the quotes sit in the template rather than in one more string per field, and
 * `ms` is written as integer and three digits (0.120 for 0.12, the same JSON number) instead
 * of converting a fractional number, which alone took ~150 ns.
 */
export function accessLineWriter(dest: { write(s: string): unknown }, worker: number | string): (r: AccessRecord) => void {
  const afterTime = `","pid":${process.pid},"worker":${JSON.stringify(worker)},"kind":"access","method":"`;
  let lastMs = 0;
  let head = '';
  return (r) => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      head = `{"level":30,"time":"${new Date(now).toISOString()}${afterTime}`;
    }
    const us = Math.round(r.ms * 1000);
    dest.write(
      `${head}${r.method}","path":"${jsonAsciiInner(r.path)}","protocol":"${r.protocol}",` +
        // The listener that answered, and on HTTPS the TLS version (fixed words from the code, not the client).
        `"listener":"${r.listener}",${r.tls === undefined ? '' : `"tls":"${r.tls}",`}"status":${r.status},"bytes":${r.bytes},` +
        // Complete is the common case: a constant; the reason is one of a few fixed words.
        (r.reason === null ? '"completed":true,' : `"completed":false,"reason":"${r.reason}",`) +
        `"ms":${Math.floor(us / 1000)}.${THOUSANDTHS[us % 1000]},"remote":"${jsonAsciiInner(r.remote)}",` +
        `"referer":"${jsonAsciiInner(r.referer)}","userAgent":"${jsonAsciiInner(r.userAgent)}"` +
        // Behind a proxy only: the peer when it is not the client, the scheme a trusted proxy reported.
        `${r.peer === undefined ? '' : `,"peer":"${jsonAsciiInner(r.peer)}"`}${r.proto === undefined ? '' : `,"proto":"${r.proto}"`}}\n`,
    );
  };
}

/**
 * Reopens the log files. `announce` names the signal when this process is the one that
 * reports it (the primary, or the single process); workers only say so at debug level.
 */
export function reopenLogs(loggers: Loggers, announce: string | null): void {
  try {
    loggers.reopen();
  } catch (err) {
    loggers.log.error({ err }, `cannot reopen the log files: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; still writing to the old ones`);
    return;
  }
  if (announce !== null) loggers.log.info({ signal: announce }, `${announce}: log files reopened`);
  else loggers.log.debug('log files reopened');
}
