/**
 * The lexical pieces every HTTP rule needs (RFC 9110 §5.5, §5.6): tchar and token, DIGIT,
 * field values, OWS, and the Connection tokens that decide persistence (RFC 9112 §9.3). One
 * module, shared by the server's parser, the RFC predicates and the client's response parser,
 * so "what is a token" and "does this connection stay open" each have a single answer.
 */

/** tchar lookup by byte or char code; codes above 0xFF read as undefined (not a tchar). */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

export function isTchar(c: number): boolean {
  return TCHAR[c] === 1;
}

/** `token = 1*tchar` (RFC 9110 §5.6.2): methods, field names, coding names. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** DIGIT (RFC 5234): ASCII 0-9 only. */
export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** HEXDIG (RFC 5234, case-insensitive as RFC 3986 reads it): 0-9, A-F, a-f. */
export function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** One or more DIGITs and nothing else. */
export function isAllDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** A control character other than HTAB (NUL, CR, LF, DEL, ...): what would split or smuggle a header line. */
export function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/**
 * `field-value = *field-content` (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB only — no
 * CR, LF, NUL or other controls, nothing above U+00FF (not representable on the wire).
 */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** OWS = *( SP / HTAB ) */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** The first index in [from, to) of `s` that is not OWS (`to` when all are). */
export function skipOws(s: string, from: number, to: number): number {
  while (from < to && isOws(s.charCodeAt(from))) from++;
  return from;
}

/** The end of [from, to) of `s` without its trailing OWS. */
export function trimOwsEnd(s: string, from: number, to: number): number {
  while (to > from && isOws(s.charCodeAt(to - 1))) to--;
  return to;
}

/** Removes leading and trailing OWS only (String#trim would also eat U+00A0 and others). */
export function trimOws(s: string): string {
  const a = skipOws(s, 0, s.length);
  const b = trimOwsEnd(s, a, s.length);
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Whether a Connection field value lists `token` (lower-case), case-insensitively. Only OWS is
 * trimmed around list elements: String#trim would also eat U+00A0 and accept "close\xa0".
 */
export function hasConnectionToken(connection: string | undefined, token: string): boolean {
  if (connection === undefined) return false;
  for (const raw of connection.split(',')) if (trimOws(raw).toLowerCase() === token) return true;
  return false;
}

/** RFC 9112 §9.3: an HTTP/1.1 connection persists unless "close"; 1.0 only with "keep-alive". */
export function isPersistent(connection: string | undefined, minor: 0 | 1): boolean {
  if (connection === undefined) return minor === 1;
  if (hasConnectionToken(connection, 'close')) return false;
  return minor === 1 || hasConnectionToken(connection, 'keep-alive');
}
