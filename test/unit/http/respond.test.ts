// render (src/http/respond.ts): every head it builds, as the bytes that reach the wire.
import t from 'tap';
import { multipartByteranges } from '../../../src/http/range';
import { renderListing } from '../../../src/files/listing';
import {
  connectionHeader,
  connectionLimitResponse,
  dateHeader,
  errorPage,
  errorReply,
  listingQueryErrorReply,
  listingReply,
  methodNotAllowedReply,
  multipartFromMemory,
  multipartReply,
  notFoundReply,
  notModifiedReply,
  okHeaderLines,
  okReply,
  optionsReply,
  partialReply,
  preconditionFailedReply,
  preparedHead,
  preparedWireReply,
  rangeNotSatisfiableReply,
  redirectReply,
  serializeHead,
  statusLine,
  transientErrorReply,
  wireReply,
  wireResponse,
  wireWithListenerLines,
} from '../../../src/http/respond';
import { fieldLine, fileHeaderLines, validatorLines } from '../../../src/http/fields';
import { escapeHtml, PAGE_STYLE } from '../../../src/http/html';

const NOSNIFF = 'X-Content-Type-Options: nosniff\r\n';
const file = { contentType: 'text/plain; charset=utf-8', headerLines: `Cache-Control: no-cache\r\nAccept-Ranges: bytes\r\n${NOSNIFF}` };
const rep = { validatorLines: 'ETag: "e"\r\nLast-Modified: Fri, 02 Jan 2026 03:04:05 GMT\r\n', coding: null, size: 10 };
const brRep = { ...rep, coding: 'br', size: 4 };

t.test('status line, Date, Connection, whole head', async (t) => {
  t.equal(statusLine(200), 'HTTP/1.1 200 OK\r\n');
  t.equal(statusLine(416), 'HTTP/1.1 416 Range Not Satisfiable\r\n');
  t.equal(statusLine(299), 'HTTP/1.1 299 Unknown\r\n');
  t.equal(dateHeader(Date.UTC(2026, 0, 2, 3, 4, 5, 999)), 'Date: Fri, 02 Jan 2026 03:04:05 GMT\r\n');
  t.equal(dateHeader(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), 'Date: Fri, 02 Jan 2026 03:04:05 GMT\r\n', 'the second of `now`, whatever its milliseconds');
  t.equal(dateHeader(Date.UTC(2026, 0, 2, 3, 4, 6)), 'Date: Fri, 02 Jan 2026 03:04:06 GMT\r\n', 'the next second: the next line');
  t.equal(connectionHeader(false, 1), '', 'HTTP/1.1 keep-alive is the default: nothing');
  t.equal(connectionHeader(false, 0), 'Connection: keep-alive\r\n');
  t.equal(connectionHeader(true, 1), 'Connection: close\r\n');
  t.equal(connectionHeader(true, 0), 'Connection: close\r\n');
  const head = serializeHead(204, 'A: b\r\n', true, 1, Date.UTC(2026, 0, 2, 3, 4, 5));
  t.equal(head, 'HTTP/1.1 204 No Content\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\nA: b\r\nConnection: close\r\n\r\n');
});

t.test('error pages and error replies', async (t) => {
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  const page = errorPage(404, '<script>').toString();
  t.match(page, '<title>404 Not Found</title>');
  t.match(page, '<p>&#60;script&#62;</p>', 'detail escaped');
  t.notMatch(errorPage(500).toString(), '<p></p>', 'no empty detail');
  t.equal(
    errorPage(404).toString(),
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>404 Not Found</title>
<style>:root{color-scheme:light dark}
body{font:16px/1.4 system-ui,sans-serif;margin:1rem auto;padding:0 1rem;max-width:60rem}
h1{font-size:1.25rem;font-weight:600;overflow-wrap:anywhere}
p{overflow-wrap:anywhere}footer{margin-top:2rem;padding-top:.5rem;border-top:1px solid #8884;font-size:.875rem;opacity:.75}</style></head>
<body><h1>404 Not Found</h1>
<p>There is nothing at this address.</p>
<footer>fleetserve</footer></body></html>
`,
    'the built-in 404: styled like the listing, light or dark as the browser prefers',
  );
  t.equal(errorPage(404), errorPage(404), 'built once per status, the same bytes every time');
  t.ok(renderListing('/', [], 'html').toString().includes(`<style>${PAGE_STYLE}`), 'the listing shares the look');
  for (const status of [400, 403, 404, 405, 408, 412, 416, 500, 503, 599]) {
    const page = errorPage(status);
    t.ok(page.length < 1024, `${status}: under 1 KiB (${page.length} B)`);
    t.match(page.toString(), `<title>${status} `, `${status}: names the status`);
  }
  t.match(errorPage(599).toString(), '<title>599 Error</title>\n', 'an unknown status');
  t.notMatch(errorPage(408).toString(), '<p>', 'no explanation written for it: none shown');
  const e = errorReply(400);
  t.equal(e.status, 400);
  t.equal(e.close, true, 'closes by default');
  t.equal(e.headers, `Content-Type: text/html; charset=utf-8\r\nContent-Length: ${(e.body as Buffer).length}\r\nCache-Control: no-store\r\n${NOSNIFF}`);
  t.same(e.body, errorPage(400));
  t.equal(errorReply(403, false).close, false);
  const busy = transientErrorReply();
  t.equal(busy.status, 503);
  t.equal(busy.close, false, 'a transient error keeps the connection');
  t.match(busy.headers, /^Retry-After: 1\r\nContent-Type: text\/html/);
  const m = methodNotAllowedReply();
  t.equal(m.status, 405);
  t.equal(m.close, false);
  t.match(m.headers, /^Allow: GET, HEAD, OPTIONS\r\nContent-Type/);
});

t.test('answers that are not a file', async (t) => {
  t.same(optionsReply(NOSNIFF), { status: 204, headers: `Allow: GET, HEAD, OPTIONS\r\n${NOSNIFF}`, body: null });
  const r = redirectReply('/docs/?a=1');
  t.equal(r.status, 301);
  t.match(r.headers, /^Location: \/docs\/\?a=1\r\nContent-Type: text\/html; charset=utf-8\r\nContent-Length: \d+\r\nX-Content-Type-Options: nosniff\r\n$/);
  t.match((r.body as Buffer).toString(), 'Moved to /docs/?a=1');
  const page = Buffer.from('<h1>gone</h1>');
  t.same(notFoundReply(page, `${NOSNIFF}Access-Control-Allow-Origin: *\r\n`, false), {
    status: 404,
    headers: `Content-Type: text/html; charset=utf-8\r\nContent-Length: 13\r\nCache-Control: no-cache\r\n${NOSNIFF}Access-Control-Allow-Origin: *\r\n`,
    body: page,
  });
  t.equal(notFoundReply(page, NOSNIFF, true).body, null, 'HEAD: no body, same length');
  const q = listingQueryErrorReply('sort must be name, size or date, not "x"', false);
  t.equal(q.status, 400);
  t.equal(q.close, undefined, 'the connection stays');
  t.match((q.body as Buffer).toString(), 'Bad listing query: sort must be name, size or date, not &#34;x&#34;. Use ?sort=');
  t.match(q.headers, 'Cache-Control: no-store\r\n');
  const l = listingReply(true, Buffer.from('{}'), false);
  t.equal(l.headers, `Content-Type: application/json; charset=utf-8\r\nContent-Length: 2\r\nCache-Control: no-cache\r\nVary: Accept\r\n${NOSNIFF}`);
  t.match(listingReply(false, Buffer.from('x'), true), { body: null, headers: /^Content-Type: text\/html; charset=utf-8\r\nContent-Length: 1\r\n/ });
});

t.test("a listener's header lines (HSTS) go into the prepared whole response as the serialized head would have them, made once per prepared response", async (t) => {
  const ok = okHeaderLines(file, rep);
  const body = Buffer.from('0123456789');
  const now = Date.UTC(2026, 11, 3, 12, 0, 0);
  const hsts = 'Strict-Transport-Security: max-age=63072000\r\n';
  const wire = wireResponse(ok, body, now);
  const spliced = wireWithListenerLines(wire, body.length, hsts);
  t.equal(spliced.toString('latin1'), serializeHead(200, ok + hsts, false, 1, now) + '0123456789');
  t.equal(wireWithListenerLines(wire, body.length, hsts), spliced, 'the same buffer for the same prepared response');
  const other = 'X-Other: 1\r\n';
  t.equal(wireWithListenerLines(wire, body.length, other).toString('latin1'), serializeHead(200, ok + other, false, 1, now) + '0123456789', 'other lines: made again');
  t.equal(wire.toString('latin1'), serializeHead(200, ok, false, 1, now) + '0123456789', 'the prepared response itself is left as it was');
});

t.test('a file: 200, 304, 412, 416, 206, multipart', async (t) => {
  const ok = okHeaderLines(file, rep);
  t.equal(ok, `Content-Type: text/plain; charset=utf-8\r\n${file.headerLines}${rep.validatorLines}Content-Length: 10\r\n`);
  t.equal(okHeaderLines(file, brRep), `Content-Type: text/plain; charset=utf-8\r\n${file.headerLines}${rep.validatorLines}Content-Encoding: br\r\nContent-Length: 4\r\n`);
  const body = Buffer.from('0123456789');
  t.same(okReply(ok, body), { status: 200, headers: ok, body });
  const wire = wireResponse(ok, body, Date.now());
  t.match(wire.toString('latin1'), /^HTTP\/1\.1 200 OK\r\nDate: [^\r]+\r\nContent-Type: text\/plain; charset=utf-8\r\n[^]*Content-Length: 10\r\n\r\n0123456789$/);
  t.same(wireReply(ok, body, wire), { status: 200, headers: ok, body, wire });
  t.same(notModifiedReply(file, rep.validatorLines), { status: 304, headers: file.headerLines + rep.validatorLines, body: null });
  const pf = preconditionFailedReply();
  t.equal(pf.status, 412);
  t.match(pf.headers, /^Content-Type: text\/html; charset=utf-8\r\nContent-Length: \d+\r\nX-Content-Type-Options/);
  t.same(rangeNotSatisfiableReply(file, rep), { status: 416, headers: `Content-Range: bytes */10\r\nContent-Length: 0\r\n${file.headerLines}${rep.validatorLines}`, body: null });
  const p = partialReply(file, brRep, 1, 3, null);
  t.equal(p.status, 206);
  t.equal(p.headers, `Content-Type: text/plain; charset=utf-8\r\n${file.headerLines}${rep.validatorLines}Content-Encoding: br\r\nContent-Range: bytes 1-2/4\r\nContent-Length: 2\r\n`);
  const mp = multipartByteranges([{ start: 0, end: 1 }, { start: 5, end: 9 }], 10, file.contentType, 'B');
  const mr = multipartReply(file, rep, mp, null);
  t.equal(mr.headers, `Content-Type: multipart/byteranges; boundary=B\r\n${file.headerLines}${rep.validatorLines}Content-Length: ${mp.length}\r\n`);
  const cut = multipartFromMemory(mp, body);
  t.equal(cut.length, mp.length);
  t.equal(
    cut.toString(),
    '--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/10\r\n\r\n01' +
      '\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 5-9/10\r\n\r\n56789\r\n--B--\r\n',
  );
});

t.test('field lines, validators, the file lines, the connection-limit 503', async (t) => {
  t.equal(fieldLine('Access-Control-Allow-Origin', '*'), 'Access-Control-Allow-Origin: *\r\n');
  t.equal(validatorLines('"e"', Date.UTC(2026, 0, 2, 3, 4, 5)), 'ETag: "e"\r\nLast-Modified: Fri, 02 Jan 2026 03:04:05 GMT\r\n');
  const f = { cacheControl: 'no-cache', vary: '', nosniff: NOSNIFF, configured: 'X-A: 1\r\n' };
  t.equal(fileHeaderLines(f, false), `Cache-Control: no-cache\r\nAccept-Ranges: bytes\r\n${NOSNIFF}X-A: 1\r\n`);
  t.equal(fileHeaderLines(f, true), `Cache-Control: no-cache\r\nAccept-Ranges: bytes\r\nVary: Accept-Encoding\r\n${NOSNIFF}X-A: 1\r\n`);
  t.equal(fileHeaderLines({ ...f, vary: 'Origin' }, true), `Cache-Control: no-cache\r\nAccept-Ranges: bytes\r\nVary: Accept-Encoding, Origin\r\n${NOSNIFF}X-A: 1\r\n`);
  t.equal(fileHeaderLines({ ...f, vary: 'Origin' }, false), `Cache-Control: no-cache\r\nAccept-Ranges: bytes\r\nVary: Origin\r\n${NOSNIFF}X-A: 1\r\n`);
  const refusal = connectionLimitResponse().toString('latin1');
  const [head, page] = refusal.split('\r\n\r\n');
  t.equal(
    head,
    `HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(page!)}\r\nCache-Control: no-store\r\nConnection: close`,
  );
  t.match(page, 'at its connection limit');
});

t.test('a prepared head: built once per representation, its whole response once per second of `now`', async (t) => {
  const entry = { ...file, heads: [] as unknown[] };
  const p = preparedHead(entry, rep);
  t.equal(p.okLines, okHeaderLines(file, rep));
  t.equal(preparedHead(entry, rep), p, 'the same representation: the same head');
  t.not(preparedHead(entry, brRep), p, 'another representation: a head of its own');
  t.equal(entry.heads.length, 2);
  const body = Buffer.from('0123456789');
  const at = Date.UTC(2026, 0, 2, 3, 4, 5);
  const first = preparedWireReply(p, body, at);
  t.match(first.wire!.toString('latin1'), /^HTTP\/1\.1 200 OK\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\nContent-Type: text\/plain; charset=utf-8\r\n[^]*\r\n\r\n0123456789$/);
  t.equal(preparedWireReply(p, body, at + 999).wire, first.wire, 'the same second: the same buffer, not rebuilt');
  const next = preparedWireReply(p, body, at + 1000);
  t.not(next.wire, first.wire, 'the next second: rebuilt');
  t.match(next.wire!.toString('latin1'), /\r\nDate: Fri, 02 Jan 2026 03:04:06 GMT\r\n/);
});
