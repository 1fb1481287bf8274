/**
 * Faults: an exception nothing caught, or a promise rejected with nobody to hear it. Node's
 * default prints the stack and exits at once, which would cut every connection the process
 * or its workers hold; a process that handles them instead logs the fault and stops the way
 * a SIGTERM does (close-with-grace does the same: log, drain, exit non-zero).
 */
import { inspect } from 'node:util';
import type { Logger } from '../logs/logger';

export type FaultOrigin = 'uncaughtException' | 'unhandledRejection';

/**
 * Calls `handle` for every uncaught exception and unhandled rejection. With a listener for
 * each, Node neither prints nor exits on its own: the handler decides. `source` is `process`
 * but for tests.
 */
export function onFaults(handle: (fault: unknown, origin: FaultOrigin) => void, source: Pick<NodeJS.EventEmitter, 'on'> = process): void {
  source.on('uncaughtException', (err: unknown) => handle(err, 'uncaughtException'));
  source.on('unhandledRejection', (reason: unknown) => handle(reason, 'unhandledRejection'));
}

/**
 * A fault for one log line: `err` (pino writes its message and stack) when it is an Error,
 * else `thrown` (what was thrown or rejected with, as util.inspect shows it), and `what`,
 * with `where` the process it happened in: "uncaught exception in the primary: boom".
 */
export function describeFault(fault: unknown, origin: FaultOrigin, where?: string): { fields: { origin: FaultOrigin; err?: Error; thrown?: string }; what: string } {
  const kind = `${origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'}${where ? ` ${where}` : ''}`;
  if (fault instanceof Error) return { fields: { origin, err: fault }, what: `${kind}: ${fault.message}` };
  const thrown = inspect(fault, { depth: 2, breakLength: Infinity });
  return { fields: { origin, thrown }, what: `${kind}: ${thrown}` };
}

/** The one line a serving process logs for a fault: what it was, then what happens now. */
export function logFault(log: Logger, fault: unknown, origin: FaultOrigin, next: string): void {
  const { fields, what } = describeFault(fault, origin);
  log.error(fields, `${what}; ${next}`);
}
