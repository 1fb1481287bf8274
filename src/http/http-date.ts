/**
 * HTTP-date formatting and strict parsing (RFC 9110 §5.6.7).
 *
 * Pure functions: no I/O, and no clock read unless parseHttpDate meets the obsolete RFC 850
 * form without an explicit `nowMs` (its two-digit year is placed relative to "now").
 * Parsing scans characters by index: no regular expressions, no Date objects, and no
 * allocation besides the returned number.
 */

import { skipOws, trimOwsEnd } from './token';

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const DAY_NAMES_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const MS_PER_DAY = 86_400_000;

/** Packs three char codes into one integer so a name compares with a single `===`. */
function pack3(a: number, b: number, c: number): number {
  return (a << 16) | (b << 8) | c;
}

function packName(name: string): number {
  return pack3(name.charCodeAt(0), name.charCodeAt(1), name.charCodeAt(2));
}

const DAY_CODES = DAY_NAMES.map(packName);
const MONTH_CODES = MONTH_NAMES.map(packName);

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function pad4(n: number): string {
  return n < 10 ? '000' + n : n < 100 ? '00' + n : n < 1000 ? '0' + n : String(n);
}

/**
 * Formats a timestamp as an IMF-fixdate, the only form a sender may generate
 * (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`. Sub-second precision is dropped
 * (floored). Throws a RangeError for a non-finite timestamp or one whose year is outside
 * 0000–9999 (IMF-fixdate has a four-digit year).
 */
export function formatHttpDate(ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (Number.isNaN(year) || year < 0 || year > 9999) {
    throw new RangeError(`formatHttpDate: timestamp ${ms} cannot be written as an IMF-fixdate`);
  }
  return (
    DAY_NAMES[d.getUTCDay()] +
    ', ' +
    pad2(d.getUTCDate()) +
    ' ' +
    MONTH_NAMES[d.getUTCMonth()] +
    ' ' +
    pad4(year) +
    ' ' +
    pad2(d.getUTCHours()) +
    ':' +
    pad2(d.getUTCMinutes()) +
    ':' +
    pad2(d.getUTCSeconds()) +
    ' GMT'
  );
}

/** Two ASCII digits at `i` as a number, or -1. */
function digits2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/** Four ASCII digits at `i` as a number, or -1. */
function digits4(s: string, i: number): number {
  const hi = digits2(s, i);
  const lo = digits2(s, i + 2);
  return hi < 0 || lo < 0 ? -1 : hi * 100 + lo;
}

/** Month number 1–12 for the case-sensitive three-letter name at `i` (RFC 9110 §5.6.7), or -1. */
function monthAt(s: string, i: number): number {
  const code = pack3(s.charCodeAt(i), s.charCodeAt(i + 1), s.charCodeAt(i + 2));
  const m = MONTH_CODES.indexOf(code);
  return m < 0 ? -1 : m + 1;
}

/** Weekday 0 (Sunday) – 6 for the case-sensitive three-letter day-name at `i`, or -1. */
function dayNameAt(s: string, i: number): number {
  return DAY_CODES.indexOf(pack3(s.charCodeAt(i), s.charCodeAt(i + 1), s.charCodeAt(i + 2)));
}

/**
 * `time-of-day = hour ":" minute ":" second` at `i` (RFC 9110 §5.6.7) as milliseconds into
 * the day, or -1. The grammar's comment allows second 60 (a leap second); it is accepted and,
 * as in POSIX time, lands on the first second of the next minute.
 */
function timeOfDayAt(s: string, i: number): number {
  if (s.charCodeAt(i + 2) !== 0x3a || s.charCodeAt(i + 5) !== 0x3a) return -1;
  const hh = digits2(s, i);
  const mm = digits2(s, i + 3);
  const ss = digits2(s, i + 6);
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60) return -1;
  return ((hh * 60 + mm) * 60 + ss) * 1000;
}

function isLeapYear(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeapYear(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic-Gregorian civil date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Milliseconds since the epoch for validated fields, or null when the day does not exist in
 * that month (Feb 30, Apr 31, Feb 29 of a common year) or the day-name is not the actual
 * weekday of the date (a sender that gets the weekday wrong sent a broken date; ignoring it
 * is the safe choice, since every caller treats an invalid date as an absent one).
 */
function toEpochMs(year: number, month: number, day: number, timeMs: number, weekday: number): number | null {
  if (day < 1 || day > daysInMonth(year, month)) return null;
  const days = daysFromCivil(year, month, day);
  if ((((days + 4) % 7) + 7) % 7 !== weekday) return null; // 1970-01-01 was a Thursday (4)
  return days * MS_PER_DAY + timeMs;
}

/**
 * Parses an HTTP-date strictly (RFC 9110 §5.6.7) and returns milliseconds since the epoch,
 * or null when `value` is not exactly one of the three formats a recipient must accept:
 *
 * - IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
 * - obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
 * - obsolete asctime: `Sun Nov  6 08:49:37 1994`
 *
 * Names are case-sensitive (the grammar uses %s"..." strings), fields must be in range, the
 * day must exist in its month, and the day-name must match the date. Leading and trailing
 * OWS is tolerated (it is not part of a field value, RFC 9110 §5.5); anything else that
 * Date.parse might accept ("2024-01-01", "Sun, 6 Nov 1994", "+0000" zones, …) is refused.
 *
 * A two-digit RFC 850 year is placed in the century that puts it no more than 50 years after
 * the year of `nowMs` ("MUST interpret a timestamp that appears to be more than 50 years in
 * the future as representing the most recent year in the past that had the same last two
 * digits", §5.6.7). The window is year-granular: the result lies in
 * [nowYear − 49, nowYear + 50]. `nowMs` defaults to the clock, read only for that form.
 *
 * One function for the three grammars (over ~70 lines on purpose): they share the field
 * scanner and most of their tokens, and read side by side they show which byte tells them apart.
 */
export function parseHttpDate(value: string, nowMs?: number): number | null {
  const start = skipOws(value, 0, value.length);
  const end = trimOwsEnd(value, start, value.length);
  const len = end - start;
  const s = start;

  if (len === 29 && value.charCodeAt(s + 3) === 0x2c) {
    // IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT ; date1 = day SP month SP year
    if (
      value.charCodeAt(s + 4) !== 0x20 ||
      value.charCodeAt(s + 7) !== 0x20 ||
      value.charCodeAt(s + 11) !== 0x20 ||
      value.charCodeAt(s + 16) !== 0x20 ||
      value.charCodeAt(s + 25) !== 0x20 ||
      !value.startsWith('GMT', s + 26)
    ) {
      return null;
    }
    const weekday = dayNameAt(value, s);
    const day = digits2(value, s + 5);
    const month = monthAt(value, s + 8);
    const year = digits4(value, s + 12);
    const time = timeOfDayAt(value, s + 17);
    if (weekday < 0 || day < 0 || month < 0 || year < 0 || time < 0) return null;
    return toEpochMs(year, month, day, time, weekday);
  }

  if (len === 24 && value.charCodeAt(s + 3) === 0x20) {
    // asctime-date = day-name SP date3 SP time-of-day SP year ; date3 = month SP ( 2DIGIT / ( SP DIGIT ) )
    if (
      value.charCodeAt(s + 7) !== 0x20 ||
      value.charCodeAt(s + 10) !== 0x20 ||
      value.charCodeAt(s + 19) !== 0x20
    ) {
      return null;
    }
    const weekday = dayNameAt(value, s);
    const month = monthAt(value, s + 4);
    let day: number;
    if (value.charCodeAt(s + 8) === 0x20) {
      const d = value.charCodeAt(s + 9) - 48;
      day = d >= 0 && d <= 9 ? d : -1;
    } else {
      day = digits2(value, s + 8);
    }
    const time = timeOfDayAt(value, s + 11);
    const year = digits4(value, s + 20);
    if (weekday < 0 || day < 0 || month < 0 || year < 0 || time < 0) return null;
    return toEpochMs(year, month, day, time, weekday);
  }

  // rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT ; date2 = day "-" month "-" 2DIGIT
  // day-name-l is 6 ("Monday") to 9 ("Wednesday") characters, so the whole is 30 to 33.
  const nameLen = len - 24;
  if (nameLen < 6 || nameLen > 9) return null;
  let weekday = -1;
  for (let i = 0; i < 7; i++) {
    const name = DAY_NAMES_LONG[i]!;
    if (name.length === nameLen && value.startsWith(name, s)) {
      weekday = i;
      break;
    }
  }
  const p = s + nameLen;
  if (
    weekday < 0 ||
    value.charCodeAt(p) !== 0x2c ||
    value.charCodeAt(p + 1) !== 0x20 ||
    value.charCodeAt(p + 4) !== 0x2d ||
    value.charCodeAt(p + 8) !== 0x2d ||
    value.charCodeAt(p + 11) !== 0x20 ||
    value.charCodeAt(p + 20) !== 0x20 ||
    !value.startsWith('GMT', p + 21)
  ) {
    return null;
  }
  const day = digits2(value, p + 2);
  const month = monthAt(value, p + 5);
  const yy = digits2(value, p + 9);
  const time = timeOfDayAt(value, p + 12);
  if (day < 0 || month < 0 || yy < 0 || time < 0) return null;
  const nowYear = new Date(nowMs ?? Date.now()).getUTCFullYear();
  let year = nowYear - (nowYear % 100) + yy;
  if (year > nowYear + 50) year -= 100;
  else if (year <= nowYear - 50) year += 100;
  return toEpochMs(year, month, day, time, weekday);
}
