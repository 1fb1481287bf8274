// http2/response.ts: a Reply's HTTP/1.1 header lines become an HTTP/2 header object.
import t from 'tap';
import { fieldsOf, responseHeaders } from '../../../src/http2/response';
import { errorReply, okReply } from '../../../src/http/respond';

t.test("a reply's lines: lower-cased names, :status and date, no connection-specific fields", async (t) => {
  const reply = okReply('Content-Type: text/plain\r\nContent-Length: 4\r\nETag: "abc"\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n', Buffer.from('body'));
  const now = Date.UTC(2026, 11, 3, 12, 0, 0, 700);
  t.same(responseHeaders(reply, '', now), {
    ':status': 200,
    date: 'Thu, 03 Dec 2026 12:00:00 GMT',
    'content-type': 'text/plain',
    'content-length': '4',
    etag: '"abc"',
  });
});

t.test("the listener's lines are added; repeated fields stay separate values", async (t) => {
  const reply = { status: 404, headers: 'Vary: Accept\r\nLink: </a>; rel=preload\r\nLink: </b>; rel=preload\r\n', body: null };
  const h = responseHeaders(reply, 'Strict-Transport-Security: max-age=60\r\n', 0);
  t.equal(h[':status'], 404);
  t.same(h.link, ['</a>; rel=preload', '</b>; rel=preload']);
  t.equal(h['strict-transport-security'], 'max-age=60');
  t.equal(h.vary, 'Accept');
});

t.test('the same lines give the same frozen fields; each response its own object', async (t) => {
  const lines = errorReply(500).headers;
  t.equal(fieldsOf(lines), fieldsOf(lines));
  t.ok(Object.isFrozen(fieldsOf(lines)));
  const a = responseHeaders(errorReply(500), '', 0);
  const b = responseHeaders(errorReply(500), '', 0);
  t.not(a, b);
  t.same(a, b);
  t.notOk('connection' in a, 'an error reply closes on HTTP/1.1; HTTP/2 has no Connection field');
});
