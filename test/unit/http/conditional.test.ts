// Unit tests for src/http/conditional.ts (RFC 9110 §8.8.3, §13.1, §13.2).
import t from 'tap';
import {
  evaluatePreconditions,
  isRangeFresh,
  parseEtagList,
  strongMatch,
  weakMatch,
  type ConditionalHeaders,
  type Validators,
} from '../../../src/http/conditional';
import { formatHttpDate } from '../../../src/http/http-date';

// Last-Modified with a sub-second part, so whole-second comparison is exercised everywhere.
const LM = Date.UTC(2024, 2, 10, 12, 30, 45) + 678;
const LM_DATE = formatHttpDate(LM); // "Sun, 10 Mar 2024 12:30:45 GMT" (floored)
const BEFORE = formatHttpDate(LM - 1000); // one second earlier
const AFTER = formatHttpDate(LM + 1000); // one second later
const V: Validators = { etag: '"v1"', lastModifiedMs: LM };
const WEAK_V: Validators = { etag: 'W/"v1"', lastModifiedMs: LM };
const NO_DATE: Validators = { etag: '"v1"', lastModifiedMs: NaN };

t.test('parseEtagList: valid lists', (t) => {
  const cases: [string, string[] | '*'][] = [
    ['"a"', ['"a"']],
    ['W/"a"', ['W/"a"']],
    ['"a", W/"b"', ['"a"', 'W/"b"']],
    ['"a",W/"b","c"', ['"a"', 'W/"b"', '"c"']],
    ['"a,b", "c"', ['"a,b"', '"c"']], // opaque tags may contain commas
    ['""', ['""']], // empty opaque-tag is valid
    ['W/""', ['W/""']],
    ['  "a"  ,\t"b"\t', ['"a"', '"b"']],
    ['"a",,"b"', ['"a"', '"b"']], // empty elements (§5.6.1)
    [',"a",', ['"a"']],
    [', ,"a" , ,', ['"a"']],
    ['"!#$%&\'()*+-./09:;<=>?@AZ[\\]^_`az{|}~"', ['"!#$%&\'()*+-./09:;<=>?@AZ[\\]^_`az{|}~"']],
    ['"caf\u00e9"', ['"caf\u00e9"']], // obs-text
    ['"*"', ['"*"']],
    ['*', '*'],
    ['  *  ', '*'],
    ['*, *', '*'], // two If-None-Match: * fields joined
    ['', []],
    ['   ', []],
    [',,', []],
  ];
  for (const [input, want] of cases) {
    t.strictSame(parseEtagList(input), want, JSON.stringify(input));
  }
  t.end();
});

t.test('parseEtagList: invalid lists → null', (t) => {
  const bad = [
    'a',
    '"a',
    'a"',
    '"a""b"',
    '"a" "b"',
    '"a" ;',
    '"a", b',
    'w/"a"', // the weak prefix is case-sensitive
    'W/ "a"',
    'W/a',
    'W"a"',
    'W/',
    '"a b"', // SP is not etagc
    '"a, b"',
    '"a\tb"',
    '"a\u0000"',
    '"a\u007f"',
    '"a\u20ac"', // above U+00FF: not on the wire
    '*, "a"', // "*" is the whole value, not a list member
    '"a", *',
    '**',
    '*a',
    "'a'",
  ];
  for (const input of bad) t.equal(parseEtagList(input), null, JSON.stringify(input));
  t.end();
});

t.test('strongMatch / weakMatch follow the §8.8.3.2 table', (t) => {
  const table: [string, string, boolean, boolean][] = [
    ['W/"1"', 'W/"1"', false, true],
    ['W/"1"', 'W/"2"', false, false],
    ['W/"1"', '"1"', false, true],
    ['"1"', 'W/"1"', false, true],
    ['"1"', '"1"', true, true],
    ['"1"', '"2"', false, false],
    ['"1"', '"10"', false, false],
    ['"10"', '"1"', false, false],
    ['""', '""', true, true],
    ['"a,b"', '"a,b"', true, true],
    ['"A"', '"a"', false, false], // opaque tags are case-sensitive
  ];
  for (const [a, b, strong, weak] of table) {
    t.equal(strongMatch(a, b), strong, `strongMatch(${a}, ${b})`);
    t.equal(weakMatch(a, b), weak, `weakMatch(${a}, ${b})`);
  }
  const malformed: [string, string][] = [
    ['abc', 'abc'],
    ['W/abc', 'W/abc'],
    ['', ''],
    ['"a', '"a'],
    ['w/"a"', 'w/"a"'],
    ['"a" ', '"a" '],
    ['"a b"', '"a b"'],
  ];
  for (const [a, b] of malformed) {
    t.equal(strongMatch(a, b), false, `strongMatch(${JSON.stringify(a)}) malformed`);
    t.equal(weakMatch(a, b), false, `weakMatch(${JSON.stringify(a)}) malformed`);
  }
  t.equal(weakMatch('"a"', 'abc'), false, 'weakMatch with one malformed side');
  t.end();
});

/** Shorthand: evaluate for a method and headers against V. */
const ev = (method: string, h: ConditionalHeaders, v: Validators | null = V): ReturnType<typeof evaluatePreconditions> =>
  evaluatePreconditions(method, h, v);

t.test('no conditional fields → proceed', (t) => {
  t.equal(ev('GET', {}), 'proceed');
  t.equal(ev('HEAD', {}), 'proceed');
  t.equal(ev('PUT', {}), 'proceed');
  t.equal(ev('GET', { ifMatch: undefined, ifNoneMatch: undefined }), 'proceed', 'explicit undefined');
  t.end();
});

t.test('step 1: If-Match uses strong comparison (§13.1.1)', (t) => {
  t.equal(ev('GET', { ifMatch: '"v1"' }), 'proceed', 'match');
  t.equal(ev('GET', { ifMatch: '"x", "v1"' }), 'proceed', 'match later in the list');
  t.equal(ev('GET', { ifMatch: ' ,"x" , "v1" ,' }), 'proceed', 'OWS and empty elements');
  t.equal(ev('GET', { ifMatch: '"v2"' }), 412, 'no match');
  t.equal(ev('PUT', { ifMatch: '"v2"' }), 412, 'no match, PUT');
  t.equal(ev('HEAD', { ifMatch: '"v2", "v3"' }), 412, 'no match in a list');
  t.equal(ev('GET', { ifMatch: 'W/"v1"' }), 412, 'a weak tag never matches strongly');
  t.equal(ev('GET', { ifMatch: '"v1"' }, WEAK_V), 412, 'a weak current ETag never matches strongly');
  t.equal(ev('GET', { ifMatch: 'W/"v1"' }, WEAK_V), 412, 'weak vs weak is not a strong match');
  t.equal(ev('GET', { ifMatch: '"V1"' }), 412, 'opaque-tags are case-sensitive');
  t.equal(ev('GET', { ifMatch: '"v1,x"' }), 412, 'a tag containing a comma is not split');
  t.equal(ev('GET', { ifMatch: '*' }), 'proceed', '* matches an existing representation');
  t.equal(ev('DELETE', { ifMatch: '*' }), 'proceed', '* with DELETE');
  t.equal(ev('GET', { ifMatch: 'v1' }), 'proceed', 'invalid syntax: field ignored');
  t.equal(ev('GET', { ifMatch: '*, "v2"' }), 'proceed', 'invalid: * mixed with tags, ignored');
  t.equal(ev('GET', { ifMatch: '' }), 'proceed', 'empty value: ignored like absent');
  t.equal(ev('GET', { ifMatch: ', ,' }), 'proceed', 'only empty elements: ignored');
  t.end();
});

t.test('step 2: If-Unmodified-Since (§13.1.4), only when If-Match is absent', (t) => {
  t.equal(ev('GET', { ifUnmodifiedSince: BEFORE }), 412, 'modified after the date');
  t.equal(ev('PUT', { ifUnmodifiedSince: BEFORE }), 412, 'modified after the date, PUT');
  t.equal(ev('GET', { ifUnmodifiedSince: LM_DATE }), 'proceed', 'same second (sub-second part ignored)');
  t.equal(ev('GET', { ifUnmodifiedSince: AFTER }), 'proceed', 'not modified since');
  t.equal(ev('GET', { ifUnmodifiedSince: 'yesterday' }), 'proceed', 'invalid date ignored');
  t.equal(ev('GET', { ifUnmodifiedSince: '2024-03-10' }), 'proceed', 'ISO date is not an HTTP-date: ignored');
  t.equal(ev('GET', { ifUnmodifiedSince: `${BEFORE}, ${BEFORE}` }), 'proceed', 'a list of dates is ignored');
  t.equal(ev('GET', { ifUnmodifiedSince: BEFORE }, NO_DATE), 'proceed', 'no modification date: ignored');
  t.equal(ev('GET', { ifMatch: '"v1"', ifUnmodifiedSince: BEFORE }), 'proceed', 'If-Match present: IUS not evaluated');
  t.equal(ev('GET', { ifMatch: '*', ifUnmodifiedSince: BEFORE }), 'proceed', 'If-Match * present: IUS not evaluated');
  t.equal(ev('GET', { ifMatch: 'garbage', ifUnmodifiedSince: BEFORE }), 412, 'invalid If-Match is absent: IUS evaluated');
  t.equal(ev('GET', { ifMatch: '', ifUnmodifiedSince: BEFORE }), 412, 'empty If-Match is absent: IUS evaluated');
  t.equal(
    ev('GET', { ifUnmodifiedSince: 'Sunday, 10-Mar-24 12:30:44 GMT' }),
    412,
    'RFC 850 form is understood',
  );
  t.equal(ev('GET', { ifUnmodifiedSince: 'Sun Mar 10 12:30:45 2024' }), 'proceed', 'asctime form is understood');
  t.end();
});

t.test('step 3: If-None-Match uses weak comparison (§13.1.2)', (t) => {
  t.equal(ev('GET', { ifNoneMatch: '"v1"' }), 304, 'match → 304 for GET');
  t.equal(ev('HEAD', { ifNoneMatch: '"v1"' }), 304, 'match → 304 for HEAD');
  t.equal(ev('POST', { ifNoneMatch: '"v1"' }), 412, 'match → 412 for POST');
  t.equal(ev('PUT', { ifNoneMatch: '"v1"' }), 412, 'match → 412 for PUT');
  t.equal(ev('DELETE', { ifNoneMatch: '"v1"' }), 412, 'match → 412 for DELETE');
  t.equal(ev('get', { ifNoneMatch: '"v1"' }), 412, 'methods are case-sensitive: "get" is not GET');
  t.equal(ev('GET', { ifNoneMatch: 'W/"v1"' }), 304, 'weak tag matches a strong ETag weakly');
  t.equal(ev('GET', { ifNoneMatch: '"v1"' }, WEAK_V), 304, 'strong tag matches a weak ETag weakly');
  t.equal(ev('GET', { ifNoneMatch: 'W/"v1"' }, WEAK_V), 304, 'weak vs weak');
  t.equal(ev('GET', { ifNoneMatch: '"a", "b", W/"v1", "c"' }), 304, 'match inside a list');
  t.equal(ev('GET', { ifNoneMatch: '"v2"' }), 'proceed', 'no match');
  t.equal(ev('GET', { ifNoneMatch: '"v1,x", "x,v1"' }), 'proceed', 'tags with commas are not split');
  t.equal(ev('GET', { ifNoneMatch: '"v"' }), 'proceed', 'prefix is not a match');
  t.equal(ev('GET', { ifNoneMatch: '"v1x"' }), 'proceed', 'extension is not a match');
  t.equal(ev('GET', { ifNoneMatch: '*' }), 304, '* → 304 for GET');
  t.equal(ev('PUT', { ifNoneMatch: '*' }), 412, '* → 412 for PUT');
  t.equal(ev('GET', { ifNoneMatch: '"v1"', ifModifiedSince: BEFORE }), 304, 'INM decides; IMS not evaluated');
  t.equal(ev('GET', { ifNoneMatch: '"v2"', ifModifiedSince: AFTER }), 'proceed', 'INM present and true: IMS ignored');
  t.equal(ev('GET', { ifNoneMatch: 'v1', ifModifiedSince: AFTER }), 304, 'invalid INM treated as absent: IMS evaluated');
  t.equal(ev('GET', { ifNoneMatch: '', ifModifiedSince: AFTER }), 304, 'empty INM treated as absent: IMS evaluated');
  t.equal(ev('GET', { ifNoneMatch: 'v1' }), 'proceed', 'invalid INM alone is ignored');
  t.end();
});

t.test('step 4: If-Modified-Since (§13.1.3), GET/HEAD only, INM absent', (t) => {
  t.equal(ev('GET', { ifModifiedSince: LM_DATE }), 304, 'same second → not modified (sub-second part ignored)');
  t.equal(ev('HEAD', { ifModifiedSince: LM_DATE }), 304, 'HEAD');
  t.equal(ev('GET', { ifModifiedSince: AFTER }), 304, 'date after Last-Modified');
  t.equal(ev('GET', { ifModifiedSince: BEFORE }), 'proceed', 'modified since');
  t.equal(ev('POST', { ifModifiedSince: AFTER }), 'proceed', 'ignored for POST');
  t.equal(ev('PUT', { ifModifiedSince: AFTER }), 'proceed', 'ignored for PUT');
  t.equal(ev('GET', { ifModifiedSince: 'not a date' }), 'proceed', 'invalid date ignored');
  t.equal(ev('GET', { ifModifiedSince: 'Sun, 10 Mar 2024 12:30:45 GMT; length=10' }), 'proceed', 'extension ignored whole');
  t.equal(ev('GET', { ifModifiedSince: `${AFTER}, ${AFTER}` }), 'proceed', 'more than one member: ignored');
  t.equal(ev('GET', { ifModifiedSince: AFTER }, NO_DATE), 'proceed', 'no modification date: ignored');
  t.equal(ev('GET', { ifModifiedSince: ' ' + LM_DATE + ' ' }), 304, 'surrounding OWS');
  // RFC 850 dates need `now` for their century.
  t.equal(
    evaluatePreconditions('GET', { ifModifiedSince: 'Sunday, 10-Mar-24 12:30:45 GMT' }, V, Date.UTC(2025, 0, 1)),
    304,
    'RFC 850 date with an explicit now',
  );
  t.equal(
    evaluatePreconditions('GET', { ifModifiedSince: 'Sunday, 10-Mar-24 12:30:45 GMT' }, V),
    304,
    'RFC 850 date with the real clock',
  );
  const exactSecond: Validators = { etag: '"e"', lastModifiedMs: Date.UTC(2024, 2, 10, 12, 30, 45) };
  t.equal(ev('GET', { ifModifiedSince: LM_DATE }, exactSecond), 304, 'whole-second Last-Modified, equal date');
  t.equal(ev('GET', { ifModifiedSince: BEFORE }, exactSecond), 'proceed', 'whole-second Last-Modified, earlier date');
  t.end();
});

t.test('evaluation order of §13.2.2', (t) => {
  t.equal(ev('GET', { ifMatch: '"v2"', ifNoneMatch: '"v1"' }), 412, 'If-Match fails before INM is looked at');
  t.equal(ev('GET', { ifMatch: '"v1"', ifNoneMatch: '"v1"' }), 304, 'If-Match passes, INM matches → 304');
  t.equal(ev('PUT', { ifMatch: '"v1"', ifNoneMatch: '"v1"' }), 412, 'If-Match passes, INM matches on PUT → 412');
  t.equal(ev('GET', { ifUnmodifiedSince: BEFORE, ifNoneMatch: '"v1"' }), 412, 'IUS fails before INM');
  t.equal(ev('GET', { ifUnmodifiedSince: AFTER, ifNoneMatch: '"v1"' }), 304, 'IUS passes, INM matches');
  t.equal(ev('GET', { ifUnmodifiedSince: AFTER, ifModifiedSince: AFTER }), 304, 'IUS passes, IMS not modified');
  t.equal(ev('GET', { ifUnmodifiedSince: BEFORE, ifModifiedSince: AFTER }), 412, 'IUS fails before IMS');
  t.equal(
    ev('GET', { ifMatch: '"v1"', ifUnmodifiedSince: BEFORE, ifNoneMatch: '"v2"', ifModifiedSince: AFTER }),
    'proceed',
    'all four: IM passes (IUS skipped), INM true (IMS skipped)',
  );
  t.equal(
    ev('GET', { ifMatch: '*', ifNoneMatch: '*' }),
    304,
    'If-Match * and If-None-Match * on an existing resource',
  );
  t.end();
});

t.test('missing resource (v = null): always proceed, the caller answers 404', (t) => {
  const all: ConditionalHeaders = { ifMatch: '"v1"', ifNoneMatch: '*', ifModifiedSince: AFTER, ifUnmodifiedSince: BEFORE };
  t.equal(ev('GET', { ifMatch: '"v1"' }, null), 'proceed', 'If-Match');
  t.equal(ev('GET', { ifMatch: '*' }, null), 'proceed', 'If-Match *');
  t.equal(ev('PUT', { ifMatch: '*' }, null), 'proceed', 'If-Match * with PUT');
  t.equal(ev('GET', { ifNoneMatch: '*' }, null), 'proceed', 'If-None-Match *');
  t.equal(ev('GET', { ifModifiedSince: AFTER }, null), 'proceed', 'If-Modified-Since');
  t.equal(ev('GET', { ifUnmodifiedSince: BEFORE }, null), 'proceed', 'If-Unmodified-Since');
  t.equal(ev('GET', all, null), 'proceed', 'all four');
  t.end();
});

t.test('methods that select no representation ignore preconditions (§13.2.1)', (t) => {
  for (const m of ['OPTIONS', 'CONNECT', 'TRACE']) {
    t.equal(ev(m, { ifMatch: '"nope"' }), 'proceed', `${m} with a failing If-Match`);
    t.equal(ev(m, { ifNoneMatch: '*' }), 'proceed', `${m} with If-None-Match *`);
    t.equal(ev(m, { ifUnmodifiedSince: BEFORE }), 'proceed', `${m} with a failing IUS`);
  }
  t.end();
});

t.test('isRangeFresh (§13.1.5)', (t) => {
  t.equal(isRangeFresh(undefined, V), true, 'absent');
  t.equal(isRangeFresh('"v1"', V), true, 'strong match');
  t.equal(isRangeFresh('  "v1"\t', V), true, 'strong match with OWS');
  t.equal(isRangeFresh('"v2"', V), false, 'different tag');
  t.equal(isRangeFresh('"v1x"', V), false, 'longer tag');
  t.equal(isRangeFresh('"v"', V), false, 'shorter tag');
  t.equal(isRangeFresh('W/"v1"', V), false, 'weak tag never matches');
  t.equal(isRangeFresh('"v1"', WEAK_V), false, 'weak current ETag never matches');
  t.equal(isRangeFresh('W/"v1"', WEAK_V), false, 'weak vs weak');
  t.equal(isRangeFresh('"v1", "v1"', V), false, 'a list is not an entity-tag');
  t.equal(isRangeFresh('"v1', V), false, 'unterminated tag');
  t.equal(isRangeFresh('"v1"x', V), false, 'trailing junk after tag');
  t.equal(isRangeFresh('W/v1', V), false, 'malformed weak tag');
  t.equal(isRangeFresh('*', V), false, '* is not valid in If-Range');
  t.equal(isRangeFresh(LM_DATE, V), true, 'date equal to Last-Modified (sub-second part ignored)');
  t.equal(isRangeFresh(` ${LM_DATE} `, V), true, 'date with OWS');
  t.equal(isRangeFresh(BEFORE, V), false, 'earlier date');
  t.equal(isRangeFresh(AFTER, V), false, 'later date: not an exact match');
  t.equal(isRangeFresh('Sun Mar 10 12:30:45 2024', V), true, 'asctime date equal');
  t.equal(
    isRangeFresh('Sunday, 10-Mar-24 12:30:45 GMT', V, Date.UTC(2025, 0, 1)),
    true,
    'RFC 850 date equal (explicit now)',
  );
  t.equal(isRangeFresh(LM_DATE, NO_DATE), false, 'date but no modification date');
  t.equal(isRangeFresh('2024-03-10T12:30:45Z', V), false, 'not an HTTP-date');
  t.equal(isRangeFresh('', V), false, 'empty value');
  t.equal(isRangeFresh('   ', V), false, 'only OWS');
  t.equal(isRangeFresh('v1', V), false, 'bare token');
  t.end();
});
