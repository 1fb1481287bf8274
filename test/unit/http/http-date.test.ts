// Unit tests for src/http/http-date.ts (RFC 9110 §5.6.7).
import t from 'tap';
import { formatHttpDate, parseHttpDate } from '../../../src/http/http-date';

// The RFC's example instant: Sun, 06 Nov 1994 08:49:37 GMT.
const EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37);
// A fixed "now" for the two-digit years of RFC 850 dates: 2025-06-15.
const NOW_2025 = Date.UTC(2025, 5, 15, 12, 0, 0);

/** Milliseconds for a UTC civil date, years 0–99 included (Date.UTC maps those to 19xx). */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return date.getTime();
}

t.test('formatHttpDate writes IMF-fixdate', (t) => {
  t.equal(formatHttpDate(EXAMPLE), 'Sun, 06 Nov 1994 08:49:37 GMT', 'RFC 9110 example');
  t.equal(formatHttpDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT', 'epoch');
  t.equal(formatHttpDate(EXAMPLE + 999), 'Sun, 06 Nov 1994 08:49:37 GMT', 'sub-second part is floored');
  t.equal(formatHttpDate(-1), 'Wed, 31 Dec 1969 23:59:59 GMT', 'negative ms floor to the previous second');
  t.equal(formatHttpDate(Date.UTC(2024, 1, 29, 23, 5, 9)), 'Thu, 29 Feb 2024 23:05:09 GMT', 'leap day, padded fields');
  t.equal(formatHttpDate(utc(5, 3, 7)).slice(3), ', 07 Mar 0005 00:00:00 GMT', 'year 5 padded to 4 digits');
  t.equal(formatHttpDate(utc(0, 1, 1)).slice(3), ', 01 Jan 0000 00:00:00 GMT', 'year 0');
  t.equal(formatHttpDate(utc(999, 12, 31, 1, 2, 3)).slice(5), '31 Dec 0999 01:02:03 GMT', 'year 999');
  t.equal(formatHttpDate(utc(9999, 12, 31, 23, 59, 59)), 'Fri, 31 Dec 9999 23:59:59 GMT', 'last representable second');
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  for (let m = 0; m < 12; m++) {
    t.equal(formatHttpDate(Date.UTC(2001, m, 1)).slice(8, 11), months[m], `month ${m + 1} name`);
  }
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  for (let d = 0; d < 7; d++) {
    // 2023-01-01 was a Sunday.
    t.equal(formatHttpDate(Date.UTC(2023, 0, 1 + d)).slice(0, 3), days[d], `weekday ${d} name`);
  }
  t.end();
});

t.test('formatHttpDate refuses what IMF-fixdate cannot express', (t) => {
  t.throws(() => formatHttpDate(NaN), RangeError, 'NaN');
  t.throws(() => formatHttpDate(Infinity), RangeError, 'Infinity');
  t.throws(() => formatHttpDate(utc(10000, 1, 1)), RangeError, 'year 10000');
  t.throws(() => formatHttpDate(utc(-1, 12, 31)), RangeError, 'negative year');
  t.end();
});

t.test('formatHttpDate agrees with Date#toUTCString for 4-digit years', (t) => {
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  let mismatches = 0;
  for (let k = 0; k < 2000; k++) {
    const ms = Math.floor(rand() * utc(9999, 1, 1)); // 1970..9999
    if (formatHttpDate(ms) !== new Date(ms).toUTCString()) mismatches++;
  }
  t.equal(mismatches, 0, '2000 random instants');
  t.end();
});

t.test('parseHttpDate accepts the three formats of §5.6.7', (t) => {
  t.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), EXAMPLE, 'IMF-fixdate');
  t.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW_2025), EXAMPLE, 'RFC 850');
  t.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), EXAMPLE, 'asctime, space-padded day');
  t.equal(parseHttpDate('Sun Nov 06 08:49:37 1994'), EXAMPLE, 'asctime, 2DIGIT day');
  t.equal(parseHttpDate('Thu, 01 Jan 1970 00:00:00 GMT'), 0, 'epoch');
  t.equal(parseHttpDate('Wed, 31 Dec 1969 23:59:59 GMT'), -1000, 'before the epoch');
  t.equal(parseHttpDate('Fri, 31 Dec 9999 23:59:59 GMT'), utc(9999, 12, 31, 23, 59, 59), 'year 9999');
  t.equal(parseHttpDate(formatHttpDate(utc(0, 1, 1))), utc(0, 1, 1), 'year 0000 (proleptic Gregorian)');
  t.equal(parseHttpDate(formatHttpDate(utc(4, 2, 29))), utc(4, 2, 29), 'Feb 29 of year 0004');
  t.end();
});

t.test('parseHttpDate: every day-name and month name', (t) => {
  const longDays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  for (let d = 0; d < 7; d++) {
    const ms = Date.UTC(2023, 0, 1 + d, 10, 20, 30); // 2023-01-01 was a Sunday
    const fix = formatHttpDate(ms);
    t.equal(parseHttpDate(fix), ms, fix);
    const rfc850 = `${longDays[d]}, 0${1 + d}-Jan-23 10:20:30 GMT`;
    t.equal(parseHttpDate(rfc850, NOW_2025), ms, rfc850);
    const asc = `${fix.slice(0, 3)} Jan  ${1 + d} 10:20:30 2023`;
    t.equal(parseHttpDate(asc), ms, asc);
  }
  for (let m = 0; m < 12; m++) {
    const ms = Date.UTC(2022, m, 15, 0, 0, 0);
    const fix = formatHttpDate(ms);
    t.equal(parseHttpDate(fix), ms, fix);
  }
  t.end();
});

t.test('parseHttpDate round-trips formatHttpDate', (t) => {
  let seed = 99;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  let bad = 0;
  for (let k = 0; k < 5000; k++) {
    const ms = utc(0, 1, 1) + Math.floor(rand() * (utc(9999, 12, 31) - utc(0, 1, 1))); // years 0..9999
    const s = formatHttpDate(ms);
    if (parseHttpDate(s) !== Math.floor(ms / 1000) * 1000) bad++;
    // and agrees with the platform for the dates it understands
    if (ms >= 0 && Date.parse(s) !== parseHttpDate(s)) bad++;
  }
  t.equal(bad, 0, 'random instants');
  t.end();
});

t.test('parseHttpDate validates calendar fields', (t) => {
  t.equal(parseHttpDate('Thu, 29 Feb 2024 00:00:00 GMT'), Date.UTC(2024, 1, 29), 'Feb 29 of a leap year');
  t.equal(parseHttpDate('Tue, 29 Feb 2000 00:00:00 GMT'), Date.UTC(2000, 1, 29), '2000 is a leap year');
  t.equal(parseHttpDate('Thu, 01 Mar 1900 00:00:00 GMT'), Date.UTC(1900, 2, 1), 'Mar 1 1900');
  t.equal(parseHttpDate('Thu, 29 Feb 1900 00:00:00 GMT'), null, '1900 is not a leap year');
  t.equal(parseHttpDate('Wed, 29 Feb 2023 00:00:00 GMT'), null, 'Feb 29 of a common year');
  t.equal(parseHttpDate('Fri, 30 Feb 2024 00:00:00 GMT'), null, 'Feb 30');
  t.equal(parseHttpDate('Wed, 31 Apr 2024 00:00:00 GMT'), null, 'Apr 31');
  t.equal(parseHttpDate('Sun, 31 Jun 2024 00:00:00 GMT'), null, 'Jun 31');
  t.equal(parseHttpDate('Tue, 31 Sep 2024 00:00:00 GMT'), null, 'Sep 31');
  t.equal(parseHttpDate('Sun, 31 Nov 2024 00:00:00 GMT'), null, 'Nov 31');
  t.equal(parseHttpDate('Tue, 31 Dec 2024 00:00:00 GMT'), Date.UTC(2024, 11, 31), 'Dec 31');
  t.equal(parseHttpDate('Sun, 00 Nov 1994 08:49:37 GMT'), null, 'day 00');
  t.equal(parseHttpDate('Sun, 32 Nov 1994 08:49:37 GMT'), null, 'day 32');
  t.equal(parseHttpDate('Sun, 06 Nov 1994 24:00:00 GMT'), null, 'hour 24');
  t.equal(parseHttpDate('Sun, 06 Nov 1994 08:60:00 GMT'), null, 'minute 60');
  t.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:61 GMT'), null, 'second 61');
  t.equal(parseHttpDate('Sun, 06 Nov 1994 23:59:59 GMT'), Date.UTC(1994, 10, 6, 23, 59, 59), 'last second of a day');
  t.equal(
    parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT'),
    Date.UTC(2017, 0, 1),
    'leap second 60 is accepted and lands on the next second (POSIX)',
  );
  t.equal(parseHttpDate('Mon, 06 Nov 1994 08:49:37 GMT'), null, 'day-name does not match the date');
  t.equal(parseHttpDate('Monday, 06-Nov-94 08:49:37 GMT', NOW_2025), null, 'RFC 850 day-name mismatch');
  t.equal(parseHttpDate('Mon Nov  6 08:49:37 1994'), null, 'asctime day-name mismatch');
  t.end();
});

t.test('parseHttpDate refuses anything else', (t) => {
  const bad = [
    '',
    ' ',
    'GMT',
    '2024-01-01',
    '2024-01-01T00:00:00Z',
    '1994-11-06T08:49:37.000Z',
    '784111777',
    'Sun, 6 Nov 1994 08:49:37 GMT', // 1-digit day
    'Sun, 06 Nov 94 08:49:37 GMT', // 2-digit year in IMF-fixdate
    'Sun, 06 Nov 1994 8:49:37 GMT', // 1-digit hour
    'Sun, 06 Nov 1994 08:49 GMT', // no seconds
    'Sun, 06 Nov 1994 08:49:37', // no zone
    'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun, 06 Nov 1994 08:49:37 gmt',
    'Sun, 06 Nov 1994 08:49:37 +0000',
    'Sun, 06 Nov 1994 08:49:37 GMT+1',
    'Sun, 06 Nov 1994 08:49:37 GMTX',
    'Sun, 06 Nov 1994 08:49:37 GMT GMT',
    'sun, 06 Nov 1994 08:49:37 GMT', // names are case-sensitive
    'SUN, 06 Nov 1994 08:49:37 GMT',
    'Sun, 06 nov 1994 08:49:37 GMT',
    'Sun, 06 NOV 1994 08:49:37 GMT',
    'Xyz, 06 Nov 1994 08:49:37 GMT',
    'Sun, 06 Foo 1994 08:49:37 GMT',
    'Sunday, 06 Nov 1994 08:49:37 GMT', // long day-name with date1
    'Sun,  06 Nov 1994 08:49:37 GMT', // double space
    'Sun, 06  Nov 1994 08:49:37 GMT',
    'Sun,06 Nov 1994 08:49:37 GMT ',
    'Sun, 06-Nov-1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 08-49-37 GMT',
    'Sun, 06 Nov 1994 08:49.37 GMT',
    'Sun, 0a Nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 19a4 08:49:37 GMT',
    'Sun, 06 Nov 1994 08:4a:37 GMT',
    'Sun, 06 Nov -994 08:49:37 GMT',
    'Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT', // a list
    'Sun, ٠٦ Nov 1994 08:49:37 GMT', // non-ASCII digits
    'Sun, 06 Nov 1994 08:49:37 GMT\u0000',
    'Sun, 06 Nov 1994 08:49:37 GMT\r\n',
    'Sunday, 06-Nov-94 08:49:37 UTC',
    'Sunday, 6-Nov-94 08:49:37 GMT',
    'Sunday, 06-Nov-1994 08:49:37 GMT',
    'Sunday, 06-nov-94 08:49:37 GMT',
    'sunday, 06-Nov-94 08:49:37 GMT',
    'Sundays, 06-Nov-94 08:49:37 GMT',
    'Sun, 06-Nov-94 08:49:37 GMT', // short day-name with date2
    'Sunday 06-Nov-94 08:49:37 GMT',
    'Sunday,  06-Nov-94 08:49:37 GMT',
    'Sunday, 06 Nov 94 08:49:37 GMT',
    'Sundayy, 06-Nov-94 08:49:37 GMT',
    'Xxxxxxxxx, 06-Nov-94 08:49:37 GMT',
    'Sun Nov 6 08:49:37 1994', // asctime with a single space
    'Sun Nov  6 08:49:37 94',
    'Sun Nov  6 08:49:37 1994 GMT',
    'Sun, Nov  6 08:49:37 1994',
    'Sun Nov x6 08:49:37 1994',
    'Sun Nov  x 08:49:37 1994',
    'Sun Nov  0 08:49:37 1994',
    'Sun nov  6 08:49:37 1994',
    'Sun Nov  6 08:49:37 19941',
    'Sun Nov  6  8:49:37 1994',
    'Sun 06 Nov 1994 08:49:37 GMT',
    'Sun Nov  6 08:49:37  1994',
  ];
  for (const s of bad) t.equal(parseHttpDate(s, NOW_2025), null, JSON.stringify(s));
  t.ok(!Number.isNaN(Date.parse('Sun, 6 Nov 1994 08:49:37 GMT')), 'Date.parse would have accepted a 1-digit day');
  t.ok(!Number.isNaN(Date.parse('2024-01-01')), 'Date.parse would have accepted ISO 8601');
  t.end();
});

t.test('parseHttpDate tolerates surrounding OWS only', (t) => {
  t.equal(parseHttpDate('  Sun, 06 Nov 1994 08:49:37 GMT\t'), EXAMPLE, 'IMF-fixdate with OWS');
  t.equal(parseHttpDate(' Sunday, 06-Nov-94 08:49:37 GMT ', NOW_2025), EXAMPLE, 'RFC 850 with OWS');
  t.equal(parseHttpDate('\tSun Nov  6 08:49:37 1994 '), EXAMPLE, 'asctime with OWS');
  t.equal(parseHttpDate('\nSun, 06 Nov 1994 08:49:37 GMT'), null, 'LF is not OWS');
  t.equal(parseHttpDate('\u00a0Sun, 06 Nov 1994 08:49:37 GMT'), null, 'NBSP is not OWS');
  t.end();
});

t.test('parseHttpDate: two-digit RFC 850 years (§5.6.7, 50-year window)', (t) => {
  const longDays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  /** Parses 01-Jan-<yy> with the weekday of Jan 1 of `year`, the expected interpretation. */
  const check = (yy: string, now: number, year: number, msg: string): void => {
    const ms = utc(year, 1, 1);
    const s = `${longDays[new Date(ms).getUTCDay()]}, 01-Jan-${yy} 00:00:00 GMT`;
    t.equal(parseHttpDate(s, now), ms, `${msg}: ${s}`);
  };
  check('70', NOW_2025, 2070, '70 in 2025 → 2070 (45 years ahead is not "more than 50")');
  check('94', NOW_2025, 1994, '94 in 2025 → 1994');
  check('00', NOW_2025, 2000, '00 in 2025 → 2000');
  check('25', NOW_2025, 2025, '25 in 2025 → 2025');
  check('26', NOW_2025, 2026, '26 in 2025 → 2026 (near future)');
  check('75', NOW_2025, 2075, '75 in 2025 → 2075 (exactly 50 years ahead is kept)');
  check('76', NOW_2025, 1976, '76 in 2025 → 1976 (2076 is more than 50 years ahead)');
  check('99', NOW_2025, 1999, '99 in 2025 → 1999');
  const NOW_2099 = Date.UTC(2099, 6, 1);
  check('09', NOW_2099, 2109, '09 in 2099 → 2109 (2009 is 90 years back, 2109 only 10 ahead)');
  check('49', NOW_2099, 2149, '49 in 2099 → 2149 (exactly 50 ahead)');
  check('50', NOW_2099, 2050, '50 in 2099 → 2050');
  check('70', NOW_2099, 2070, '70 in 2099 → 2070');
  const NOW_1999 = Date.UTC(1999, 0, 1);
  check('04', NOW_1999, 2004, '04 in 1999 → 2004');
  check('49', NOW_1999, 2049, '49 in 1999 → 2049');
  check('50', NOW_1999, 1950, '50 in 1999 → 1950');
  // The weekday is checked against the interpreted year: 2076-01-01 was a Wednesday, 1976-01-01 a Thursday.
  t.equal(parseHttpDate('Wednesday, 01-Jan-76 00:00:00 GMT', NOW_2025), null, 'weekday of the other century');
  // Default `now` is the real clock: the current two-digit year is this year.
  const thisYear = new Date().getUTCFullYear();
  const jan1 = Date.UTC(thisYear, 0, 1);
  const s = `${longDays[new Date(jan1).getUTCDay()]}, 01-Jan-${String(thisYear % 100).padStart(2, '0')} 00:00:00 GMT`;
  t.equal(parseHttpDate(s), jan1, `default now: ${s}`);
  t.end();
});
