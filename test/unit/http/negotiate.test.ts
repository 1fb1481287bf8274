// Unit tests for src/http/negotiate.ts (RFC 9110 §12.4.2, §12.5.1, §12.5.3).
import t from 'tap';
import { chooseEncoding, prefersHtml, prefersJson, type Coding } from '../../../src/http/negotiate';

const ALL: readonly Coding[] = ['br', 'zstd', 'gzip'];
const ce = (h: string | undefined, available: readonly Coding[] = ALL): Coding | null => chooseEncoding(h, available);

t.test('chooseEncoding: absent, empty, nothing available', (t) => {
  t.equal(ce(undefined), null, 'absent → identity');
  t.equal(ce(''), null, 'empty → identity (no coding wanted)');
  t.equal(ce('   '), null, 'only OWS');
  t.equal(ce(',,'), null, 'only empty elements');
  t.equal(ce('gzip', []), null, 'nothing available');
  t.equal(ce('br', ['gzip']), null, 'wanted coding not available');
  t.equal(ce('deflate, compress'), null, 'only unknown codings');
  t.end();
});

t.test('chooseEncoding: server preference br > zstd > gzip on ties', (t) => {
  t.equal(ce('gzip'), 'gzip');
  t.equal(ce('br'), 'br');
  t.equal(ce('zstd'), 'zstd');
  t.equal(ce('gzip, br'), 'br', 'gzip, br');
  t.equal(ce('gzip, zstd'), 'zstd', 'gzip, zstd');
  t.equal(ce('gzip, deflate, br, zstd'), 'br', 'Chrome');
  t.equal(ce('gzip, deflate, br, zstd', ['gzip', 'zstd']), 'zstd', 'Chrome, no br');
  t.equal(ce('gzip, deflate, br, zstd', ['zstd', 'gzip', 'br']), 'br', 'order of `available` does not matter');
  t.equal(ce('gzip, deflate, br, zstd', ['gzip']), 'gzip', 'only gzip available');
  t.equal(ce('*'), 'br', '* alone');
  t.equal(ce('*', ['gzip']), 'gzip', '* with only gzip');
  t.end();
});

t.test('chooseEncoding: q-values decide first', (t) => {
  t.equal(ce('br;q=0.5, gzip'), 'gzip', 'lower q for br');
  t.equal(ce('br;q=0.5, gzip;q=0.6'), 'gzip');
  t.equal(ce('br;q=0.61, gzip;q=0.6'), 'br');
  t.equal(ce('br;q=0.501, gzip;q=0.5'), 'br', 'thousandths count');
  t.equal(ce('br;q=0.5, zstd;q=0.5, gzip;q=0.5'), 'br', 'equal q: preference');
  t.equal(ce('gzip;q=1.0, br;q=0.999'), 'gzip', 'q=1.0');
  t.equal(ce('gzip;q=1.000, br;q=1'), 'br', 'q=1.000 equals q=1');
  t.equal(ce('gzip;q=0.001'), 'gzip', 'the lowest positive q is acceptable');
  t.equal(ce('gzip;q=0.'), null, '"0." is a valid zero');
  t.equal(ce('gzip;q=1.'), 'gzip', '"1." is a valid one');
  t.equal(ce('gzip ; q=0.5 , br ; q=0.4'), 'gzip', 'OWS around ";" and ","');
  t.equal(ce('gzip\t;\tq=0.5,\tbr;q=0.4'), 'gzip', 'HTAB as OWS');
  t.equal(ce('gzip;Q=0.9, br;q=0.5'), 'gzip', 'the q name is case-insensitive');
  t.end();
});

t.test('chooseEncoding: q=0 refuses', (t) => {
  t.equal(ce('gzip;q=0'), null, 'gzip;q=0');
  t.equal(ce('gzip;q=0.000'), null, 'gzip;q=0.000');
  t.equal(ce('gzip;q=0.0'), null, 'gzip;q=0.0');
  t.equal(ce('br;q=0, gzip'), 'gzip', 'br refused');
  t.equal(ce('br;q=0, *'), 'zstd', 'br refused, * for the rest');
  t.equal(ce('br;q=0, zstd;q=0, *'), 'gzip');
  t.equal(ce('*;q=0'), null, '*;q=0');
  t.equal(ce('*;q=0, gzip'), 'gzip', 'explicit gzip beats *;q=0');
  t.equal(ce('gzip, *;q=0'), 'gzip', 'order does not matter');
  t.equal(ce('*, gzip;q=0'), 'br', '* applies only to codings not listed');
  t.equal(ce('*, gzip;q=0', ['gzip']), null, 'gzip refused explicitly, * does not re-enable it');
  t.end();
});

t.test('chooseEncoding: x-gzip and case-insensitive names', (t) => {
  t.equal(ce('x-gzip'), 'gzip', 'x-gzip');
  t.equal(ce('X-GZip'), 'gzip', 'X-GZip');
  t.equal(ce('GZIP'), 'gzip', 'GZIP');
  t.equal(ce('BR'), 'br', 'BR');
  t.equal(ce('ZStd'), 'zstd', 'ZStd');
  t.equal(ce('x-gzip;q=0, gzip;q=0.5'), 'gzip', 'aliases: the highest weight of the duplicates');
  t.equal(ce('x-gzip, *;q=0', ['gzip']), 'gzip', 'x-gzip counts as listing gzip');
  t.equal(ce('x-gzip;q=0, *', ['gzip']), null, 'x-gzip;q=0 refuses gzip despite *');
  t.equal(ce('gzipx'), null, 'gzipx is not gzip');
  t.equal(ce('xgzip'), null, 'xgzip is not gzip');
  t.equal(ce('bro'), null, 'bro is not br');
  t.end();
});

t.test('chooseEncoding: duplicates get their highest weight', (t) => {
  t.equal(ce('gzip;q=0, gzip;q=0.5'), 'gzip');
  t.equal(ce('br;q=0, br'), 'br');
  t.equal(ce('br;q=0.2, gzip;q=0.5, br;q=0.9'), 'br');
  t.end();
});

t.test('chooseEncoding: identity competes', (t) => {
  t.equal(ce('identity'), null, 'only identity');
  t.equal(ce('gzip;q=0.5, identity'), null, 'identity preferred');
  t.equal(ce('gzip;q=0.5, identity;q=0.5'), 'gzip', 'tie with identity: compress');
  t.equal(ce('gzip;q=0.5, identity;q=0.4'), 'gzip');
  t.equal(ce('IDENTITY;q=0.9, gzip;q=0.5'), null, 'identity name is case-insensitive');
  t.equal(ce('*;q=0.5, gzip;q=0.1'), 'br', '* weighs br (0.5) and identity (0.5) alike: tie → br');
  t.equal(ce('*;q=0.5, gzip;q=0.1', ['gzip']), null, 'gzip 0.1 < identity via * 0.5');
  t.equal(ce('*;q=0.5, identity;q=0.1, gzip;q=0.1', ['gzip']), 'gzip', 'explicit identity overrides *');
  t.equal(ce('gzip;q=0.1'), 'gzip', 'identity not mentioned: lowest preference');
  t.end();
});

t.test('chooseEncoding: identity refused and nothing acceptable → still identity (null)', (t) => {
  t.equal(ce('identity;q=0'), null, 'identity;q=0 alone');
  t.equal(ce('identity;q=0', ['gzip']), null, 'identity;q=0, gzip not listed');
  t.equal(ce('*;q=0'), null, '*;q=0 without identity');
  t.equal(ce('identity;q=0, *;q=0'), null, 'both refused');
  t.equal(ce('identity;q=0, deflate'), null, 'only an unavailable coding');
  t.equal(ce('identity;q=0, gzip;q=0.1'), 'gzip', 'refused identity, acceptable gzip');
  t.equal(ce('*;q=0, identity'), null, 'identity explicitly fine, the rest refused');
  t.equal(ce('*, identity;q=0'), 'br', 'identity refused, * accepts br');
  t.end();
});

t.test('chooseEncoding: invalid elements are ignored', (t) => {
  t.equal(ce('br;q=2, gzip;q=0.5'), 'gzip', 'q=2');
  t.equal(ce('br;q=1.001, gzip;q=0.5'), 'gzip', 'q=1.001');
  t.equal(ce('br;q=1.5, gzip;q=0.5'), 'gzip', 'q=1.5');
  t.equal(ce('br;q=0.0001, gzip;q=0.5'), 'gzip', 'four decimals');
  t.equal(ce('br;q=abc, gzip;q=0.5'), 'gzip', 'q=abc');
  t.equal(ce('br;q=, gzip;q=0.5'), 'gzip', 'empty q');
  t.equal(ce('br;q=.5, gzip;q=0.5'), 'gzip', 'q=.5');
  t.equal(ce('br;q=-1, gzip;q=0.5'), 'gzip', 'q=-1');
  t.equal(ce('br;q="1", gzip;q=0.5'), 'gzip', 'quoted q');
  t.equal(ce('br;q=0.5;q=0.6, gzip;q=0.5'), 'gzip', 'q twice');
  t.equal(ce('br;level=5, gzip;q=0.5'), 'gzip', 'unknown parameter');
  t.equal(ce('br;, gzip;q=0.5'), 'gzip', 'empty parameter');
  t.equal(ce('br;q, gzip;q=0.5'), 'gzip', 'parameter without value');
  t.equal(ce('br q=1, gzip;q=0.5'), 'gzip', 'missing ";"');
  t.equal(ce('gzip br'), null, 'two tokens without comma');
  t.equal(ce('"gzip"'), null, 'quoted coding');
  t.equal(ce('br/x, gzip;q=0.5'), 'gzip', 'not a token');
  t.equal(ce('br;q=0.5 x, gzip;q=0.1'), 'gzip', 'junk after the weight');
  t.equal(ce('br;q=0;x="a,b", gzip;q=0.5'), 'gzip', 'quoted junk with a comma is skipped whole');
  t.equal(ce(';q=1, gzip;q=0.5'), 'gzip', 'no coding name');
  t.end();
});

t.test('chooseEncoding handles long and hostile values', (t) => {
  const long = Array.from({ length: 5000 }, (_, k) => `c${k};q=0.5`).join(', ') + ', gzip;q=0.1';
  t.equal(ce(long), 'gzip', '5000 elements');
  t.equal(ce('"'.repeat(1000) + ', gzip'), 'gzip', 'unbalanced quotes do not swallow everything');
  t.equal(ce('\u00ff\u0100, gzip'), 'gzip', 'non-ASCII junk element');
  t.end();
});

t.test('prefersJson', (t) => {
  const cases: [string | undefined, boolean, string][] = [
    [undefined, false, 'absent'],
    ['', false, 'empty'],
    ['application/json', true, 'json only'],
    ['APPLICATION/JSON', true, 'case-insensitive type'],
    ['Application/Json;charset=utf-8', true, 'with a parameter'],
    ['application/json; charset="utf-8"', true, 'with a quoted parameter'],
    ['application/json, text/html', false, 'tie (json first)'],
    ['text/html, application/json', false, 'tie (html first)'],
    ['application/json;q=0.9, text/html', false, 'html higher'],
    ['application/json, text/html;q=0.9', true, 'json higher'],
    ['application/json, text/html;q=0', true, 'html refused'],
    ['application/json;q=0', false, 'json refused'],
    ['application/json;q=0, text/html;q=0', false, 'both refused'],
    ['application/json, */*', false, 'tie with */*'],
    ['application/json, */*;q=0.8', true, '*/* lower'],
    ['application/json;q=0.5, */*', false, '*/* higher'],
    ['application/json, text/*', false, 'tie with text/*'],
    ['application/json, text/*;q=0.9', true, 'text/* lower'],
    ['application/json;q=0.5, text/*;q=0.4, */*;q=0.9', true, 'text/* is more specific than */*'],
    ['application/json;q=0.5, text/html;q=0.1, text/*;q=0.9', true, 'text/html is more specific than text/*'],
    ['application/json;q=0.5, text/html;q=0.6, text/*;q=0.1', false, 'explicit html higher'],
    ['application/json;q=0.5, application/json;q=0.9, text/html;q=0.8', true, 'json listed twice: highest'],
    ['text/html;q=0.1, text/html;q=0.9, application/json;q=0.5', false, 'html listed twice: highest'],
    ['text/html;level=1;q=0.2, application/json;q=0.5', true, 'html with a parameter'],
    ['*/*', false, 'curl default'],
    ['application/*', false, 'application/* does not list json'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8', false, 'browser'],
    ['application/json, text/plain, */*', false, 'axios default'],
    ['application/jsonx', false, 'application/jsonx'],
    ['application/json-seq', false, 'application/json-seq'],
    ['text/json', false, 'text/json'],
    ['json', false, 'no slash'],
    ['application/json;q=2', false, 'invalid weight: element ignored'],
    ['application/json;q=0.8, text/html;q=abc', true, 'invalid html weight: element ignored'],
    ['text/plain;x="a, application/json"', false, 'json inside a quoted string'],
    ['text/html;x="a, b";q=0.2, application/json;q=0.5', true, 'quoted comma does not split html'],
    ['text/html;x="a\\"b, c";q=0.2, application/json;q=0.5', true, 'escaped quote inside a quoted string'],
    ['application/json ;q=0.5 , text/html ;q=0.4', true, 'OWS'],
    ['application/json;Q=0.5, text/html;q=0.4', true, 'Q is q'],
    ['application /json', false, 'space before the slash'],
    ['application/ json', false, 'space after the slash'],
    ['*/json', false, '*/json is not application/json'],
    [',,application/json,,', true, 'empty elements'],
  ];
  for (const [h, want, msg] of cases) t.equal(prefersJson(h), want, `${msg}: ${JSON.stringify(h)}`);
  t.end();
});

t.test('prefersHtml: browser navigations yes, assets and scripts no', (t) => {
  const cases: [string | undefined, boolean, string][] = [
    ['text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7', true, 'Chrome navigation'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true, 'Firefox navigation'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true, 'Safari navigation'],
    ['image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', false, 'Chrome image'],
    ['image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5', false, 'Firefox image'],
    ['text/css,*/*;q=0.1', false, 'style sheet'],
    ['*/*', false, 'script, fetch(), curl'],
    ['application/json, text/plain, */*', false, 'axios'],
    [undefined, false, 'absent: any type'],
    ['', false, 'empty'],
    ['text/html', true, 'html only'],
    ['TEXT/HTML', true, 'case-insensitive'],
    ['text/html;charset=utf-8', true, 'with a parameter'],
    ['text/html, */*', true, 'tie with */*'],
    ['*/*;q=0.8, text/html', true, 'html listed last'],
    ['text/html;q=0.5, */*', false, '*/* higher'],
    ['application/json, text/html;q=0.9', false, 'json higher'],
    ['text/html;q=0', false, 'html refused'],
    ['text/*', false, 'text/* does not list html'],
    ['text/htmlx', false, 'text/htmlx'],
    ['text/html;q=2, */*;q=0.1', false, 'invalid weight: element ignored'],
    ['text/html;q=0.1, text/html;q=0.9, */*;q=0.8', true, 'html listed twice: highest'],
    ['application/xhtml+xml, text/html', true, 'tie with xhtml'],
  ];
  for (const [h, want, msg] of cases) t.equal(prefersHtml(h), want, `${msg}: ${JSON.stringify(h)}`);
  t.end();
});
