// The hsts setting (src/tls/hsts.ts): values browsers honour pass; the ones they silently
// ignore (RFC 6797 §6.1: no max-age, a directive twice, bad syntax) and header injection fail.
import t from 'tap';
import { HSTS_EXAMPLE, hstsProblem } from '../../../src/tls/hsts';

t.test('usable values', (t) => {
  for (const v of ['', 'max-age=0', 'max-age=63072000', HSTS_EXAMPLE, 'max-age=63072000; includeSubDomains; preload', 'MAX-AGE=31536000', 'max-age="31536000"', ' max-age = 300 ;includeSubDomains ', 'max-age=1;;', 'includeSubDomains; max-age=1', 'max-age=1; future="a;b"']) {
    t.equal(hstsProblem(v), null, JSON.stringify(v));
  }
  t.end();
});

t.test('values browsers would ignore, or that would break the header', (t) => {
  const cases: [string, string][] = [
    ['includeSubDomains', `has no max-age (RFC 6797 requires it; browsers ignore the header without it); for example "${HSTS_EXAMPLE}"`],
    ['max-age', 'max-age must be a whole number of seconds'],
    ['max-age=', 'is not a Strict-Transport-Security value (max-age= has no value); for example "max-age=63072000; includeSubDomains"'],
    ['max-age=-1', 'max-age must be a whole number of seconds'],
    ['max-age=1.5', 'max-age must be a whole number of seconds'],
    ['max-age="1y"', 'max-age must be a whole number of seconds'],
    ['max-age=1; max-age=2', 'gives max-age twice (RFC 6797 allows each directive once)'],
    ['max-age=1; includeSubDomains; INCLUDESUBDOMAINS', 'gives INCLUDESUBDOMAINS twice (RFC 6797 allows each directive once)'],
    ['max-age=1, includeSubDomains', 'is not a Strict-Transport-Security value (expected ";" after max-age at character 10); for example "max-age=63072000; includeSubDomains"'],
    ['max-age=1; x="open', 'is not a Strict-Transport-Security value (unterminated quoted value of x); for example "max-age=63072000; includeSubDomains"'],
    ['max-age=1; [x]', 'is not a Strict-Transport-Security value (unexpected "[" at character 12); for example "max-age=63072000; includeSubDomains"'],
    ['max-age=1\r\nSet-Cookie: a=b', 'contains a control character (CR, LF, NUL, …) or a character above U+00FF'],
    ['max-age=1\u0000', 'contains a control character (CR, LF, NUL, …) or a character above U+00FF'],
    ['max-age=1; x=\u2603', 'contains a control character (CR, LF, NUL, …) or a character above U+00FF'],
  ];
  for (const [v, says] of cases) t.equal(hstsProblem(v), says, JSON.stringify(v));
  t.end();
});
