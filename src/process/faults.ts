/**
 * Uncaught exceptions and unhandled rejections in a serving process: Node's default prints
 * the stack and exits at once, cutting every download. Here the first one is logged (one
 * error line, the stack in its `err`), and the process drains as on SIGTERM (without the
 * pre-drain) and exits 1; a second one during that drain stops at once, as close-with-grace
 * does. `source` is `process` but for tests.
 */
import type { Logger } from '../logs/logger';

export type FaultOrigin = 'uncaughtException' | 'unhandledRejection';

export interface FaultHandlers {
  first(err: unknown, origin: FaultOrigin): void;
  second(err: unknown, origin: FaultOrigin): void;
}

/** Both events, explicitly: with --unhandled-rejections=warn a rejection would not throw. */
export function onFaults(handlers: FaultHandlers, source: Pick<NodeJS.EventEmitter, 'on'> = process): void {
  let seen = false;
  const fault = (err: unknown, origin: FaultOrigin) => {
    const first = !seen;
    seen = true;
    if (first) handlers.first(err, origin);
    else handlers.second(err, origin);
  };
  source.on('uncaughtException', (err: unknown) => fault(err, 'uncaughtException'));
  source.on('unhandledRejection', (reason: unknown) => fault(reason, 'unhandledRejection'));
}

/** The one line for a fault: what it was, its message, and what happens now. */
export function logFault(log: Logger, err: unknown, origin: FaultOrigin, next: string): void {
  const what = origin === 'uncaughtException' ? 'uncaught exception' : 'unhandled rejection';
  const message = err instanceof Error ? err.message : String(err);
  log.error({ err, origin }, `${what}: ${message}; ${next}`);
}
