/**
 * Byte range requests (RFC 9110 §14): parsing the Range field, Content-Range values, and
 * the framing of a multipart/byteranges body.
 *
 * Pure functions, except makeBoundary (random). Range is scanned by index: no regular
 * expressions, and nothing is allocated when the field is absent.
 */

import { randomBytes } from 'node:crypto';
import { isFieldValue, isOws, skipOws, trimOwsEnd } from './token';

/** One byte range of the representation; both ends inclusive (`bytes=0-8` is {start: 0, end: 8}). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What to do with a Range field:
 * - `none`: ignore it and answer 200 with the whole representation — the field is absent,
 *   syntactically invalid, uses a unit other than `bytes`, lists more than `maxRanges`
 *   ranges, or asks for more bytes in total than the representation has;
 * - `unsatisfiable`: answer 416 with `Content-Range: bytes *\/size` (see unsatisfiedRange);
 * - `ranges`: answer 206; one range → a single part with Content-Range, several → a
 *   multipart/byteranges body. Ranges are sorted, non-overlapping, non-adjacent, and within
 *   [0, size - 1].
 */
export type RangeResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'ranges'; readonly ranges: ByteRange[] };

/** Limits applied by parseRange. */
export interface RangeOptions {
  /** Most range-specs accepted in one field, counted before coalescing; more → `none`. */
  maxRanges: number;
}

const NONE: RangeResult = Object.freeze({ kind: 'none' });
const UNSATISFIABLE: RangeResult = Object.freeze({ kind: 'unsatisfiable' });

/** Marks a digit run whose value exceeds Number.MAX_SAFE_INTEGER. */
const OVERFLOW = Infinity;

// Value of the digit run scanned by scanDigits (module scratch, so scanning allocates nothing).
let scannedValue = 0;

/**
 * Scans `1*DIGIT` at `i`. Returns the index past the run (=== i when there is no digit) and
 * leaves its value in `scannedValue` (OVERFLOW beyond Number.MAX_SAFE_INTEGER).
 */
function scanDigits(s: string, i: number, end: number): number {
  let v = 0;
  for (; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    if (v !== OVERFLOW) {
      v = v * 10 + d;
      if (v > Number.MAX_SAFE_INTEGER) v = OVERFLOW;
    }
  }
  scannedValue = v;
  return i;
}

/** Whether the field starts with the range unit `bytes` (case-insensitive, RFC 9110 §14.1) and "=". */
function isBytesUnit(s: string, i: number): boolean {
  return (
    (s.charCodeAt(i) | 0x20) === 0x62 &&
    (s.charCodeAt(i + 1) | 0x20) === 0x79 &&
    (s.charCodeAt(i + 2) | 0x20) === 0x74 &&
    (s.charCodeAt(i + 3) | 0x20) === 0x65 &&
    (s.charCodeAt(i + 4) | 0x20) === 0x73 &&
    s.charCodeAt(i + 5) === 0x3d
  );
}

/** Sorts ranges by start and merges overlapping or adjacent ones (RFC 9110 §14.2 permits coalescing). */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  if (ranges.length < 2) return ranges;
  ranges.sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [ranges[0]!];
  for (let k = 1; k < ranges.length; k++) {
    const r = ranges[k]!;
    const last = out[out.length - 1]!;
    if (r.start <= last.end + 1) {
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push(r);
    }
  }
  return out;
}

/**
 * Interprets a Range field (RFC 9110 §14.1.1, §14.2) against a representation of `size` bytes.
 *
 * `Range: bytes=<range-set>`, the unit case-insensitive. Each range-spec is one of
 * - `first-last` (last clamped to size − 1),
 * - `first-` (to the end),
 * - `-n` (suffix: the last n bytes; the whole representation when n ≥ size).
 *
 * Syntax: digits only; first > last makes the whole field invalid; OWS around commas and
 * empty list elements (`bytes=0-1,,2-3`) are accepted (§5.6.1); no element at all is invalid.
 * An invalid field gives `none` (a server ignores a Range it cannot parse).
 *
 * Satisfiability (§14.1.1): an int-range with first ≥ size, a suffix `-0`, and — because an
 * empty representation has no bytes to name in Content-Range — any range of a size-0
 * representation are unsatisfiable and dropped; when none remains → `unsatisfiable`.
 *
 * Denial-of-service limits (§14.2 allows ignoring Range): more than `opts.maxRanges`
 * range-specs (counted before coalescing, satisfiable or not) or a total requested length
 * above `size` (overlapping or repeated ranges) → `none`.
 *
 * The remaining ranges are sorted and coalesced when overlapping or adjacent.
 *
 * Numbers beyond Number.MAX_SAFE_INTEGER: a first-pos is treated as invalid syntax (`none`);
 * a last-pos or suffix-length that large is certainly past the end, so it is clamped to the
 * representation (`bytes=0-99999999999999999999` is the whole file).
 */
export function parseRange(header: string | undefined, size: number, opts: RangeOptions): RangeResult {
  if (header === undefined) return NONE;
  let i = 0;
  let end = header.length;
  i = skipOws(header, i, end);
  end = trimOwsEnd(header, i, end);
  if (end - i < 6 || !isBytesUnit(header, i)) return NONE;
  i += 6;

  let count = 0;
  let total = 0;
  let ranges: ByteRange[] | null = null;
  while (i < end) {
    const c = header.charCodeAt(i);
    if (c === 0x2c || isOws(c)) {
      i++; // list separator, OWS, or an empty element
      continue;
    }
    let start: number;
    let last: number;
    if (c === 0x2d /* - */) {
      // suffix-range = "-" suffix-length
      const j = scanDigits(header, i + 1, end);
      if (j === i + 1) return NONE;
      i = j;
      const length = scannedValue;
      if (length === 0 || size === 0) {
        start = -1; // unsatisfiable
        last = -1;
      } else {
        start = length >= size ? 0 : size - length;
        last = size - 1;
      }
    } else {
      // int-range = first-pos "-" [ last-pos ]
      const j = scanDigits(header, i, end);
      if (j === i || header.charCodeAt(j) !== 0x2d) return NONE;
      const first = scannedValue;
      if (first === OVERFLOW) return NONE;
      const k = scanDigits(header, j + 1, end);
      const lastPos = k === j + 1 ? OVERFLOW : scannedValue;
      if (first > lastPos) return NONE;
      i = k;
      if (first >= size) {
        start = -1; // unsatisfiable
        last = -1;
      } else {
        start = first;
        last = lastPos >= size ? size - 1 : lastPos;
      }
    }
    // After a range-spec: OWS, then "," or the end.
    i = skipOws(header, i, end);
    if (i < end && header.charCodeAt(i) !== 0x2c) return NONE;

    if (++count > opts.maxRanges) return NONE;
    if (start >= 0) {
      total += last - start + 1;
      if (total > size) return NONE;
      const r: ByteRange = { start, end: last };
      if (ranges === null) ranges = [r];
      else ranges.push(r);
    }
  }
  if (count === 0) return NONE;
  if (ranges === null) return UNSATISFIABLE;
  return { kind: 'ranges', ranges: coalesce(ranges) };
}

/** Content-Range value of a 206 part (RFC 9110 §14.4): `bytes 0-8/100`. */
export function contentRange(start: number, end: number, size: number): string {
  return 'bytes ' + start + '-' + end + '/' + size;
}

/** Content-Range value of a 416 (RFC 9110 §14.4, §15.5.17): `bytes *\/100`. */
export function unsatisfiedRange(size: number): string {
  return 'bytes */' + size;
}

/** One part of a multipart/byteranges body: write `head`, then bytes start..end (inclusive) of the file. */
export interface MultipartPart {
  head: Buffer;
  start: number;
  end: number;
}

/** The framing of a multipart/byteranges body (RFC 9110 §14.6). */
export interface MultipartByteranges {
  /** The response's Content-Type: `multipart/byteranges; boundary=<boundary>`. */
  contentType: string;
  /** In order; each head carries the part's delimiter and header fields. */
  parts: MultipartPart[];
  /** The close delimiter, written after the last part's bytes. */
  tail: Buffer;
  /** Exact body length for Content-Length: all heads + all range bytes + tail. */
  length: number;
}

/**
 * Whether `b` is usable as a boundary both in the body (RFC 2046 §5.1.1: 1–70 bchars) and
 * unquoted in the Content-Type parameter (a token, RFC 9110 §5.6.2): ALPHA, DIGIT and ' + - . _
 */
function isValidBoundary(b: string): boolean {
  if (b.length < 1 || b.length > 70) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x27 ||
      c === 0x2b ||
      c === 0x2d ||
      c === 0x2e ||
      c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

/**
 * Frames a multipart/byteranges body (RFC 9110 §14.6) for `ranges` (as returned by
 * parseRange) of a `size`-byte representation of type `contentType`.
 *
 * Body layout (the first delimiter has no leading CRLF: the body starts with `--boundary`,
 * as in the §14.6 example; the lengths below account for that exactly):
 *
 *     --B CRLF Content-Type: T CRLF Content-Range: bytes S-E/SIZE CRLF CRLF <bytes>
 *     CRLF --B CRLF ... CRLF CRLF <bytes>
 *     CRLF --B-- CRLF
 *
 * An empty `contentType` omits the part's Content-Type line. Throws a TypeError for a
 * boundary that is not 1–70 of ALPHA / DIGIT / ' + - . _, or a contentType containing
 * control characters (header injection).
 */
export function multipartByteranges(
  ranges: readonly ByteRange[],
  size: number,
  contentType: string,
  boundary: string,
): MultipartByteranges {
  if (!isValidBoundary(boundary)) {
    throw new TypeError(`multipartByteranges: invalid boundary ${JSON.stringify(boundary)}`);
  }
  if (!isFieldValue(contentType)) {
    throw new TypeError(`multipartByteranges: invalid content type ${JSON.stringify(contentType)}`);
  }
  const typeLine = contentType === '' ? '' : 'Content-Type: ' + contentType + '\r\n';
  const parts: MultipartPart[] = [];
  let length = 0;
  for (let k = 0; k < ranges.length; k++) {
    const { start, end } = ranges[k]!;
    const head = Buffer.from(
      (k === 0 ? '--' : '\r\n--') +
        boundary +
        '\r\n' +
        typeLine +
        'Content-Range: ' +
        contentRange(start, end, size) +
        '\r\n\r\n',
      'latin1',
    );
    parts.push({ head, start, end });
    length += head.length + (end - start + 1);
  }
  const tail = Buffer.from('\r\n--' + boundary + '--\r\n', 'latin1');
  length += tail.length;
  return { contentType: 'multipart/byteranges; boundary=' + boundary, parts, tail, length };
}

/**
 * A fresh random boundary: 32 lowercase hex characters (128 bits from crypto.randomBytes),
 * so it cannot plausibly occur in the content (RFC 2046 §5.1.1). The only impure function here.
 */
export function makeBoundary(): string {
  return randomBytes(16).toString('hex');
}
