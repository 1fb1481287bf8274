// http/token.ts: the lexical rules the parser, the RFC predicates and the client share.
import t from 'tap';
import { hasConnectionToken, hasControlChar, isAllDigits, isDigit, isHexDigit, isFieldValue, isPersistent, isTchar, isToken, skipOws, trimOws, trimOwsEnd } from '../../../src/http/token';

t.test('tchar and token', async (t) => {
  for (const c of "!#$%&'*+-.^_`|~09AZaz") t.ok(isTchar(c.charCodeAt(0)), c);
  for (const c of ' "(),/:;<=>?@[\\]{}\x7f\x00\xe9') t.notOk(isTchar(c.charCodeAt(0)), JSON.stringify(c));
  t.notOk(isTchar(0x100));
  t.ok(isToken('GET'));
  t.ok(isToken('X-Custom_1.2'));
  t.notOk(isToken(''), 'a token has at least one tchar');
  t.notOk(isToken('a b'));
  t.notOk(isToken('na\u00efve'));
});

t.test('DIGIT', async (t) => {
  t.ok(isDigit(0x30));
  t.ok(isDigit(0x39));
  t.notOk(isDigit(0x2f));
  t.notOk(isDigit(0x3a));
  t.ok(isAllDigits('0123456789'));
  t.notOk(isAllDigits(''));
  t.notOk(isAllDigits('12a'));
  t.notOk(isAllDigits('\u0661'), 'an Arabic-Indic digit is not DIGIT');
  for (const c of '09afAF') t.ok(isHexDigit(c.charCodeAt(0)), c);
  for (const c of 'gG/:@`') t.notOk(isHexDigit(c.charCodeAt(0)), c);
});

t.test('field values and control characters', async (t) => {
  t.ok(isFieldValue('text/html; charset=utf-8'));
  t.ok(isFieldValue('a\tb \xff'), 'HTAB, SP and obs-text');
  t.notOk(isFieldValue('a\r\nX-Injected: 1'));
  t.notOk(isFieldValue('a\x00'));
  t.notOk(isFieldValue('a\x7f'));
  t.notOk(isFieldValue('\u0100'), 'not representable in latin1');
  t.notOk(hasControlChar('a\tb \u0100'), 'HTAB and non-latin1 are not controls');
  t.ok(hasControlChar('a\rb'));
  t.ok(hasControlChar('\x7f'));
});

t.test('OWS', async (t) => {
  t.equal(skipOws(' \t x ', 0, 5), 3);
  t.equal(skipOws('   ', 0, 3), 3);
  t.equal(trimOwsEnd(' x \t', 0, 4), 2);
  t.equal(trimOws(' \tx y\t '), 'x y');
  t.equal(trimOws('x'), 'x');
  t.equal(trimOws('\xa0x\xa0'), '\xa0x\xa0', 'U+00A0 is not OWS');
  t.equal(trimOws('\r\nx'), '\r\nx', 'CR LF are not OWS');
});

t.test('Connection tokens and persistence (RFC 9112 §9.3)', async (t) => {
  t.ok(hasConnectionToken('Upgrade, CLOSE', 'close'));
  t.ok(hasConnectionToken(' close ', 'close'));
  t.notOk(hasConnectionToken('closed', 'close'));
  t.notOk(hasConnectionToken('close\xa0', 'close'));
  t.notOk(hasConnectionToken(undefined, 'close'));
  t.equal(isPersistent(undefined, 1), true);
  t.equal(isPersistent(undefined, 0), false);
  t.equal(isPersistent('close', 1), false);
  t.equal(isPersistent('keep-alive, close', 0), false, 'close wins');
  t.equal(isPersistent('Keep-Alive', 0), true);
  t.equal(isPersistent('upgrade', 0), false);
  t.equal(isPersistent('upgrade', 1), true);
});
