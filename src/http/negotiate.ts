/**
 * Proactive negotiation (RFC 9110 §12): content coding from Accept-Encoding, and from Accept
 * whether a client prefers JSON to HTML, and whether it prefers HTML to anything else.
 *
 * Pure functions. Fields are scanned by index with a char table: no regular expressions, no
 * split, no lower-casing copies; nothing is allocated per call.
 */

import { isOws, isTchar, skipOws } from './token';

/** Content codings the server can send (RFC 9110 §8.4.1; br: RFC 7932, zstd: RFC 8878). */
export type Coding = 'br' | 'zstd' | 'gzip';

/** Server preference among equally weighted codings, best first; also the order precompressed siblings are looked for in. */
const PREFERENCE: readonly Coding[] = ['br', 'zstd', 'gzip'];
export const CODING_PREFERENCE = PREFERENCE;

/** Each coding's file-name extension, without the dot: siblings "x.css.br", and the ETags of compressed copies. */
export const CODING_EXTENSION: Readonly<Record<Coding, string>> = Object.freeze({ br: 'br', zstd: 'zst', gzip: 'gz' });

/** Whether s[start, end) equals the lower-case ASCII `lower`, ignoring case. */
function equalsIgnoreCase(s: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) {
    let c = s.charCodeAt(start + k);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 §12.4.2) at
 * s[start, end), as thousandths (0–1000), or -1 when invalid ("0.0001", "1.5", ".5", "").
 */
function parseQvalue(s: string, start: number, end: number): number {
  const len = end - start;
  if (len < 1 || len > 5) return -1;
  const first = s.charCodeAt(start);
  if (first !== 0x30 && first !== 0x31) return -1;
  if (len === 1) return first === 0x31 ? 1000 : 0;
  if (s.charCodeAt(start + 1) !== 0x2e) return -1;
  let q = 0;
  let scale = 100;
  for (let i = start + 2; i < end; i++, scale /= 10) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (first === 0x31 && d !== 0)) return -1;
    q += d * scale;
  }
  return first === 0x31 ? 1000 : q;
}

// Result of scanElement (module scratch, so scanning allocates nothing).
let elStart = 0; // the element's name (coding, or media type) start…
let elSlash = -1; // …the "/" of a media range (-1 for a coding)…
let elEnd = 0; // …and end
let elQ = 1000; // its weight, in thousandths
let elValid = false;

/** Index past a quoted-string starting at `i` (RFC 9110 §5.6.4), or -1. */
function skipQuotedString(s: string, i: number, end: number): number {
  for (i++; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      i++;
      if (i >= end) return -1;
      const q = s.charCodeAt(i);
      if ((q < 0x20 && q !== 0x09) || q === 0x7f) return -1;
    } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      return -1;
    }
  }
  return -1;
}

/** Index of the "," ending the (invalid) element at `i`, skipping quoted strings, or `end`. */
function skipToComma(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 0x2c) return i;
    if (c === 0x22) {
      const j = skipQuotedString(s, i, end);
      i = j < 0 ? end : j;
    } else {
      i++;
    }
  }
  return end;
}

/**
 * Scans one list element starting at a non-OWS, non-comma `i`: a token (`media`: a
 * `type "/" subtype`) then `*( OWS ";" OWS name "=" ( token / quoted-string ) )`. A `q`
 * parameter (name case-insensitive) sets the weight; it must be a valid qvalue and appear at
 * most once. With `allowParams` false (Accept-Encoding has only the weight) any other
 * parameter makes the element invalid. Returns the index of the following "," or `end`;
 * an element that is invalid is skipped whole with elValid = false.
 */
function scanElement(s: string, i: number, end: number, media: boolean, allowParams: boolean): number {
  elValid = false;
  elQ = 1000;
  elSlash = -1;
  elStart = i;
  while (i < end && isTchar(s.charCodeAt(i))) i++;
  if (i === elStart) return skipToComma(s, i, end);
  if (media) {
    if (s.charCodeAt(i) !== 0x2f) return skipToComma(s, i, end);
    elSlash = i;
    i++;
    const sub = i;
    while (i < end && isTchar(s.charCodeAt(i))) i++;
    if (i === sub) return skipToComma(s, i, end);
  }
  elEnd = i;
  let sawQ = false;
  for (;;) {
    i = skipOws(s, i, end);
    if (i >= end || s.charCodeAt(i) === 0x2c) break;
    if (s.charCodeAt(i) !== 0x3b /* ; */) return skipToComma(s, i, end);
    i++;
    i = skipOws(s, i, end);
    const nameStart = i;
    while (i < end && isTchar(s.charCodeAt(i))) i++;
    const nameEnd = i;
    if (nameStart === nameEnd || s.charCodeAt(i) !== 0x3d /* = */) return skipToComma(s, i, end);
    i++;
    const valueStart = i;
    if (s.charCodeAt(i) === 0x22) {
      i = skipQuotedString(s, i, end);
      if (i < 0) return end;
    } else {
      while (i < end && isTchar(s.charCodeAt(i))) i++;
      if (i === valueStart) return skipToComma(s, i, end);
    }
    const valueEnd = i;
    if (equalsIgnoreCase(s, nameStart, nameEnd, 'q')) {
      const q = sawQ ? -1 : parseQvalue(s, valueStart, valueEnd);
      if (q < 0) return skipToComma(s, i, end);
      elQ = q;
      sawQ = true;
    } else if (!allowParams) {
      return skipToComma(s, i, end);
    }
  }
  elValid = true;
  return i;
}

/**
 * Scans the next valid element of the list at or after `i` into the el* scratch (empty
 * elements, OWS and invalid elements are passed over, RFC 9110 §5.6.1) and returns the index
 * past it, or -1 when the list has no more. Both list walkers below loop on it.
 */
function nextElement(s: string, i: number, end: number, media: boolean, allowParams: boolean): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 0x2c || isOws(c)) {
      i++;
    } else {
      i = scanElement(s, i, end, media, allowParams);
      if (elValid) return i;
    }
  }
  return -1;
}

/**
 * Picks the content coding for a response (RFC 9110 §12.5.3) among `available`, or null for
 * identity (no content coding).
 *
 * - Absent field → null: any coding would be acceptable, but identity is the safe choice.
 * - Empty field → null ("does not want any content coding").
 * - Coding names are case-insensitive; `x-gzip` is gzip (§18.6). `*` weighs every coding not
 *   listed explicitly. A coding listed twice gets its highest weight.
 * - q=0 (also `q=0.000`) refuses a coding. An invalid weight (`q=2`, `q=0.0001`, `q=abc`) or
 *   an unexpected parameter makes the element invalid, and it is ignored.
 * - The available coding with the highest weight wins; ties go to the server preference
 *   br > zstd > gzip. It must also weigh at least as much as identity (listed `identity`,
 *   else `*`; identity not mentioned counts as the lowest preference): `gzip;q=0.5, identity`
 *   → null.
 * - Identity refused (`identity;q=0`, or `*;q=0` without `identity`) and no available coding
 *   acceptable → still null: we send identity rather than 406/415, as §12.5.3 permits
 *   ("the origin server SHOULD send a response without any content coding").
 */
export function chooseEncoding(acceptEncoding: string | undefined, available: readonly Coding[]): Coding | null {
  if (acceptEncoding === undefined || available.length === 0) return null;
  return pickCoding(codingWeights(acceptEncoding), available);
}

/** An Accept-Encoding field read once: each coding's highest weight, -1 when not listed. */
export interface CodingWeights {
  br: number;
  zstd: number;
  gzip: number;
  identity: number;
  star: number;
}

/** The weights of an Accept-Encoding field (see chooseEncoding for the rules). */
export function codingWeights(s: string): CodingWeights {
  const end = s.length;
  const w: CodingWeights = { br: -1, zstd: -1, gzip: -1, identity: -1, star: -1 };
  for (let i = nextElement(s, 0, end, false, false); i >= 0; i = nextElement(s, i, end, false, false)) {
    const q = elQ;
    if (equalsIgnoreCase(s, elStart, elEnd, 'gzip') || equalsIgnoreCase(s, elStart, elEnd, 'x-gzip')) {
      if (q > w.gzip) w.gzip = q;
    } else if (equalsIgnoreCase(s, elStart, elEnd, 'br')) {
      if (q > w.br) w.br = q;
    } else if (equalsIgnoreCase(s, elStart, elEnd, 'zstd')) {
      if (q > w.zstd) w.zstd = q;
    } else if (equalsIgnoreCase(s, elStart, elEnd, 'identity')) {
      if (q > w.identity) w.identity = q;
    } else if (elEnd - elStart === 1 && s.charCodeAt(elStart) === 0x2a) {
      if (q > w.star) w.star = q;
    }
  }
  return w;
}

/** The coding `w` prefers among `available`, or null for identity (see chooseEncoding). */
export function pickCoding(w: CodingWeights, available: readonly Coding[]): Coding | null {
  const identity = w.identity >= 0 ? w.identity : w.star >= 0 ? w.star : 0;
  let best: Coding | null = null;
  let bestQ = 0;
  // The module-local name: an exported one is read through `exports` on every use (CommonJS).
  for (let k = 0; k < PREFERENCE.length; k++) {
    const coding = PREFERENCE[k]!;
    if (!available.includes(coding)) continue;
    const listed = w[coding];
    const q = listed >= 0 ? listed : w.star >= 0 ? w.star : 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best !== null && bestQ >= identity ? best : null;
}

/**
 * Whether the client prefers `application/json` to `text/html` (Accept, RFC 9110 §12.5.1),
 * e.g. to choose the format of an error or listing page.
 *
 * True when `application/json` is listed explicitly (type and subtype case-insensitive,
 * parameters other than q ignored) with a weight > 0 that is higher than the weight
 * text/html gets — from `text/html` if listed, else `text/*`, else `*\/*`, else 0 (the most
 * specific range applies, §12.5.1). A type listed twice gets its highest weight; elements
 * with an invalid weight are ignored. Absent → false; a tie → false (HTML).
 */
export function prefersJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const s = accept;
  const end = s.length;
  let qJson = -1;
  let qHtml = -1;
  let qTextAny = -1;
  let qAny = -1;
  for (let i = nextElement(s, 0, end, true, true); i >= 0; i = nextElement(s, i, end, true, true)) {
    const q = elQ;
    const slash = elSlash;
    if (equalsIgnoreCase(s, elStart, slash, 'application')) {
      if (equalsIgnoreCase(s, slash + 1, elEnd, 'json') && q > qJson) qJson = q;
    } else if (equalsIgnoreCase(s, elStart, slash, 'text')) {
      if (equalsIgnoreCase(s, slash + 1, elEnd, 'html')) {
        if (q > qHtml) qHtml = q;
      } else if (elEnd - slash === 2 && s.charCodeAt(slash + 1) === 0x2a) {
        if (q > qTextAny) qTextAny = q;
      }
    } else if (slash - elStart === 1 && s.charCodeAt(elStart) === 0x2a) {
      if (elEnd - slash === 2 && s.charCodeAt(slash + 1) === 0x2a && q > qAny) qAny = q;
    }
  }
  const html = qHtml >= 0 ? qHtml : qTextAny >= 0 ? qTextAny : qAny >= 0 ? qAny : 0;
  return qJson > 0 && qJson > html;
}

/**
 * Whether the client prefers `text/html` (Accept, RFC 9110 §12.5.1), as a browser's
 * navigation does: `text/html` listed explicitly (case-insensitive, parameters other than q
 * ignored) with a weight > 0 that no other listed media range exceeds. Navigations send
 * `text/html,application/xhtml+xml,…,*\/*;q=0.8` → true; an image, a script, a style sheet or
 * a fetch() sends `image/avif,…,*\/*;q=0.8`, `*\/*` or `text/css,*\/*;q=0.1` → false.
 *
 * Absent → false: a client that sends no Accept takes any type (§12.5.1), as `*\/*` does, and
 * no browser navigates without one. Elements with an invalid weight are ignored.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const s = accept;
  const end = s.length;
  let qHtml = -1;
  let qOther = 0;
  for (let i = nextElement(s, 0, end, true, true); i >= 0; i = nextElement(s, i, end, true, true)) {
    const q = elQ;
    if (equalsIgnoreCase(s, elStart, elSlash, 'text') && equalsIgnoreCase(s, elSlash + 1, elEnd, 'html')) {
      if (q > qHtml) qHtml = q;
    } else if (q > qOther) {
      qOther = q;
    }
  }
  return qHtml > 0 && qHtml >= qOther;
}
