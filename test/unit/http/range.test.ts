// Unit tests for src/http/range.ts (RFC 9110 §14).
import t from 'tap';
import {
  contentRange,
  makeBoundary,
  multipartByteranges,
  parseRange,
  unsatisfiedRange,
  type ByteRange,
  type RangeResult,
} from '../../../src/http/range';

const OPTS = { maxRanges: 10 };
const pr = (h: string | undefined, size = 100, maxRanges = 10): RangeResult => parseRange(h, size, { maxRanges });
const ranges = (...pairs: [number, number][]): RangeResult => ({
  kind: 'ranges',
  ranges: pairs.map(([start, end]) => ({ start, end })),
});
const NONE: RangeResult = { kind: 'none' };
const UNSAT: RangeResult = { kind: 'unsatisfiable' };

t.test('absent or unusable Range → none (serve 200)', (t) => {
  const cases: (string | undefined)[] = [
    undefined,
    '',
    '   ',
    'bytes',
    'bytes=',
    'bytes= ',
    'bytes=,',
    'bytes= , ,',
    'items=0-5', // unknown unit
    'byte=0-5',
    'bytesx=0-5',
    'bytes 0-5',
    'bytes =0-5',
    'bytes:0-5',
    '=0-5',
    '0-5',
    'bytes=abc',
    'bytes=-',
    'bytes=--5',
    'bytes=0--5',
    'bytes=0-1-2',
    'bytes=0 -1',
    'bytes=0- 1',
    'bytes=- 5',
    'bytes=1.5-2',
    'bytes=+1-2',
    'bytes=0x10-20',
    'bytes=1e2-200',
    'bytes=0-1;x',
    'bytes=0-1 2-3',
    'bytes=0-1,a',
    'bytes=\u0663-5', // ARABIC-INDIC DIGIT THREE
    'bytes=0-1\u00a0', // NBSP is not OWS
  ];
  for (const h of cases) {
    t.strictSame(pr(h), NONE, JSON.stringify(h));
  }
  t.end();
});

t.test('first-pos > last-pos is invalid: the whole field is ignored', (t) => {
  t.strictSame(pr('bytes=1-0'), NONE, '1-0');
  t.strictSame(pr('bytes=50-49'), NONE, '50-49');
  t.strictSame(pr('bytes=0-1,5-4'), NONE, 'one bad spec poisons the list');
  t.strictSame(pr('bytes=500-400'), NONE, 'invalid even when both are past the end');
  t.end();
});

t.test('single ranges', (t) => {
  t.strictSame(pr('bytes=0-8'), ranges([0, 8]), '0-8');
  t.strictSame(pr('bytes=0-0'), ranges([0, 0]), '0-0');
  t.strictSame(pr('bytes=99-99'), ranges([99, 99]), 'last byte');
  t.strictSame(pr('bytes=0-99'), ranges([0, 99]), 'exactly the whole file');
  t.strictSame(pr('bytes=50-'), ranges([50, 99]), 'open-ended');
  t.strictSame(pr('bytes=0-'), ranges([0, 99]), '0- is the whole file');
  t.strictSame(pr('bytes=990-', 1000), ranges([990, 999]), '990- of 1000');
  t.strictSame(pr('bytes=50-500'), ranges([50, 99]), 'last-pos clamped to size - 1');
  t.strictSame(pr('bytes=50-100'), ranges([50, 99]), 'last-pos = size clamped');
  t.strictSame(pr('bytes=-10'), ranges([90, 99]), 'suffix');
  t.strictSame(pr('bytes=-1'), ranges([99, 99]), 'suffix of 1');
  t.strictSame(pr('bytes=-100'), ranges([0, 99]), 'suffix = size');
  t.strictSame(pr('bytes=-500'), ranges([0, 99]), 'suffix larger than the file: whole file');
  t.strictSame(pr('bytes=0-0', 1), ranges([0, 0]), 'one-byte file');
  t.strictSame(pr('bytes=-5', 1), ranges([0, 0]), 'suffix of a one-byte file');
  t.strictSame(pr('bytes=007-010'), ranges([7, 10]), 'leading zeros');
  t.end();
});

t.test('the unit is case-insensitive; OWS around the field is tolerated', (t) => {
  for (const unit of ['bytes', 'BYTES', 'Bytes', 'bYtEs']) {
    t.strictSame(pr(`${unit}=0-8`), ranges([0, 8]), unit);
  }
  t.strictSame(pr('  bytes=0-8 \t'), ranges([0, 8]), 'surrounding OWS');
  t.end();
});

t.test('unsatisfiable → 416', (t) => {
  t.strictSame(pr('bytes=100-'), UNSAT, 'first-pos = size');
  t.strictSame(pr('bytes=100-200'), UNSAT, 'first-pos = size, closed');
  t.strictSame(pr('bytes=1000-2000'), UNSAT, 'far past the end');
  t.strictSame(pr('bytes=-0'), UNSAT, 'suffix -0');
  t.strictSame(pr('bytes=-000'), UNSAT, 'suffix -000');
  t.strictSame(pr('bytes=200-300, -0'), UNSAT, 'several, none satisfiable');
  t.strictSame(pr('bytes=0-', 0), UNSAT, 'empty file, 0-');
  t.strictSame(pr('bytes=0-0', 0), UNSAT, 'empty file, 0-0');
  t.strictSame(pr('bytes=-5', 0), UNSAT, 'empty file, suffix');
  t.strictSame(pr('bytes=-0', 0), UNSAT, 'empty file, -0');
  t.strictSame(pr('bytes=9007199254740991-', 100), UNSAT, 'MAX_SAFE_INTEGER first-pos is still a number');
  t.end();
});

t.test('unsatisfiable specs are dropped when another is satisfiable', (t) => {
  t.strictSame(pr('bytes=200-300,0-1'), ranges([0, 1]), 'one kept');
  t.strictSame(pr('bytes=-0,5-6'), ranges([5, 6]), '-0 dropped');
  t.strictSame(pr('bytes=0-1,100-,5-6'), ranges([0, 1], [5, 6]), 'middle dropped');
  t.end();
});

t.test('numbers beyond Number.MAX_SAFE_INTEGER', (t) => {
  t.strictSame(pr('bytes=0-99999999999999999999'), ranges([0, 99]), 'huge last-pos is clamped');
  t.strictSame(pr('bytes=5-9007199254740992'), ranges([5, 99]), 'MAX_SAFE + 1 last-pos is clamped');
  t.strictSame(pr('bytes=-99999999999999999999'), ranges([0, 99]), 'huge suffix is the whole file');
  t.strictSame(pr('bytes=99999999999999999999-'), NONE, 'huge first-pos: invalid');
  t.strictSame(pr('bytes=9007199254740992-'), NONE, 'MAX_SAFE + 1 first-pos: invalid');
  t.strictSame(
    pr('bytes=99999999999999999999-99999999999999999999'),
    NONE,
    'huge first-pos and last-pos: invalid',
  );
  t.strictSame(pr('bytes=0-1,99999999999999999999-'), NONE, 'one huge first-pos poisons the list');
  t.end();
});

t.test('several ranges: sorted and coalesced', (t) => {
  t.strictSame(pr('bytes=0-1,3-4'), ranges([0, 1], [3, 4]), 'two disjoint');
  t.strictSame(pr('bytes=5-6,0-1'), ranges([0, 1], [5, 6]), 'sorted by start');
  t.strictSame(pr('bytes=0-5,3-8'), ranges([0, 8]), 'overlapping → one');
  t.strictSame(pr('bytes=0-4,5-9'), ranges([0, 9]), 'adjacent → one');
  t.strictSame(pr('bytes=5-9,0-4'), ranges([0, 9]), 'adjacent, reversed → one');
  t.strictSame(pr('bytes=0-4,6-9'), ranges([0, 4], [6, 9]), 'gap of one byte: two');
  t.strictSame(pr('bytes=0-9,2-3'), ranges([0, 9]), 'contained');
  t.strictSame(pr('bytes=2-3,0-9'), ranges([0, 9]), 'containing, later');
  t.strictSame(pr('bytes=0-1,2-3,4-5,10-11'), ranges([0, 5], [10, 11]), 'chain of adjacent');
  t.strictSame(pr('bytes=-10,0-9'), ranges([0, 9], [90, 99]), 'suffix sorted after');
  t.strictSame(pr('bytes=90-,-5'), ranges([90, 99]), 'suffix inside an open range');
  t.strictSame(pr('bytes=80-89,-15'), ranges([80, 99]), 'suffix overlapping an earlier range');
  t.strictSame(pr('bytes=0-1 , 3-4'), ranges([0, 1], [3, 4]), 'OWS around the comma');
  t.strictSame(pr('bytes=0-1\t,\t3-4'), ranges([0, 1], [3, 4]), 'HTAB around the comma');
  t.strictSame(pr('bytes=0-1,,5-6'), ranges([0, 1], [5, 6]), 'empty element (§5.6.1)');
  t.strictSame(pr('bytes=,0-1'), ranges([0, 1]), 'leading empty element');
  t.strictSame(pr('bytes=0-1,'), ranges([0, 1]), 'trailing empty element');
  t.strictSame(pr('bytes=0-1,2-3,'), ranges([0, 3]), 'trailing empty element after two');
  t.strictSame(pr('bytes= 0-1'), ranges([0, 1]), 'OWS before the first element');
  t.end();
});

t.test('maxRanges counts range-specs before coalescing', (t) => {
  t.strictSame(pr('bytes=0-1,3-4', 100, 2), ranges([0, 1], [3, 4]), 'exactly maxRanges');
  t.strictSame(pr('bytes=0-1,3-4,6-7', 100, 2), NONE, 'one more than maxRanges');
  t.strictSame(pr('bytes=0-1,1-2,2-3', 100, 2), NONE, 'too many even though they coalesce to one');
  t.strictSame(pr('bytes=0-1,500-600,700-800', 100, 2), NONE, 'unsatisfiable specs count too');
  t.strictSame(pr('bytes=0-1,,,,3-4', 100, 2), ranges([0, 1], [3, 4]), 'empty elements do not count');
  t.strictSame(pr('bytes=0-1', 100, 1), ranges([0, 1]), 'maxRanges 1 allows one');
  t.strictSame(pr('bytes=0-1', 100, 0), NONE, 'maxRanges 0 allows none');
  const many = 'bytes=' + Array.from({ length: 1000 }, (_, k) => `${k * 3}-${k * 3}`).join(',');
  t.strictSame(parseRange(many, 10_000, OPTS), NONE, '1000 ranges with maxRanges 10');
  t.end();
});

t.test('a total requested length above the size → none', (t) => {
  t.strictSame(pr('bytes=0-,0-'), NONE, 'the whole file twice');
  t.strictSame(pr('bytes=0-49,50-99'), ranges([0, 99]), 'total = size is fine');
  t.strictSame(pr('bytes=0-50,50-99'), NONE, 'total = size + 1');
  t.strictSame(pr('bytes=-60,0-50'), NONE, 'suffix + range > size');
  t.strictSame(pr('bytes=0-99,1000-2000'), ranges([0, 99]), 'unsatisfiable specs add nothing');
  t.strictSame(pr('bytes=0-9999,0-0'), NONE, 'clamped lengths count (100 + 1)');
  t.end();
});

/**
 * Reference implementation written independently from the rules (regex-based, slow), used to
 * cross-check parseRange on generated inputs.
 */
function reference(h: string, size: number, maxRanges: number): RangeResult {
  const m = /^[ \t]*bytes=(.*?)[ \t]*$/i.exec(h);
  if (!m) return NONE;
  const specs = m[1]!.split(',').map((s) => s.replace(/^[ \t]+|[ \t]+$/g, '')).filter((s) => s !== '');
  if (specs.length === 0) return NONE;
  const out: ByteRange[] = [];
  let total = 0;
  for (const spec of specs) {
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return NONE;
    if (r[1] === '') {
      const n = Number(r[2]);
      if (n === 0 || size === 0) continue;
      out.push({ start: Math.max(0, size - n), end: size - 1 });
    } else {
      const a = Number(r[1]);
      if (a > Number.MAX_SAFE_INTEGER) return NONE;
      const b = r[2] === '' ? Infinity : Number(r[2]);
      if (a > b) return NONE;
      if (a >= size) continue;
      out.push({ start: a, end: Math.min(b, size - 1) });
    }
  }
  if (specs.length > maxRanges) return NONE;
  if (out.length === 0) return UNSAT;
  for (const r of out) total += r.end - r.start + 1;
  if (total > size) return NONE;
  out.sort((x, y) => x.start - y.start);
  const merged: ByteRange[] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return { kind: 'ranges', ranges: merged };
}

t.test('agrees with a reference implementation on generated inputs', (t) => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n);
  };
  const num = (size: number): string => String(rand(3) === 0 ? rand(size * 2 + 2) : rand(size + 1));
  const spec = (size: number): string => {
    switch (rand(8)) {
      case 0:
        return `-${num(size)}`;
      case 1:
        return `${num(size)}-`;
      case 2:
        return '';
      case 3:
        return rand(10) === 0 ? 'x' : `${num(size)}-${num(size)}`;
      default: {
        const a = rand(size + 2);
        return `${a}-${a + rand(size / 4 + 2)}`;
      }
    }
  };
  let disagreements = 0;
  const examples: string[] = [];
  for (let k = 0; k < 20000; k++) {
    const size = rand(4) === 0 ? rand(3) : rand(200);
    const n = 1 + rand(5);
    const sep = [',', ', ', ' ,', '\t,\t'][rand(4)]!;
    const h = (rand(5) === 0 ? 'Bytes=' : 'bytes=') + Array.from({ length: n }, () => spec(size)).join(sep);
    const maxRanges = 1 + rand(5);
    const got = parseRange(h, size, { maxRanges });
    const want = reference(h, size, maxRanges);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      disagreements++;
      if (examples.length < 5) examples.push(`${h} size=${size} max=${maxRanges} got=${JSON.stringify(got)} want=${JSON.stringify(want)}`);
    }
  }
  t.equal(disagreements, 0, 'no disagreements', { examples });
  t.end();
});

t.test('results are well-formed', (t) => {
  let bad = 0;
  for (const h of ['bytes=0-1,5-9,3-4', 'bytes=-3,0-2,50-60', 'bytes=10-20,15-25,30-', 'bytes=0-0,2-2,4-4']) {
    const r = pr(h);
    if (r.kind !== 'ranges') {
      bad++;
      continue;
    }
    for (let k = 0; k < r.ranges.length; k++) {
      const { start, end } = r.ranges[k]!;
      if (!(start >= 0 && start <= end && end <= 99)) bad++;
      if (k > 0 && start <= r.ranges[k - 1]!.end + 1) bad++;
    }
  }
  t.equal(bad, 0, 'sorted, disjoint, non-adjacent, within bounds');
  t.end();
});

t.test('contentRange / unsatisfiedRange (§14.4)', (t) => {
  t.equal(contentRange(0, 8, 100), 'bytes 0-8/100');
  t.equal(contentRange(99, 99, 100), 'bytes 99-99/100');
  t.equal(contentRange(0, 9007199254740990, 9007199254740991), 'bytes 0-9007199254740990/9007199254740991');
  t.equal(unsatisfiedRange(100), 'bytes */100');
  t.equal(unsatisfiedRange(0), 'bytes */0');
  t.end();
});

/** The body the framing describes, for a file whose bytes are `file`. */
function assemble(file: Buffer, mp: ReturnType<typeof multipartByteranges>): Buffer {
  const chunks: Buffer[] = [];
  for (const p of mp.parts) chunks.push(p.head, file.subarray(p.start, p.end + 1));
  chunks.push(mp.tail);
  return Buffer.concat(chunks);
}

t.test('multipartByteranges frames the body exactly (§14.6)', (t) => {
  const file = Buffer.from('abcdefghij'.repeat(9) + 'ABCDEFGHIJ'); // 100 bytes
  t.equal(file.length, 100, 'fixture size');
  const mp = multipartByteranges(
    [
      { start: 0, end: 4 },
      { start: 10, end: 12 },
      { start: 99, end: 99 },
    ],
    100,
    'text/plain; charset=utf-8',
    'BOUNDARY',
  );
  t.equal(mp.contentType, 'multipart/byteranges; boundary=BOUNDARY');
  const body = assemble(file, mp);
  const expected =
    '--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-4/100\r\n\r\nabcde' +
    '\r\n--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 10-12/100\r\n\r\nabc' +
    '\r\n--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 99-99/100\r\n\r\nJ' +
    '\r\n--BOUNDARY--\r\n';
  t.equal(body.toString('latin1'), expected, 'exact bytes');
  t.equal(mp.length, body.length, 'length is exact');
  t.equal(mp.length, Buffer.byteLength(expected), 'length matches the expected body');
  t.strictSame(
    mp.parts.map((p) => [p.start, p.end]),
    [
      [0, 4],
      [10, 12],
      [99, 99],
    ],
    'part ranges are inclusive, as given',
  );
  t.equal(mp.tail.toString('latin1'), '\r\n--BOUNDARY--\r\n', 'tail');
  t.end();
});

t.test('multipartByteranges: single part, empty type, parse-back', (t) => {
  const file = Buffer.alloc(5000, 0x61);
  const mp = multipartByteranges([{ start: 100, end: 4999 }], 5000, '', 'b');
  const body = assemble(file, mp).toString('latin1');
  t.equal(body, '--b\r\nContent-Range: bytes 100-4999/5000\r\n\r\n' + 'a'.repeat(4900) + '\r\n--b--\r\n', 'no Content-Type line');
  t.equal(mp.length, Buffer.byteLength(body, 'latin1'), 'length');

  // Parse a generated body back and check each part against the file.
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, k) => k));
  const rs: ByteRange[] = [
    { start: 0, end: 0 },
    { start: 5, end: 40 }, // content includes the bytes CR (13) and LF (10)
    { start: 200, end: 255 },
  ];
  const boundary = makeBoundary();
  const mp2 = multipartByteranges(rs, 256, 'application/octet-stream', boundary);
  const whole = assemble(bytes, mp2);
  t.equal(mp2.length, whole.length, 'length with binary content');
  const text = whole.toString('latin1');
  const pieces = text.split('\r\n--' + boundary);
  t.ok(pieces[0]!.startsWith('--' + boundary + '\r\n'), 'body starts with the first delimiter');
  t.equal(pieces[pieces.length - 1], '--\r\n', 'ends with the close delimiter');
  const parts = [pieces[0]!.slice(('--' + boundary).length), ...pieces.slice(1, -1)];
  t.equal(parts.length, 3, 'three parts');
  parts.forEach((p, k) => {
    const [headerBlock, ...rest] = p.slice(2).split('\r\n\r\n');
    const content = rest.join('\r\n\r\n');
    t.equal(
      headerBlock,
      `Content-Type: application/octet-stream\r\nContent-Range: bytes ${rs[k]!.start}-${rs[k]!.end}/256`,
      `part ${k} headers`,
    );
    t.equal(content, bytes.subarray(rs[k]!.start, rs[k]!.end + 1).toString('latin1'), `part ${k} content`);
  });
  t.end();
});

t.test('multipartByteranges validates boundary and type', (t) => {
  const r = [{ start: 0, end: 1 }];
  t.throws(() => multipartByteranges(r, 10, 'text/plain', ''), TypeError, 'empty boundary');
  t.throws(() => multipartByteranges(r, 10, 'text/plain', 'x'.repeat(71)), TypeError, '71 characters');
  t.doesNotThrow(() => multipartByteranges(r, 10, 'text/plain', 'x'.repeat(70)), '70 characters');
  for (const b of ['a b', 'a"b', 'a\r\nb', 'a;b', 'a=b', 'a/b', 'a:b', 'a,b', 'é']) {
    t.throws(() => multipartByteranges(r, 10, 'text/plain', b), TypeError, `boundary ${JSON.stringify(b)}`);
  }
  t.doesNotThrow(() => multipartByteranges(r, 10, 'text/plain', "aZ09'+-._"), 'all allowed characters');
  for (const ct of ['text/plain\r\nX-Evil: 1', 'text/plain\n', 'a\u0000b', 'a\u007fb', 'a\u20acb']) {
    t.throws(() => multipartByteranges(r, 10, ct, 'b'), TypeError, `content type ${JSON.stringify(ct)}`);
  }
  t.doesNotThrow(() => multipartByteranges(r, 10, 'text/plain;\tcharset=x', 'b'), 'HTAB is allowed');
  t.end();
});

t.test('makeBoundary', (t) => {
  const a = makeBoundary();
  const b = makeBoundary();
  t.match(a, /^[0-9a-f]{32}$/, '32 hex characters');
  t.not(a, b, 'random');
  t.doesNotThrow(() => multipartByteranges([{ start: 0, end: 0 }], 1, 'x/y', a), 'usable as a boundary');
  t.end();
});
