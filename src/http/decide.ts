/**
 * decide: what to answer for a file, from plain values — the method, the request's header
 * fields and the chosen representation's validators and size. Pure: no files, no sockets, no
 * clock (If-Range and the date preconditions read their dates relative to nothing but the
 * values given). The order is RFC 9110's, as in Go's serveContent and pillarjs/send:
 * method → preconditions (§13.2.2) → Range / If-Range (§14) → 200.
 *
 * Each outcome is a named Decision; those without data are shared constants, so deciding
 * allocates nothing except for a range answer.
 */
import { evaluatePreconditions, isRangeFresh, type Validators } from './conditional';
import { parseRange, type ByteRange } from './range';

/** The request methods fleetserve answers, and what it does with them. */
export type MethodDecision = 'read' | 'options' | 'method-not-allowed' | 'asterisk-not-options';

/** GET and HEAD read a path; OPTIONS asks what a path (or the server, `*`) allows; anything else is 405. */
export function decideMethod(method: string, path: string): MethodDecision {
  if (method !== 'GET' && method !== 'HEAD') return method === 'OPTIONS' ? 'options' : 'method-not-allowed';
  return path === '*' ? 'asterisk-not-options' : 'read';
}

/** What decide needs to know of the representation it answers with. */
export interface RepresentationFacts extends Validators {
  size: number;
  /** The whole body is in memory (then a plain GET has a precomputed response). */
  body: Buffer | null;
}

export type Decision =
  /** A plain GET of a representation held in memory: the precomputed 200 response. */
  | { readonly kind: 'plain-get' }
  /** 200 with the whole representation (from memory or from the file). */
  | { readonly kind: 'full' }
  /** 304 with the representation's own validators. */
  | { readonly kind: 'not-modified' }
  /** 304 with the validators of the compressed copy this file version is going to have. */
  | { readonly kind: 'not-modified-as-copy' }
  | { readonly kind: 'precondition-failed' }
  | { readonly kind: 'range-not-satisfiable' }
  /** 206 with one part: bytes [start, end). */
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  /** 206 multipart/byteranges: the ranges as parseRange gives them (ends inclusive). */
  | { readonly kind: 'multipart'; readonly ranges: readonly ByteRange[] };

export const PLAIN_GET: Decision = Object.freeze({ kind: 'plain-get' });
export const FULL: Decision = Object.freeze({ kind: 'full' });
export const NOT_MODIFIED: Decision = Object.freeze({ kind: 'not-modified' });
export const NOT_MODIFIED_AS_COPY: Decision = Object.freeze({ kind: 'not-modified-as-copy' });
export const PRECONDITION_FAILED: Decision = Object.freeze({ kind: 'precondition-failed' });
export const RANGE_NOT_SATISFIABLE: Decision = Object.freeze({ kind: 'range-not-satisfiable' });

/**
 * The fast path: a GET without a Range or any precondition, of a representation whose bytes
 * are in memory. Nothing about the request can change the answer, so a response computed
 * once (per second, for the Date) answers it.
 */
export function isPlainGetOfMemory(method: string, h: Readonly<Record<string, string>>, rep: RepresentationFacts): boolean {
  return (
    method === 'GET' &&
    rep.body !== null &&
    h.range === undefined &&
    h['if-none-match'] === undefined &&
    h['if-modified-since'] === undefined &&
    h['if-match'] === undefined &&
    h['if-unmodified-since'] === undefined
  );
}

/**
 * Whether an If-None-Match the representation did not satisfy is satisfied by the ETag of a
 * compressed copy not made here yet (a client may hold it from another worker). `expectedCopyEtag`
 * is null when this file has no such copies or the client accepts none.
 */
export function isNotModifiedAsCopy(method: string, ifNoneMatch: string | undefined, expectedCopyEtag: string | null, lastModifiedMs: number): boolean {
  return ifNoneMatch !== undefined && expectedCopyEtag !== null && evaluatePreconditions(method, { ifNoneMatch }, { etag: expectedCopyEtag, lastModifiedMs }) === 304;
}

/**
 * The answer for a GET or HEAD of `rep`. `maxRanges`: the most ranges one Range field may ask
 * for (more: the whole representation).
 */
export function decideFile(
  method: string,
  h: Readonly<Record<string, string>>,
  rep: RepresentationFacts,
  expectedCopyEtag: string | null,
  maxRanges: number,
): Decision {
  if (isPlainGetOfMemory(method, h, rep)) return PLAIN_GET;
  const outcome = evaluatePreconditions(
    method,
    { ifMatch: h['if-match'], ifNoneMatch: h['if-none-match'], ifModifiedSince: h['if-modified-since'], ifUnmodifiedSince: h['if-unmodified-since'] },
    rep,
  );
  if (outcome === 304) return NOT_MODIFIED;
  if (outcome === 412) return PRECONDITION_FAILED;
  if (isNotModifiedAsCopy(method, h['if-none-match'], expectedCopyEtag, rep.lastModifiedMs)) return NOT_MODIFIED_AS_COPY;
  if (h.range !== undefined && isRangeFresh(h['if-range'], rep)) {
    const range = parseRange(h.range, rep.size, { maxRanges });
    if (range.kind === 'unsatisfiable') return RANGE_NOT_SATISFIABLE;
    if (range.kind === 'ranges') {
      if (range.ranges.length > 1) return { kind: 'multipart', ranges: range.ranges };
      const { start, end } = range.ranges[0]!;
      return { kind: 'partial', start, end: end + 1 };
    }
  }
  return FULL;
}
