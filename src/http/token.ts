/**
 * The lexical pieces every HTTP rule module needs (RFC 9110 §5.6): tchar, OWS. One table,
 * shared by the parser and the predicates, so "what is a token" has a single answer.
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

/** OWS = *( SP / HTAB ) */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Removes leading and trailing OWS only (String#trim would also eat U+00A0 and others). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
