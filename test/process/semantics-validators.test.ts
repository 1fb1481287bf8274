// Process tests: validators and conditional requests (RFC 9110 §8.8, §13) against the built
// server, over raw TCP. Build first: npx tsc -p tsconfig.build.json
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { makeSite, startServer } from '../fixtures/server';
import { exchange, fieldCount, httpDate, one, pattern } from '../fixtures/semantics';

const MTIME = Date.UTC(2020, 0, 2, 3, 4, 5); // Thu, 02 Jan 2020 03:04:05 GMT
const LM = 'Thu, 02 Jan 2020 03:04:05 GMT';
const BIG = pattern(5000); // above --cache-max-file-bytes 1024: hashed from disk in the second server

function site(t: Parameters<typeof makeSite>[0]): string {
  const root = makeSite(t, {
    'a.txt': 'the same bytes\n',
    'b.txt': 'the same bytes\n',
    'c.txt': 'other bytes!!!\n', // same length as a.txt, different content
    'v.txt': 'has a gzip sibling\n',
    'v.txt.gz': Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]),
    'big.bin': BIG,
    '404.html': 'not here\n',
  });
  // Sub-second part on purpose: Last-Modified and comparisons work at whole seconds.
  for (const f of fs.readdirSync(root)) fs.utimesSync(path.join(root, f), (MTIME + 678) / 1000, (MTIME + 678) / 1000);
  return root;
}

t.test('validators', async (t) => {
  const root = site(t);
  const s = await startServer(t, { root });
  // A second process over a copy of the same bytes, streaming files above 1 KiB from disk.
  const root2 = site(t);
  const s2 = await startServer(t, { root: root2, args: ['--cache-max-file-bytes', '1024'] });

  t.test('ETag is strong and derived from content; Last-Modified always sent', async (t) => {
    const [a, b, c, big] = await exchange(s.port, [{ path: '/a.txt' }, { path: '/b.txt' }, { path: '/c.txt' }, { path: '/big.bin' }]);
    for (const r of [a!, b!, c!, big!]) {
      t.equal(r.status, 200);
      t.match(r.headers.etag, /^"[^"]+"$/, 'a strong entity-tag (no W/)');
      t.equal(fieldCount(r, 'etag'), 1);
      t.equal(r.headers['last-modified'], LM, 'Last-Modified is the mtime, floored to the second');
    }
    t.equal(a!.headers.etag, b!.headers.etag, 'two files with the same bytes share an ETag');
    t.not(a!.headers.etag, c!.headers.etag, 'same size, different bytes → different ETag');
    t.equal(big!.body.compare(BIG), 0);

    const [a2, c2, big2] = await exchange(s2.port, [{ path: '/a.txt' }, { path: '/c.txt' }, { path: '/big.bin' }]);
    t.equal(a2!.headers.etag, a!.headers.etag, 'another process (other inode) serving the same bytes sends the same ETag');
    t.equal(c2!.headers.etag, c!.headers.etag);
    t.equal(big2!.headers.etag, big!.headers.etag, 'a file hashed from disk (streamed) gets the same ETag as one hashed in memory');
    t.equal(big2!.body.compare(BIG), 0, 'streamed body is the file');
    const h = await one(s.port, '/a.txt', {}, 'HEAD');
    t.equal(h.headers.etag, a!.headers.etag, 'HEAD carries the same validators');
    t.equal(h.headers['last-modified'], LM);
  });

  t.test('If-None-Match → 304 (lists, *, weak comparison)', async (t) => {
    const etag = (await one(s.port, '/a.txt')).headers.etag!;
    const weak = `W/${etag}`;
    const cases: [string, number][] = [
      [etag, 304],
      [`"nope", ${etag}`, 304],
      [`"nope",${etag} , "x"`, 304],
      ['*', 304],
      [weak, 304],
      [`"nope", ${weak}`, 304],
      ['"nope"', 200],
      ['W/"nope"', 200],
    ];
    for (const [inm, status] of cases) {
      const [g, h] = await exchange(s.port, [
        { path: '/a.txt', headers: { 'If-None-Match': inm } },
        { path: '/a.txt', method: 'HEAD', headers: { 'If-None-Match': inm } },
      ]);
      t.equal(g!.status, status, `GET If-None-Match: ${inm}`);
      t.equal(h!.status, status, `HEAD If-None-Match: ${inm}`);
      if (status === 200) t.equal(g!.body.toString(), 'the same bytes\n');
    }
  });

  t.test('If-Modified-Since only without If-None-Match; invalid dates ignored', async (t) => {
    const etag = (await one(s.port, '/a.txt')).headers.etag!;
    const cases: [Record<string, string>, number, string][] = [
      [{ 'If-Modified-Since': LM }, 304, 'the exact Last-Modified'],
      [{ 'If-Modified-Since': httpDate(MTIME + 3600_000) }, 304, 'a later date'],
      [{ 'If-Modified-Since': httpDate(MTIME - 1000) }, 200, 'one second earlier'],
      [{ 'If-Modified-Since': 'Thursday, 02-Jan-20 03:04:05 GMT' }, 304, 'RFC 850 form'],
      [{ 'If-Modified-Since': 'Thu Jan  2 03:04:05 2020' }, 304, 'asctime form'],
      [{ 'If-Modified-Since': 'garbage' }, 200, 'not a date'],
      [{ 'If-Modified-Since': '2020-01-02T03:04:05Z' }, 200, 'ISO 8601 is not an HTTP-date'],
      [{ 'If-Modified-Since': 'Fri, 02 Jan 2020 03:04:05 GMT' }, 200, 'wrong weekday'],
      [{ 'If-Modified-Since': 'Thu, 32 Jan 2020 03:04:05 GMT' }, 200, 'impossible day'],
      [{ 'If-None-Match': '"nope"', 'If-Modified-Since': httpDate(MTIME + 3600_000) }, 200, 'If-None-Match present and false: IMS not looked at'],
      [{ 'If-None-Match': etag, 'If-Modified-Since': httpDate(MTIME - 3600_000) }, 304, 'If-None-Match decides even when IMS would say modified'],
    ];
    for (const [headers, status, why] of cases) {
      const r = await one(s.port, '/a.txt', headers);
      t.equal(r.status, status, `${why}: ${JSON.stringify(headers)}`);
    }
  });

  t.test('a 304 keeps ETag, Last-Modified, Cache-Control, Vary and has no body', async (t) => {
    const full = await one(s.port, '/v.txt');
    t.equal(full.headers.vary, 'Accept-Encoding');
    const conds: Record<string, string>[] = [{ 'If-None-Match': full.headers.etag! }, { 'If-Modified-Since': LM }];
    for (const cond of conds) {
      // Pipelined: a 304 followed by a 200 whose body must be exactly the next bytes.
      const [nm, after] = await exchange(s.port, [{ path: '/v.txt', headers: cond }, { path: '/c.txt' }]);
      t.equal(nm!.status, 304, JSON.stringify(cond));
      t.match(nm!.statusLine, /^HTTP\/1\.1 304 Not Modified$/);
      t.equal(nm!.headers.etag, full.headers.etag);
      t.equal(nm!.headers['last-modified'], LM);
      t.equal(nm!.headers['cache-control'], 'public, max-age=0, must-revalidate');
      t.equal(nm!.headers.vary, 'Accept-Encoding');
      t.equal(nm!.headers['x-content-type-options'], 'nosniff');
      t.equal(nm!.headers['content-length'], undefined, 'no Content-Length claiming a body');
      t.equal(nm!.headers['transfer-encoding'], undefined);
      t.equal(after!.status, 200);
      t.equal(after!.body.toString(), 'other bytes!!!\n', 'the next response starts right after the 304 head');
    }
  });

  t.test('If-Match (strong) and If-Unmodified-Since → 412 when false', async (t) => {
    const etag = (await one(s.port, '/a.txt')).headers.etag!;
    const cases: [Record<string, string>, number, string][] = [
      [{ 'If-Match': etag }, 200, 'matching tag'],
      [{ 'If-Match': `"nope", ${etag}` }, 200, 'matching tag in a list'],
      [{ 'If-Match': '*' }, 200, '* on an existing file'],
      [{ 'If-Match': '"nope"' }, 412, 'other tag'],
      [{ 'If-Match': `W/${etag}` }, 412, 'weak tag never matches strongly'],
      [{ 'If-Unmodified-Since': LM }, 200, 'exact Last-Modified'],
      [{ 'If-Unmodified-Since': httpDate(MTIME + 60_000) }, 200, 'later date'],
      [{ 'If-Unmodified-Since': httpDate(MTIME - 1000) }, 412, 'earlier date'],
      [{ 'If-Unmodified-Since': 'yesterday' }, 200, 'invalid date ignored'],
      [{ 'If-Match': etag, 'If-Unmodified-Since': httpDate(MTIME - 1000) }, 200, 'If-Match true: IUS not looked at'],
      [{ 'If-Match': etag, 'If-None-Match': etag }, 304, 'If-Match passes, then If-None-Match'],
      [{ 'If-Match': '"nope"', 'If-None-Match': '"nope"' }, 412, 'If-Match is evaluated first'],
    ];
    for (const [headers, status, why] of cases) {
      const [g, h] = await exchange(s.port, [
        { path: '/a.txt', headers },
        { path: '/a.txt', method: 'HEAD', headers },
      ]);
      t.equal(g!.status, status, `GET ${why}: ${JSON.stringify(headers)}`);
      t.equal(h!.status, status, `HEAD ${why}`);
      if (status === 412) {
        t.equal(g!.headers['x-content-type-options'], 'nosniff');
        t.not(g!.body.toString(), 'the same bytes\n', 'a 412 does not send the file');
      }
    }
  });

  t.test('preconditions on a missing file → 404', async (t) => {
    const conds: Record<string, string>[] = [{ 'If-Match': '*' }, { 'If-Match': '"x"' }, { 'If-Unmodified-Since': httpDate(MTIME - 1000) }, { 'If-None-Match': '*' }];
    for (const headers of conds) {
      const r = await one(s.port, '/missing.txt', headers);
      t.equal(r.status, 404, JSON.stringify(headers));
      t.equal(r.body.toString(), 'not here\n', "the site's 404.html");
    }
  });

  t.test('a large (streamed) file answers conditionals like a cached one', async (t) => {
    const etag = (await one(s2.port, '/big.bin')).headers.etag!;
    const [nm, pre, ok] = await exchange(s2.port, [
      { path: '/big.bin', headers: { 'If-None-Match': etag } },
      { path: '/big.bin', headers: { 'If-Match': '"nope"' } },
      { path: '/big.bin', headers: { 'If-Match': etag } },
    ]);
    t.equal(nm!.status, 304);
    t.equal(pre!.status, 412);
    t.equal(ok!.status, 200);
    t.equal(ok!.body.compare(BIG), 0);
  });
});
