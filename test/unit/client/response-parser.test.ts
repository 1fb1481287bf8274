import t from 'tap';
import { ResponseParser, type ParserEvent } from '../../../src/client/response-parser';

interface Parsed {
  events: ParserEvent[];
  body: string;
  types: string[];
  error?: { kind: string; message: string; empty: boolean };
  complete?: Extract<ParserEvent, { type: 'complete' }>;
  head?: Extract<ParserEvent, { type: 'head' }>;
}

/** Feeds `input` in pieces of `step` bytes (Infinity: all at once), then ends the input if asked. */
function parse(input: string | Buffer, opts: { method?: string; step?: number; end?: boolean } = {}): Parsed {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const p = new ResponseParser({ method: opts.method ?? 'GET' });
  const events: ParserEvent[] = [];
  const step = opts.step ?? Infinity;
  for (let i = 0; i < bytes.length; i += step) {
    events.push(...p.feed(bytes.subarray(i, Math.min(bytes.length, i + step))));
  }
  if (opts.end) events.push(...p.end());
  const err = events.find((e) => e.type === 'error') as Extract<ParserEvent, { type: 'error' }> | undefined;
  return {
    events,
    types: events.filter((e) => e.type !== 'data').map((e) => e.type),
    body: Buffer.concat(events.flatMap((e) => (e.type === 'data' ? [e.data] : []))).toString('latin1'),
    ...(err ? { error: { kind: err.kind, message: err.message, empty: err.empty } } : {}),
    complete: events.find((e) => e.type === 'complete') as Parsed['complete'],
    head: events.find((e) => e.type === 'head') as Parsed['head'],
  };
}

/** Parses at once and byte by byte; both must agree, which checks that no state loses a split. */
function parseBoth(t: { same: (a: unknown, b: unknown, m: string) => void }, input: string, opts: { method?: string; end?: boolean } = {}): Parsed {
  const whole = parse(input, opts);
  const bytewise = parse(input, { ...opts, step: 1 });
  t.same(
    { types: bytewise.types.filter((x) => x !== 'data'), body: bytewise.body, error: bytewise.error },
    { types: whole.types.filter((x) => x !== 'data'), body: whole.body, error: whole.error },
    'byte-by-byte feeding gives the same result',
  );
  return whole;
}

t.test('Content-Length body', async (t) => {
  const r = parseBoth(t, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
  t.same(r.types, ['head', 'complete']);
  t.equal(r.body, 'hello');
  t.same(r.head?.framing, { kind: 'length', length: 5 });
  t.equal(r.head?.head.status, 200);
  t.equal(r.head?.head.reason, 'OK');
  t.same(r.head?.head.headers, [
    ['Content-Type', 'text/plain'],
    ['Content-Length', '5'],
  ]);
  t.equal(r.complete?.keepAlive, true);
  t.equal(r.complete?.bodyBytes, 5);
  t.equal(r.complete?.rest.length, 0);
});

t.test('bytes after the body are handed back for the next pipelined response', async (t) => {
  const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n');
  t.equal(r.body, 'ok');
  t.equal(r.complete?.rest.toString(), 'HTTP/1.1 204 No Content\r\n\r\n');
  const next = parse(r.complete!.rest);
  t.same(next.types, ['head', 'complete']);
  t.equal(next.head?.head.status, 204);
});

t.test('Content-Length: 0 completes at the end of the head', async (t) => {
  const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  t.same(r.types, ['head', 'complete']);
  t.equal(r.body, '');
});

t.test('chunked body with extensions and trailers', async (t) => {
  const input =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5;name=value\r\nhello\r\n' +
    '1 ; a ; b="quoted \\" ;x"\r\n \r\n' +
    '0005\r\nworld\r\n' +
    '0\r\nX-Checksum: abc\r\nX-Other:  two words \r\n\r\n';
  const r = parseBoth(t, input);
  t.equal(r.body, 'hello world');
  t.same(r.head?.framing, { kind: 'chunked' });
  const chunks = r.events.flatMap((e) => (e.type === 'chunk' ? [[e.size, e.extensions]] : []));
  t.same(chunks, [
    [5, ';name=value'],
    [1, '; a ; b="quoted \\" ;x"'],
    [5, ''],
    [0, ''],
  ]);
  t.same(r.complete?.trailers, [
    ['X-Checksum', 'abc'],
    ['X-Other', 'two words'],
  ]);
  t.equal(r.complete?.bodyBytes, 11);
  t.equal(r.complete?.keepAlive, true);
});

t.test('chunked with a coding before chunked, and bare-LF line ends', async (t) => {
  const r = parseBoth(t, 'HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n3\nabc\n0\n\n');
  t.equal(r.body, 'abc');
  t.same(r.types, ['head', 'chunk', 'chunk', 'complete']);
});

t.test('close-delimited body ends only with the connection', async (t) => {
  const input = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this until close';
  const open = parse(input);
  t.same(open.types, ['head'], 'no completion while the connection is open');
  t.same(open.head?.framing, { kind: 'close' });
  t.equal(open.head?.keepAlive, false);
  const r = parseBoth(t, input, { end: true });
  t.same(r.types, ['head', 'complete']);
  t.equal(r.body, 'all of this until close');
  t.equal(r.complete?.keepAlive, false);
});

t.test('a transfer coding without chunked last is close-delimited', async (t) => {
  const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz', { end: true });
  t.same(r.head?.framing, { kind: 'close' });
  t.equal(r.body, 'xyz');
});

t.test('1xx interim responses come before the final one', async (t) => {
  const r = parseBoth(
    t,
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  );
  t.same(r.types, ['interim', 'interim', 'head', 'complete']);
  const interim = r.events.filter((e) => e.type === 'interim').map((e) => (e.type === 'interim' ? e.head.status : 0));
  t.same(interim, [100, 103]);
  t.same(r.events[1]?.type === 'interim' && r.events[1].head.headers, [['Link', '</a.css>; rel=preload']]);
  t.equal(r.body, 'ok');
});

t.test('an endless stream of 1xx responses is cut off', async (t) => {
  const r = parse('HTTP/1.1 102 Processing\r\n\r\n'.repeat(101));
  t.equal(r.types.filter((x) => x === 'interim').length, 100);
  t.match(r.error?.message, /more than 100 interim \(1xx\) responses/);
});

t.test('101 without an upgrade request is refused', async (t) => {
  const r = parse('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
  t.equal(r.error?.kind, 'malformed');
  t.match(r.error?.message, /101/);
});

for (const status of [204, 304]) {
  t.test(`${status} has no body, whatever its headers say`, async (t) => {
    const r = parse(`HTTP/1.1 ${status} X\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\n`);
    t.same(r.types, ['head', 'complete']);
    t.same(r.head?.framing, { kind: 'none' });
    t.equal(r.body, '');
    t.equal(r.complete?.rest.toString(), 'HTTP/1.1 200 OK\r\n', 'the following bytes are the next response');
  });
}

t.test('a response to HEAD has no body', async (t) => {
  for (const framing of ['Content-Length: 1000', 'Transfer-Encoding: chunked']) {
    const r = parse(`HTTP/1.1 200 OK\r\n${framing}\r\n\r\n`, { method: 'HEAD' });
    t.same(r.types, ['head', 'complete'], framing);
    t.same(r.head?.framing, { kind: 'none' }, framing);
    t.equal(r.complete?.keepAlive, true, framing);
  }
  const get = parse('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', { method: 'GET' });
  t.same(get.types, ['head'], 'the same head for GET waits for the body');
});

t.test('keep-alive rules', async (t) => {
  const ka = (head: string): boolean | undefined => parse(head + 'Content-Length: 0\r\n\r\n').complete?.keepAlive;
  t.equal(ka('HTTP/1.1 200 OK\r\n'), true, 'HTTP/1.1 persists by default');
  t.equal(ka('HTTP/1.1 200 OK\r\nConnection: close\r\n'), false, 'Connection: close');
  t.equal(ka('HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\n'), false, 'close token in a list, any case');
  t.equal(ka('HTTP/1.0 200 OK\r\n'), false, 'HTTP/1.0 closes by default');
  t.equal(ka('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n'), true, 'HTTP/1.0 with keep-alive');
  t.equal(ka('HTTP/1.1 200 OK\r\nConnection: Upgrade\r\nConnection: close\r\n'), false, 'close in a second Connection field');
  t.equal(ka('HTTP/1.0 200 OK\r\nConnection: \tKeep-Alive \r\n'), true, 'OWS around a token is trimmed');
  // The server's rule (http/token.ts): only SP and HTAB are trimmed, so "close" followed by a
  // no-break space (0xA0) is another token, not close; String#trim would have eaten it.
  t.equal(ka('HTTP/1.1 200 OK\r\nConnection: close\xa0\r\n'), true, 'close + U+00A0 is not close');
  t.equal(ka('HTTP/1.0 200 OK\r\nConnection: keep-alive\xa0\r\n'), false, 'keep-alive + U+00A0 is not keep-alive');
  t.equal(ka('HTTP/1.2 200 OK\r\n'), true, 'a later 1.x persists like 1.1');
});

t.test('obs-fold, repeated identical Content-Length, a missing reason phrase', async (t) => {
  const r = parse('HTTP/1.1 200\r\nX-Long: one\r\n  two\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc');
  t.equal(r.head?.head.reason, '');
  t.same(r.head?.head.headers[0], ['X-Long', 'one two']);
  t.equal(r.body, 'abc');
});

t.test('malformed responses', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['garbage status line', 'SSH-2.0-OpenSSH_9.6\r\n\r\n', /bad status line "SSH-2\.0-OpenSSH_9\.6"/],
    ['HTTP/0.9 style body', '<html>hello</html>\n', /bad status line/],
    ['lower-case protocol', 'http/1.1 200 OK\r\n\r\n', /bad status line/],
    ['status of two digits', 'HTTP/1.1 20 OK\r\n\r\n', /bad status line/],
    ['status below 100', 'HTTP/1.1 099 Huh\r\n\r\n', /bad status code 099/],
    ['HTTP/2 version', 'HTTP/2.0 200 OK\r\n\r\n', /unsupported HTTP version HTTP\/2\.0/],
    ['header without colon', 'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n', /bad header line "Bad Header"/],
    ['space before colon', 'HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n', /bad header line/],
    ['NUL in a value', 'HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n', /bad header line "X: a\\x00b"/],
    ['bare CR in a value', 'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', /NUL or bare CR/],
    ['fold without a field', 'HTTP/1.1 200 OK\r\n folded\r\n\r\n', /continuation without a field/],
    ['both CL and TE', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', /both Content-Length and Transfer-Encoding/],
    ['conflicting CL', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', /conflicting Content-Length values \(5, 6\)/],
    ['negative CL', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /bad Content-Length "-1"/],
    ['CL with junk', 'HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n', /bad Content-Length "12abc"/],
    ['huge CL', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n', /too large/],
    ['chunked not last', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', /chunked before its last coding/],
    ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size "zz"/],
    ['empty chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n', /bad chunk size ""/],
    ['negative chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n', /bad chunk size/],
    ['huge chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n', /chunk size f+ is too large/],
    ['bad chunk extension', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 junk\r\n', /bad chunk extension " junk"/],
    ['chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', /longer than its chunk size/],
    ['chunk data then CR without LF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rX', /not followed by CRLF/],
    ['bad trailer', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon here\r\n\r\n', /bad trailer line/],
    ['control character in the reason', 'HTTP/1.1 200 O\x1bK\r\n\r\n', /control character/],
  ];
  for (const [name, input, message] of cases) {
    const r = parse(input);
    t.equal(r.error?.kind, 'malformed', name);
    t.match(r.error?.message ?? '', message, name);
    t.notOk(r.types.includes('complete'), `${name}: never complete`);
  }
});

t.test('the escape in error messages keeps terminal control bytes out', async (t) => {
  const r = parse('\x1b[31mred\r\n');
  t.match(r.error?.message, /bad status line "\\x1b\[31mred"/);
  t.notMatch(r.error?.message, /\x1b/);
});

t.test('a head larger than the limit is refused, also when it never ends', async (t) => {
  const p = new ResponseParser({ method: 'GET', maxHeadBytes: 100 });
  const events = p.feed(Buffer.from('HTTP/1.1 200 OK\r\nX: ' + 'a'.repeat(200)));
  t.same(
    events.map((e) => (e.type === 'error' ? e.message : e.type)),
    ['response head larger than 100 bytes'],
  );
  t.same(p.feed(Buffer.from('\r\n\r\n')), [], 'nothing more after an error');
  const q = new ResponseParser({ method: 'GET', maxLineBytes: 20 });
  q.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
  const e2 = q.feed(Buffer.from('1;' + 'x'.repeat(40)));
  t.match(e2[0]?.type === 'error' && e2[0].message, /chunk-size line longer than 20 bytes/);
});

t.test('the connection ending early is reported with what arrived', async (t) => {
  const cases: [string, string, RegExp, boolean][] = [
    ['nothing at all', '', /^connection closed before any response$/, true],
    ['half a status line', 'HTTP/1.1 2', /in the middle of the status line/, false],
    ['only an interim response', 'HTTP/1.1 100 Continue\r\n\r\n', /after a 1xx interim response/, false],
    ['half the headers', 'HTTP/1.1 200 OK\r\nContent-Le', /in the middle of the response headers/, false],
    [
      'part of a Content-Length body',
      'HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n' + 'x'.repeat(512),
      /^connection closed after 512 of 1048576 body bytes$/,
      false,
    ],
    [
      'chunked body without its last chunk',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
      /after 5 body bytes of a chunked body, before its last chunk/,
      false,
    ],
    [
      'one byte of a chunked body',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nh\r\n',
      /^connection closed after 1 body byte of a chunked body, before its last chunk$/,
      false,
    ],
    [
      'chunked body cut in its trailers',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n',
      /in the trailer section/,
      false,
    ],
  ];
  for (const [name, input, message, empty] of cases) {
    const r = parse(input, { end: true });
    t.equal(r.error?.kind, 'incomplete', name);
    t.match(r.error?.message ?? '', message, name);
    t.equal(r.error?.empty, empty, `${name}: empty`);
  }
  const p = new ResponseParser({ method: 'GET' });
  p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  const ev = p.end('reset');
  t.match(ev[0]?.type === 'error' && ev[0].message, /^connection reset after 3 of 10 body bytes$/);
  t.same(p.progress(), { phase: 'failed', received: 42, bodyBytes: 3, expected: 10 });
});

t.test('progress() tells where a stalled response stands', async (t) => {
  const p = new ResponseParser({ method: 'GET' });
  t.same(p.progress(), { phase: 'status-line', received: 0, bodyBytes: 0, expected: undefined });
  p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'));
  t.same(p.progress(), { phase: 'body-length', received: 50, bodyBytes: 10, expected: 100 });
  t.equal(p.done, false);
});
