// Process tests: byte ranges (RFC 9110 §14) and If-Range (§13.1.5), from memory (small files)
// and streamed from disk (--cache-max-file-bytes 512), over raw TCP.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { makeSite, startServer } from '../fixtures/server';
import { comparableHead, exchange, httpDate, one, parseMultipart, pattern } from '../fixtures/semantics';

const MTIME = Date.UTC(2021, 5, 7, 8, 9, 10);
const LM = httpDate(MTIME);
const R = pattern(1000); // /r.bin: 1000 bytes
const TXT = Buffer.from('0123456789'.repeat(100)); // /r.txt: 1000 bytes of text
const BIG = pattern(600_000, 11); // spans several 256 KiB read chunks

t.test('ranges', async (t) => {
  const root = makeSite(t, { 'r.bin': R, 'r.txt': TXT, 'big.bin': BIG, 'empty.txt': '' });
  for (const f of fs.readdirSync(root)) fs.utimesSync(path.join(root, f), MTIME / 1000, MTIME / 1000);
  const servers = {
    memory: await startServer(t, { root, args: ['--max-ranges', '4'] }),
    streamed: await startServer(t, { root, args: ['--max-ranges', '4', '--cache-max-file-bytes', '512'] }),
  };

  for (const [mode, s] of Object.entries(servers)) {
    t.test(`${mode}: single ranges → 206 with Content-Range`, async (t) => {
      const full = await one(s.port, '/r.bin');
      t.equal(full.status, 200);
      t.equal(full.headers['accept-ranges'], 'bytes');
      t.equal(full.body.compare(R), 0);
      const cases: [string, number, number][] = [
        ['bytes=0-8', 0, 8],
        ['bytes=990-', 990, 999],
        ['bytes=-10', 990, 999],
        ['bytes=995-5000', 995, 999], // end past the size is clamped
        ['bytes=0-0', 0, 0],
        ['bytes=999-999', 999, 999],
        ['bytes=-5000', 0, 999], // suffix longer than the file: all of it
        ['BYTES=10-19', 10, 19], // the unit is case-insensitive
        ['bytes= 10-19 ', 10, 19],
        ['bytes=0-99999999999999999999', 0, 999],
      ];
      for (const [range, start, end] of cases) {
        const r = await one(s.port, '/r.bin', { Range: range });
        t.equal(r.status, 206, range);
        t.match(r.statusLine, /^HTTP\/1\.1 206 Partial Content$/);
        t.equal(r.headers['content-range'], `bytes ${start}-${end}/1000`, range);
        t.equal(r.headers['content-length'], String(end - start + 1), range);
        t.equal(r.headers['content-type'], 'application/octet-stream');
        t.equal(r.headers.etag, full.headers.etag);
        t.equal(r.headers['accept-ranges'], 'bytes');
        t.equal(r.body.compare(R.subarray(start, end + 1)), 0, `${range}: the bytes`);
      }
    });

    t.test(`${mode}: unsatisfiable → 416 bytes */SIZE, no body`, async (t) => {
      for (const range of ['bytes=1000-', 'bytes=1000-2000', 'bytes=5000-5001', 'bytes=-0', 'bytes=1000-,2000-']) {
        const [r, h] = await exchange(s.port, [
          { path: '/r.bin', headers: { Range: range } },
          { path: '/r.bin', method: 'HEAD', headers: { Range: range } },
        ]);
        t.equal(r!.status, 416, range);
        t.equal(r!.headers['content-range'], 'bytes */1000', range);
        t.ok(r!.headers['content-length'] === undefined || r!.headers['content-length'] === '0', 'no body announced');
        t.equal(r!.body.length, 0, 'no file bytes');
        t.same(comparableHead(h!), comparableHead(r!), 'HEAD gets the same 416 head');
      }
      const e = await one(s.port, '/empty.txt', { Range: 'bytes=0-' });
      t.equal(e.status, 416, 'no byte of an empty file can be named');
      t.equal(e.headers['content-range'], 'bytes */0');
    });

    t.test(`${mode}: invalid Range is ignored → 200 with the whole file`, async (t) => {
      for (const range of ['bytes=5-2', 'bytes=abc', 'items=0-5', 'bytes 0-5', 'bytes=', 'bytes=-', 'bytes=0-5;x', 'bytes=--5', 'bytes=1-2-3']) {
        const r = await one(s.port, '/r.bin', { Range: range });
        t.equal(r.status, 200, range);
        t.equal(r.headers['content-range'], undefined);
        t.equal(r.body.compare(R), 0, `${range}: whole file`);
      }
    });

    t.test(`${mode}: several ranges → multipart/byteranges`, async (t) => {
      const cases: [string, [number, number][]][] = [
        ['bytes=0-9,20-29,990-', [[0, 9], [20, 29], [990, 999]]],
        ['bytes=-5, 0-1', [[0, 1], [995, 999]]], // sorted
        ['bytes=0-9,5-14,100-109', [[0, 14], [100, 109]]], // overlapping: coalesced
        ['bytes=0-9,10-19,500-500', [[0, 19], [500, 500]]], // adjacent: coalesced
        ['bytes=0-0,2-2,4-4,6-6', [[0, 0], [2, 2], [4, 4], [6, 6]]], // exactly --max-ranges
        ['bytes=0-9,2000-3000,50-59', [[0, 9], [50, 59]]], // an unsatisfiable one dropped
      ];
      for (const file of ['/r.bin', '/r.txt']) {
        const data = file === '/r.bin' ? R : TXT;
        const type = file === '/r.bin' ? 'application/octet-stream' : 'text/plain; charset=utf-8';
        for (const [range, want] of cases) {
          const r = await one(s.port, file, { Range: range });
          t.equal(r.status, 206, `${file} ${range}`);
          t.equal(r.headers['content-range'], undefined, 'no Content-Range on a multipart response');
          const parts = parseMultipart(r.headers['content-type']!, r.body);
          t.equal(parts.length, want.length, `${range}: parts`);
          for (const [i, [start, end]] of want.entries()) {
            const p = parts[i]!;
            t.equal(p.headers['content-type'], type, `${range} part ${i} type`);
            t.equal(p.headers['content-range'], `bytes ${start}-${end}/1000`, `${range} part ${i} range`);
            t.equal(p.body.compare(data.subarray(start, end + 1)), 0, `${range} part ${i} bytes`);
          }
        }
      }
    });

    t.test(`${mode}: overlapping ranges that coalesce into one → a single-part 206`, async (t) => {
      const r = await one(s.port, '/r.bin', { Range: 'bytes=0-9,5-14' });
      t.equal(r.status, 206);
      t.equal(r.headers['content-range'], 'bytes 0-14/1000');
      t.equal(r.headers['content-type'], 'application/octet-stream');
      t.equal(r.body.compare(R.subarray(0, 15)), 0);
    });

    t.test(`${mode}: more than --max-ranges, or more bytes than the file → 200 full`, async (t) => {
      for (const range of ['bytes=0-0,2-2,4-4,6-6,8-8', 'bytes=0-999,0-999', 'bytes=0-600,400-999', 'bytes=-600,-600']) {
        const r = await one(s.port, '/r.bin', { Range: range });
        t.equal(r.status, 200, range);
        t.equal(r.body.compare(R), 0);
      }
    });

    t.test(`${mode}: If-Range`, async (t) => {
      const { etag } = (await one(s.port, '/r.bin')).headers;
      t.equal((await one(s.port, '/r.bin')).headers['last-modified'], LM);
      const cases: [string, number][] = [
        [etag!, 206],
        [LM, 206],
        [`W/${etag}`, 200],
        ['"other"', 200],
        [httpDate(MTIME + 1000), 200],
        [httpDate(MTIME - 1000), 200],
        ['not a date', 200],
      ];
      for (const [ifRange, status] of cases) {
        const r = await one(s.port, '/r.bin', { Range: 'bytes=0-8', 'If-Range': ifRange });
        t.equal(r.status, status, `If-Range: ${ifRange}`);
        t.equal(r.body.compare(status === 206 ? R.subarray(0, 9) : R), 0);
        const m = await one(s.port, '/r.bin', { Range: 'bytes=0-1,5-6', 'If-Range': ifRange });
        t.equal(m.status, status, `multipart, If-Range: ${ifRange}`);
      }
      const noRange = await one(s.port, '/r.bin', { 'If-Range': '"other"' });
      t.equal(noRange.status, 200, 'If-Range without Range is ignored');
      const stale416 = await one(s.port, '/r.bin', { Range: 'bytes=5000-', 'If-Range': '"other"' });
      t.equal(stale416.status, 200, 'a stale If-Range sends the whole file even for an unsatisfiable range');
      t.equal(stale416.body.compare(R), 0);
    });

    t.test(`${mode}: preconditions come before Range`, async (t) => {
      const { etag } = (await one(s.port, '/r.bin')).headers;
      const [nm, pf, ok] = await exchange(s.port, [
        { path: '/r.bin', headers: { Range: 'bytes=0-8', 'If-None-Match': etag! } },
        { path: '/r.bin', headers: { Range: 'bytes=0-8', 'If-Match': '"other"' } },
        { path: '/r.bin', headers: { Range: 'bytes=0-8', 'If-Match': etag! } },
      ]);
      t.equal(nm!.status, 304);
      t.equal(nm!.headers['content-range'], undefined);
      t.equal(pf!.status, 412);
      t.equal(ok!.status, 206);
      t.equal(ok!.body.compare(R.subarray(0, 9)), 0);
    });

    t.test(`${mode}: HEAD with Range answers the head a GET gets, without the body`, async (t) => {
      for (const range of ['bytes=0-8', 'bytes=-10', 'bytes=0-9,20-29', 'bytes=1000-', 'bytes=5-2', 'bytes=0-999,0-999']) {
        const [g, h] = await exchange(s.port, [
          { path: '/r.bin', headers: { Range: range } },
          { path: '/r.bin', method: 'HEAD', headers: { Range: range } },
        ]);
        t.same(comparableHead(h!), comparableHead(g!), range);
        t.ok(Number(h!.headers['content-length'] ?? 0) === g!.body.length, `${range}: HEAD Content-Length is the GET body length`);
      }
    });

    t.test(`${mode}: ranges of a large file across read chunks`, async (t) => {
      const one1 = await one(s.port, '/big.bin', { Range: 'bytes=262140-524300' });
      t.equal(one1.status, 206);
      t.equal(one1.headers['content-range'], 'bytes 262140-524300/600000');
      t.equal(one1.body.compare(BIG.subarray(262140, 524301)), 0);
      const r = await one(s.port, '/big.bin', { Range: 'bytes=0-9,262140-262150,-20' });
      const parts = parseMultipart(r.headers['content-type']!, r.body);
      t.same(
        parts.map((p) => p.headers['content-range']),
        ['bytes 0-9/600000', 'bytes 262140-262150/600000', 'bytes 599980-599999/600000'],
      );
      t.equal(parts[1]!.body.compare(BIG.subarray(262140, 262151)), 0);
      t.equal(parts[2]!.body.compare(BIG.subarray(599980)), 0);
    });
  }
});
