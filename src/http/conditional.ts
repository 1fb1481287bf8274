/**
 * Conditional requests: entity-tag lists, comparison, and precondition evaluation
 * (RFC 9110 §8.8.3, §13.1, §13.2).
 *
 * Pure functions. Lists are scanned by index (no regular expressions, no split), and the
 * precondition path allocates nothing: it compares tags in place inside the field value.
 */

import { parseHttpDate } from './http-date';
import { skipOws, trimOwsEnd } from './token';

/** The request's conditional header fields, as received (field values, or undefined when absent). */
export interface ConditionalHeaders {
  /** If-Match (RFC 9110 §13.1.1). */
  ifMatch?: string | undefined;
  /** If-None-Match (RFC 9110 §13.1.2). */
  ifNoneMatch?: string | undefined;
  /** If-Modified-Since (RFC 9110 §13.1.3). */
  ifModifiedSince?: string | undefined;
  /** If-Unmodified-Since (RFC 9110 §13.1.4). */
  ifUnmodifiedSince?: string | undefined;
}

/** The selected representation's validators (RFC 9110 §8.8). */
export interface Validators {
  /** The ETag field value the response carries, e.g. `"5d-18c2a"` or `W/"5d-18c2a"`. */
  etag: string;
  /**
   * Last modification time in milliseconds since the epoch. Compared at whole-second
   * precision (an HTTP-date has 1 s resolution, so the value is floored). A non-finite value (NaN) means "no
   * modification date available": date-based conditions are then ignored (§13.1.3, §13.1.4).
   */
  lastModifiedMs: number;
}

/**
 * Outcome of evaluating preconditions: carry on with the request (the caller still applies
 * Range/If-Range and 404s a missing file), answer 304 Not Modified, or 412 Precondition Failed.
 */
export type PreconditionOutcome = 'proceed' | 304 | 412;

// Results of walking an If-Match / If-None-Match field value.
const LIST_INVALID = 0; // not "*" / #entity-tag: the field is ignored
const LIST_EMPTY = 1; // a valid list with no elements (e.g. ""): treated as absent
const LIST_NO_MATCH = 2;
const LIST_MATCH = 3;
const LIST_STAR = 4; // "*"

/** `etagc = %x21 / %x23-7E / obs-text` (RFC 9110 §8.8.3). */
function isEtagc(c: number): boolean {
  return c === 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

/**
 * Scans `entity-tag = [ weak ] opaque-tag` (RFC 9110 §8.8.3) starting at `i`, not past `end`.
 * Returns the index just past the closing DQUOTE, or -1. The weak prefix is the
 * case-sensitive `W/`; the opaque-tag may contain commas, so a list cannot be split on them.
 */
function scanEntityTag(s: string, i: number, end: number): number {
  if (s.charCodeAt(i) === 0x57 /* W */) {
    if (s.charCodeAt(i + 1) !== 0x2f /* / */) return -1;
    i += 2;
  }
  if (i >= end || s.charCodeAt(i) !== 0x22) return -1;
  for (i++; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (!isEtagc(c)) return -1;
  }
  return -1;
}

/** Whether `tag` is syntactically one entity-tag (RFC 9110 §8.8.3). */
function isEntityTag(tag: string): boolean {
  return tag.length >= 2 && scanEntityTag(tag, 0, tag.length) === tag.length;
}

function isWeakAt(s: string, i: number): boolean {
  return s.charCodeAt(i) === 0x57;
}

/**
 * Compares the tag at [ts, te) of `s` with `etag`, strongly or weakly (RFC 9110 §8.8.3.2).
 * `etag` is assumed valid (it is the server's own).
 */
function tagMatchesAt(s: string, ts: number, te: number, etag: string, strong: boolean): boolean {
  const tagWeak = isWeakAt(s, ts);
  const etagWeak = isWeakAt(etag, 0);
  if (strong && (tagWeak || etagWeak)) return false;
  const os = tagWeak ? ts + 2 : ts;
  const eo = etagWeak ? 2 : 0;
  return te - os === etag.length - eo && regionEquals(s, os, etag, eo, te - os);
}

/** Whether `len` characters of `a` at `ai` equal those of `b` at `bi` (no substring allocation). */
function regionEquals(a: string, ai: number, b: string, bi: number, len: number): boolean {
  for (let k = 0; k < len; k++) {
    if (a.charCodeAt(ai + k) !== b.charCodeAt(bi + k)) return false;
  }
  return true;
}

/**
 * Walks a field value of the form `"*" / #entity-tag` (RFC 9110 §13.1.1, §13.1.2) with the
 * list rules of §5.6.1 (OWS around commas, empty elements ignored). When `etag` is given,
 * reports whether any listed tag matches it; when `out` is given, collects the tags.
 */
function walkEtagList(value: string, etag: string | null, strong: boolean, out: string[] | null): number {
  const end = value.length;
  let i = 0;
  let tags = 0;
  let stars = 0;
  let matched = false;
  for (;;) {
    i = skipOws(value, i, end);
    if (i >= end) break;
    const c = value.charCodeAt(i);
    if (c === 0x2c) {
      i++; // empty element
      continue;
    }
    let te: number;
    if (c === 0x2a /* * */) {
      te = i + 1;
      stars++;
    } else {
      te = scanEntityTag(value, i, end);
      if (te < 0) return LIST_INVALID;
      tags++;
      if (etag !== null && !matched && tagMatchesAt(value, i, te, etag, strong)) matched = true;
      if (out !== null) out.push(value.slice(i, te));
    }
    i = te;
    i = skipOws(value, i, end);
    if (i < end) {
      if (value.charCodeAt(i) !== 0x2c) return LIST_INVALID;
      i++;
    }
  }
  if (stars > 0) return tags > 0 ? LIST_INVALID : LIST_STAR;
  if (tags === 0) return LIST_EMPTY;
  return matched ? LIST_MATCH : LIST_NO_MATCH;
}

/**
 * Parses an If-Match / If-None-Match field value: `"*" / #entity-tag` (RFC 9110 §13.1.1,
 * §13.1.2, §8.8.3). Returns `'*'`, the listed tags as written (`"a"`, `W/"b"`; a tag may
 * contain commas), or null when the value is syntactically invalid, in which case the caller
 * ignores the field. An empty value or a list of only empty elements gives `[]`.
 * `*` mixed with tags is invalid.
 */
export function parseEtagList(value: string): string[] | '*' | null {
  const out: string[] = [];
  const r = walkEtagList(value, null, false, out);
  if (r === LIST_INVALID) return null;
  if (r === LIST_STAR) return '*';
  return out;
}

/**
 * Strong comparison (RFC 9110 §8.8.3.2): both entity-tags are not weak and their
 * opaque-tags are identical character by character. Malformed tags never match.
 */
export function strongMatch(a: string, b: string): boolean {
  return a === b && !isWeakAt(a, 0) && isEntityTag(a);
}

/**
 * Weak comparison (RFC 9110 §8.8.3.2): the opaque-tags are identical character by
 * character, regardless of either or both being tagged as weak. Malformed tags never match.
 */
export function weakMatch(a: string, b: string): boolean {
  if (!isEntityTag(a) || !isEntityTag(b)) return false;
  const ao = isWeakAt(a, 0) ? 2 : 0;
  const bo = isWeakAt(b, 0) ? 2 : 0;
  return a.length - ao === b.length - bo && regionEquals(a, ao, b, bo, a.length - ao);
}

/** GET and HEAD are the methods a 304 answers (RFC 9110 §13.1.2, §13.1.3); methods are case-sensitive. */
function isGetOrHead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/**
 * Preconditions are ignored for methods that do not select or modify a representation
 * (RFC 9110 §13.2.1: "e.g., CONNECT, OPTIONS, or TRACE").
 */
function ignoresPreconditions(method: string): boolean {
  return method === 'OPTIONS' || method === 'CONNECT' || method === 'TRACE';
}

/** Whether the representation has a modification date to compare (RFC 9110 §13.1.3, §13.1.4). */
function hasModificationDate(v: Validators): boolean {
  return Number.isFinite(v.lastModifiedMs);
}

/** Last-Modified at the 1-second resolution of an HTTP-date (RFC 9110 §5.6.7, §8.8.2). */
function lastModifiedSeconds(v: Validators): number {
  return Math.floor(v.lastModifiedMs / 1000) * 1000;
}

/**
 * If-Unmodified-Since is false — the representation changed after the date — (RFC 9110
 * §13.1.4). An invalid date, or a representation without a modification date, is ignored.
 */
function isModifiedSince(value: string, v: Validators, nowMs: number | undefined): boolean {
  if (!hasModificationDate(v)) return false;
  const date = parseHttpDate(value, nowMs);
  return date !== null && lastModifiedSeconds(v) > date;
}

/**
 * If-Modified-Since is false — the representation has not changed since the date — (RFC 9110
 * §13.1.3). An invalid date (which includes a list of several dates: "more than one member"),
 * or a representation without a modification date, is ignored.
 */
function isNotModifiedSince(value: string, v: Validators, nowMs: number | undefined): boolean {
  if (!hasModificationDate(v)) return false;
  const date = parseHttpDate(value, nowMs);
  return date !== null && lastModifiedSeconds(v) <= date;
}

/**
 * Evaluates the conditional header fields in the order of RFC 9110 §13.2.2:
 *
 * 1. If-Match present: false when no listed tag strongly matches the current ETag (a `*`
 *    is true for an existing representation) → 412.
 * 2. Else If-Unmodified-Since present with a valid date: false when Last-Modified is later
 *    → 412.
 * 3. If-None-Match present: false when a listed tag weakly matches (or `*`) → 304 for
 *    GET/HEAD, 412 for other methods; when true, step 4 is skipped.
 * 4. Else, for GET/HEAD, If-Modified-Since with a valid date: false when Last-Modified is not
 *    later → 304.
 * 5. Otherwise 'proceed' (If-Range, step 5 of §13.2.2, is the caller's, see isRangeFresh).
 *
 * A field whose value is syntactically invalid, or an empty list, is ignored as if absent
 * (like Go's net/http and pillarjs/send). Dates compare at whole seconds.
 *
 * `v === null` (no representation exists) always gives 'proceed' and the caller answers 404,
 * also for If-Match. RFC 9110 §13.1.1 would allow 412 there, but §13.2.1 says a server MUST
 * ignore all preconditions when the response without them would not be 2xx or 412 — and
 * without them this is a 404 — and the project specification asks for the 404.
 *
 * Methods that do not select a representation (OPTIONS, CONNECT, TRACE) ignore all
 * preconditions (§13.2.1). `nowMs` only serves two-digit RFC 850 years (see parseHttpDate).
 */
export function evaluatePreconditions(
  method: string,
  h: ConditionalHeaders,
  v: Validators | null,
  nowMs?: number,
): PreconditionOutcome {
  if (v === null || ignoresPreconditions(method)) return 'proceed';

  // Step 1 / 2: If-Match, or else If-Unmodified-Since.
  let ifMatchApplies = false;
  if (h.ifMatch !== undefined) {
    const r = walkEtagList(h.ifMatch, v.etag, true, null);
    if (r === LIST_NO_MATCH) return 412;
    ifMatchApplies = r === LIST_MATCH || r === LIST_STAR;
  }
  if (!ifMatchApplies && h.ifUnmodifiedSince !== undefined && isModifiedSince(h.ifUnmodifiedSince, v, nowMs)) {
    return 412;
  }

  // Step 3 / 4: If-None-Match, or else If-Modified-Since.
  if (h.ifNoneMatch !== undefined) {
    const r = walkEtagList(h.ifNoneMatch, v.etag, false, null);
    if (r === LIST_MATCH || r === LIST_STAR) return isGetOrHead(method) ? 304 : 412;
    if (r === LIST_NO_MATCH) return 'proceed';
  }
  if (isGetOrHead(method) && h.ifModifiedSince !== undefined && isNotModifiedSince(h.ifModifiedSince, v, nowMs)) {
    return 304;
  }
  return 'proceed';
}

/**
 * If-Range (RFC 9110 §13.1.5): whether a Range request may be answered with partial content.
 *
 * - absent → true (nothing to check);
 * - an entity-tag → true only when it strongly matches the current ETag (a weak tag, or a
 *   weak current ETag, never matches);
 * - an HTTP-date → true only when it exactly equals Last-Modified (at 1 s precision);
 * - anything else, including an empty value → false (send the whole representation).
 *
 * Leading/trailing OWS is tolerated. The caller must ignore If-Range when there is no Range
 * field (§13.1.5); this function does not see Range.
 */
export function isRangeFresh(ifRange: string | undefined, v: Validators, nowMs?: number): boolean {
  if (ifRange === undefined) return true;
  const start = skipOws(ifRange, 0, ifRange.length);
  const end = trimOwsEnd(ifRange, start, ifRange.length);
  if (start === end) return false;
  const c = ifRange.charCodeAt(start);
  if (c === 0x22 /* " */ || (c === 0x57 /* W */ && ifRange.charCodeAt(start + 1) === 0x2f)) {
    if (scanEntityTag(ifRange, start, end) !== end) return false;
    return !isWeakAt(ifRange, start) && tagMatchesAt(ifRange, start, end, v.etag, true);
  }
  if (!hasModificationDate(v)) return false;
  const date = parseHttpDate(ifRange, nowMs);
  return date !== null && date === lastModifiedSeconds(v);
}
