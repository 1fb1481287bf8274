/**
 * The `hsts` setting: the Strict-Transport-Security value sent on HTTPS responses. Checked at
 * start-up against RFC 6797 §6.1, because a browser silently ignores a malformed one — the
 * operator would believe the site is pinned to HTTPS when it is not:
 *
 *   directive *( ";" directive ), directive = token [ "=" ( token / quoted-string ) ]
 *
 * with max-age REQUIRED (delta-seconds) and no directive twice (names are case-insensitive).
 * Unknown directives (preload, which is not in the RFC) are allowed, as the RFC says.
 */
import { isFieldValue, isOws, isTchar } from '../http/token';

/** An example for messages: two years, as the HSTS preload list asks. */
export const HSTS_EXAMPLE = 'max-age=63072000; includeSubDomains';

interface Directive {
  name: string;
  value: string | null;
}

/** Index of the end of the token starting at `i` (i itself when there is none). */
function tokenEnd(s: string, i: number): number {
  while (i < s.length && isTchar(s.charCodeAt(i))) i++;
  return i;
}

/** The quoted-string starting at `i` (a '"'): its unescaped content and where it ends, or null. */
function quotedString(s: string, i: number): { value: string; end: number } | null {
  let value = '';
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]!;
    if (c === '"') return { value, end: j + 1 };
    if (c === '\\') {
      if (j + 1 >= s.length) return null;
      value += s[++j];
    } else value += c;
  }
  return null;
}

function skipWhitespace(s: string, i: number): number {
  while (i < s.length && isOws(s.charCodeAt(i))) i++;
  return i;
}

/** The directives of a value, or the reason it is not one. */
function parseDirectives(s: string): Directive[] | string {
  const out: Directive[] = [];
  let i = 0;
  for (;;) {
    i = skipWhitespace(s, i);
    if (i >= s.length) return out;
    if (s[i] === ';') {
      i++;
      continue;
    }
    const end = tokenEnd(s, i);
    if (end === i) return `unexpected ${JSON.stringify(s[i])} at character ${i + 1}`;
    const name = s.slice(i, end);
    i = skipWhitespace(s, end);
    let value: string | null = null;
    if (s[i] === '=') {
      i = skipWhitespace(s, i + 1);
      if (s[i] === '"') {
        const q = quotedString(s, i);
        if (!q) return `unterminated quoted value of ${name}`;
        value = q.value;
        i = q.end;
      } else {
        const vend = tokenEnd(s, i);
        if (vend === i) return `${name}= has no value`;
        value = s.slice(i, vend);
        i = vend;
      }
      i = skipWhitespace(s, i);
    }
    if (i < s.length && s[i] !== ';') return `expected ";" after ${name} at character ${i + 1}`;
    out.push({ name, value });
  }
}

/** Null when `value` is usable ("" = off), else what is wrong with it. */
export function hstsProblem(value: string): string | null {
  if (value === '') return null;
  if (!isFieldValue(value)) return 'contains a control character (CR, LF, NUL, …) or a character above U+00FF';
  const directives = parseDirectives(value);
  if (typeof directives === 'string') return `is not a Strict-Transport-Security value (${directives}); for example "${HSTS_EXAMPLE}"`;
  const seen = new Set<string>();
  for (const d of directives) {
    const lower = d.name.toLowerCase();
    if (seen.has(lower)) return `gives ${d.name} twice (RFC 6797 allows each directive once)`;
    seen.add(lower);
    if (lower === 'max-age' && (d.value === null || !/^\d+$/.test(d.value))) return 'max-age must be a whole number of seconds';
  }
  if (!seen.has('max-age')) return `has no max-age (RFC 6797 requires it; browsers ignore the header without it); for example "${HSTS_EXAMPLE}"`;
  return null;
}

/**
 * The HTTPS listener's header rule: `Strict-Transport-Security: VALUE` on every response it
 * sends (none when hsts is ""). Never on plain HTTP, where a browser must ignore it (RFC 6797
 * §8.1) and it only tells a man in the middle what to strip.
 */
export function hstsHeaderLines(s: { readonly hsts: string }): string {
  return s.hsts === '' ? '' : `Strict-Transport-Security: ${s.hsts}\r\n`;
}
