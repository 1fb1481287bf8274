/**
 * The words and codes for a response that did not arrive whole: how far it got (for timeout
 * messages) and the catalogued error a failed one ends in, with curl's code for it (pure).
 */
import { ConnectionResetError, EmptyReplyError, IncompleteResponseError, MalformedResponseError, type ClientError } from './errors';
import type { ParserEvent, ParserProgress } from './response-parser';
import { countOf } from '../plural';

/**
 * A response that failed: bytes that are not a response (8), a reset (56), a close before any
 * byte (52) or after some (18). `what` names the request ("/path from host:port").
 */
export function responseError(ev: Extract<ParserEvent, { type: 'error' }>, reset: boolean, what: string, origin: string): ClientError {
  if (ev.kind === 'malformed') return new MalformedResponseError(`malformed response from ${origin}: ${ev.message}`);
  if (reset) return new ConnectionResetError(`${ev.message} (${what})`);
  if (ev.empty) return new EmptyReplyError(`${ev.message} (${what})`);
  return new IncompleteResponseError(`${ev.message} (${what})`);
}

/** How far a response got when a limit ran out: "while waiting for the response", "after 10 of 100 body bytes". */
export function waitingFor(p: ParserProgress): string {
  switch (p.phase) {
    case 'status-line':
      return p.received === 0 ? 'while waiting for the response' : 'in the middle of the response head';
    case 'headers':
      return 'in the middle of the response head';
    case 'body-length':
      return `after ${p.bodyBytes} of ${p.expected} body bytes`;
    default:
      return `after ${countOf(p.bodyBytes, 'body byte')}`;
  }
}
