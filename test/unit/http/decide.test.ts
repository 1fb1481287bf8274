// decide (src/http/decide.ts) with plain values: no files, no sockets.
import t from 'tap';
import {
  decideFile,
  decideMethod,
  FULL,
  isNotModifiedAsCopy,
  isPlainGetOfMemory,
  NOT_MODIFIED,
  NOT_MODIFIED_AS_COPY,
  PLAIN_GET,
  PRECONDITION_FAILED,
  RANGE_NOT_SATISFIABLE,
  type RepresentationFacts,
} from '../../../src/http/decide';

const MTIME = Date.UTC(2026, 0, 2, 3, 4, 5);
const DATE = 'Fri, 02 Jan 2026 03:04:05 GMT';
const EARLIER = 'Thu, 01 Jan 2026 00:00:00 GMT';
const ETAG = '"abc"';
const inMemory: RepresentationFacts = { etag: ETAG, lastModifiedMs: MTIME, size: 100, body: Buffer.alloc(100) };
const onDisk: RepresentationFacts = { ...inMemory, body: null };

t.test('decideMethod: GET and HEAD read, OPTIONS asks, * is for OPTIONS only, the rest is 405', async (t) => {
  t.equal(decideMethod('GET', '/x'), 'read');
  t.equal(decideMethod('HEAD', '/x'), 'read');
  t.equal(decideMethod('GET', '*'), 'asterisk-not-options');
  t.equal(decideMethod('HEAD', '*'), 'asterisk-not-options');
  t.equal(decideMethod('OPTIONS', '*'), 'options');
  t.equal(decideMethod('OPTIONS', '/x'), 'options');
  for (const m of ['POST', 'PUT', 'DELETE', 'get', 'TRACE', 'CONNECT', 'PATCH']) t.equal(decideMethod(m, '/x'), 'method-not-allowed', m);
});

t.test('the fast path: a plain GET of a body in memory, and nothing else', async (t) => {
  t.ok(isPlainGetOfMemory('GET', {}, inMemory));
  t.ok(isPlainGetOfMemory('GET', { 'accept-encoding': 'gzip', host: 'x', 'if-range': DATE }, inMemory), 'fields that cannot change a 200 do not matter');
  t.notOk(isPlainGetOfMemory('HEAD', {}, inMemory), 'HEAD');
  t.notOk(isPlainGetOfMemory('GET', {}, onDisk), 'a body not in memory');
  for (const f of ['range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since']) {
    t.notOk(isPlainGetOfMemory('GET', { [f]: 'x' }, inMemory), f);
  }
  t.equal(decideFile('GET', {}, inMemory, null, 16), PLAIN_GET);
  t.equal(decideFile('GET', {}, onDisk, null, 16), FULL, 'from disk: the whole file');
  t.equal(decideFile('HEAD', {}, inMemory, null, 16), FULL, 'HEAD: the 200 head');
});

t.test('preconditions, in RFC 9110 §13.2.2 order', async (t) => {
  const d = (method: string, h: Record<string, string>) => decideFile(method, h, inMemory, null, 16);
  t.equal(d('GET', { 'if-none-match': ETAG }), NOT_MODIFIED);
  t.equal(d('HEAD', { 'if-none-match': `"x", ${ETAG}` }), NOT_MODIFIED);
  t.equal(d('GET', { 'if-none-match': '*' }), NOT_MODIFIED);
  t.equal(d('GET', { 'if-none-match': '"other"' }), FULL);
  t.equal(d('GET', { 'if-modified-since': DATE }), NOT_MODIFIED);
  t.equal(d('GET', { 'if-modified-since': EARLIER }), FULL);
  t.equal(d('GET', { 'if-none-match': '"other"', 'if-modified-since': DATE }), FULL, 'If-None-Match wins over If-Modified-Since');
  t.equal(d('GET', { 'if-match': '"other"' }), PRECONDITION_FAILED);
  t.equal(d('GET', { 'if-match': ETAG }), FULL);
  t.equal(d('GET', { 'if-unmodified-since': EARLIER }), PRECONDITION_FAILED);
  t.equal(d('GET', { 'if-unmodified-since': DATE }), FULL);
  t.equal(d('GET', { 'if-match': '"other"', 'if-none-match': ETAG }), PRECONDITION_FAILED, 'If-Match first');
  t.equal(d('GET', { 'if-match': ETAG, 'if-unmodified-since': EARLIER }), FULL, 'a matching If-Match makes If-Unmodified-Since moot');
});

t.test('a compressed copy the client may hold from another worker', async (t) => {
  const copy = '"abc.br11-x"';
  t.ok(isNotModifiedAsCopy('GET', copy, copy, MTIME));
  t.notOk(isNotModifiedAsCopy('GET', undefined, copy, MTIME), 'no If-None-Match');
  t.notOk(isNotModifiedAsCopy('GET', copy, null, MTIME), 'no copy to expect');
  t.notOk(isNotModifiedAsCopy('GET', '"other"', copy, MTIME));
  t.equal(decideFile('GET', { 'if-none-match': copy }, inMemory, copy, 16), NOT_MODIFIED_AS_COPY);
  t.equal(decideFile('GET', { 'if-none-match': copy }, inMemory, null, 16), FULL);
  t.equal(decideFile('GET', { 'if-none-match': ETAG }, inMemory, copy, 16), NOT_MODIFIED, "the representation's own tag first");
  t.equal(decideFile('GET', { 'if-none-match': copy, 'if-match': '"zzz"' }, inMemory, copy, 16), PRECONDITION_FAILED, 'a failed If-Match is not rescued');
});

t.test('ranges', async (t) => {
  const d = (h: Record<string, string>, rep = onDisk, max = 16) => decideFile('GET', h, rep, null, max);
  t.same(d({ range: 'bytes=0-9' }), { kind: 'partial', start: 0, end: 10 }, 'one range, end exclusive');
  t.same(d({ range: 'bytes=-10' }), { kind: 'partial', start: 90, end: 100 });
  t.same(d({ range: 'bytes=90-' }, inMemory), { kind: 'partial', start: 90, end: 100 }, 'a body in memory too');
  t.same(d({ range: 'bytes=0-9, 20-29' }), { kind: 'multipart', ranges: [{ start: 0, end: 9 }, { start: 20, end: 29 }] });
  t.equal(d({ range: 'bytes=0-9, 20-29' }, onDisk, 1), FULL, 'more ranges than maxRanges: the whole file');
  t.equal(d({ range: 'bytes=100-' }), RANGE_NOT_SATISFIABLE);
  t.equal(d({ range: 'items=0-9' }), FULL, 'another unit is ignored');
  t.equal(d({ range: 'bytes=0-9', 'if-range': ETAG }).kind, 'partial', 'If-Range with the current tag');
  t.equal(d({ range: 'bytes=0-9', 'if-range': DATE }).kind, 'partial', 'If-Range with the exact date');
  t.equal(d({ range: 'bytes=0-9', 'if-range': '"old"' }), FULL, 'a stale If-Range: the whole file');
  t.equal(d({ range: 'bytes=0-9', 'if-range': EARLIER }), FULL);
  t.equal(d({ range: 'bytes=0-9', 'if-none-match': ETAG }), NOT_MODIFIED, 'preconditions before Range');
  t.equal(d({ range: 'bytes=0-9', 'if-match': '"x"' }), PRECONDITION_FAILED);
  t.same(decideFile('HEAD', { range: 'bytes=0-9' }, onDisk, null, 16), { kind: 'partial', start: 0, end: 10 }, 'HEAD gets the same decision');
});
