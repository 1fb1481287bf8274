// fleetserve-client --compressed: what it asks for, what it writes (decoded, as curl), and
// exit 61 for what it cannot decode; against the real server (its precompressed siblings)
// and a raw node:net server for the codings and the broken bodies fleetserve never sends.
import zlib from 'node:zlib';
import t from 'tap';
import { ACCEPT_ENCODING, contentCodings } from '../../src/client/decode';
import { buildProblem, onRequestHeads, runClient, startRaw } from '../fixtures/client/harness';
import { makeSite, startServer } from '../fixtures/server';

const HAS_ZSTD = typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';

t.test('what --compressed asks for, and how Content-Encoding is read', async (t) => {
  t.equal(ACCEPT_ENCODING, HAS_ZSTD ? 'deflate, gzip, br, zstd' : 'deflate, gzip, br', "curl's list, as far as node:zlib decodes");
  t.same(contentCodings(['gzip']), ['gzip']);
  t.same(contentCodings(['GZip , identity', 'br']), ['gzip', 'br'], 'every field, in order; identity is no coding');
  t.same(contentCodings(['', ' , ']), []);
});

const problem = buildProblem();
if (problem) {
  t.fail(problem);
} else {
  const TEXT = 'fleetserve compresses this line well. '.repeat(40) + '\n';
  const root = makeSite(t, {
    'p.txt': TEXT,
    'p.txt.gz': zlib.gzipSync(TEXT),
    'p.txt.br': zlib.brotliCompressSync(TEXT),
  });

  t.test('with the real server: asks, gets br (or gzip), writes the decoded bytes', async (t) => {
    const s = await startServer(t, { root });
    const url = `127.0.0.1:${s.port}/p.txt`;
    const [br, gzip, raw, plain] = await Promise.all([
      runClient(['-v', '--compressed', '-w', '%{size_download}', url]),
      runClient(['-v', '--compressed', '-H', 'Accept-Encoding: gzip', url]),
      runClient(['-s', '-H', 'Accept-Encoding: gzip', url]),
      runClient(['-v', url]),
    ]);
    t.equal(br.code, 0);
    t.match(br.stderr, `> Accept: */*\n> Accept-Encoding: ${ACCEPT_ENCODING}\n>\n`, 'sent after the defaults, as curl');
    t.match(br.stderr, '< Content-Encoding: br\n');
    const brBytes = zlib.brotliCompressSync(TEXT).length;
    t.match(br.stderr, `* ${brBytes} body bytes (Content-Length), ${TEXT.length} once decoded (br)\n`);
    t.equal(br.stdout.toString(), TEXT + String(brBytes), 'the decoded body; %{size_download} counts the bytes received, as curl');

    t.equal(gzip.code, 0);
    t.match(gzip.stderr, '> Accept-Encoding: gzip\n', '-H replaces the default');
    t.match(gzip.stderr, '< Content-Encoding: gzip\n');
    t.equal(gzip.stdout.toString(), TEXT);

    t.ok(raw.stdout.equals(zlib.gzipSync(TEXT)), 'without --compressed the bytes are written as they came, as curl');
    t.notMatch(plain.stderr, /^> Accept-Encoding/m, 'and nothing is asked for');
    t.equal(plain.stdout.toString(), TEXT);
  });

  t.test('codings the server may stack or alias, and bodies that do not decode: exit 61', async (t) => {
    const LINE = 'hello, decoded\n';
    const bodies: Record<string, [string, Buffer]> = {
      '/deflate': ['deflate', zlib.deflateSync(LINE)],
      '/x-gzip': ['x-gzip', zlib.gzipSync(LINE)],
      '/stacked': ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(LINE))],
      '/identity': ['identity', Buffer.from(LINE)],
      '/empty': ['gzip', Buffer.alloc(0)],
      '/unknown': ['compress', Buffer.from('abc')],
      '/corrupt': ['gzip', Buffer.from('not gzip at all')],
      '/cut': ['gzip', zlib.gzipSync(LINE).subarray(0, 12)],
    };
    const srv = await startRaw((s) =>
      onRequestHeads(s, (head) => {
        const target = head.split(' ')[1] ?? '';
        const [coding, body] = bodies[target] ?? ['identity', Buffer.alloc(0)];
        const chunked = target === '/stacked';
        const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: ${coding}\r\n${framing}\r\n\r\n`);
        if (!chunked) s.write(body);
        else for (const piece of [body.subarray(0, 5), body.subarray(5)]) s.write(`${piece.length.toString(16)}\r\n${piece.toString('latin1')}\r\n`, 'latin1');
        if (chunked) s.write('0\r\n\r\n');
      }),
    );
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const targets = Object.keys(bodies);
    // Eight clients at once on a loaded machine: a generous kill limit, and a hang still shows as one.
    const runs = await Promise.all(targets.map((p) => runClient(['-sS', '--compressed', u + p], {}, 30_000)));
    t.same(targets.filter((_, i) => runs[i]!.killed), [], 'no client hung');
    const got = Object.fromEntries(targets.map((p, i) => [p, [runs[i]!.code, runs[i]!.stdout.toString(), runs[i]!.stderr]]));
    t.same(got['/deflate'], [0, LINE, ''], 'deflate (zlib format, RFC 9110)');
    t.same(got['/x-gzip'], [0, LINE, ''], 'x-gzip is gzip');
    t.same(got['/stacked'], [0, LINE, ''], '"gzip, br": br undone first, then gzip, across chunks');
    t.same(got['/identity'], [0, LINE, '']);
    t.same(got['/empty'], [0, '', ''], 'an empty body needs no decoding');
    t.same(got['/unknown'], [61, '', 'fleetserve-client: cannot decode Content-Encoding "compress" (--compressed decodes ' + ACCEPT_ENCODING + ')\n']);
    t.same(got['/corrupt'], [61, '', 'fleetserve-client: cannot decode the gzip body: incorrect header check\n']);
    t.equal(got['/cut']![0], 61, 'a gzip stream cut short is an error, not a silent truncation');
    t.equal(got['/cut']![2], 'fleetserve-client: cannot decode the gzip body: unexpected end of file\n');

    const tty = await runClient(['-s', '--compressed', `${u}/x-gzip`], { FLEETSERVE_CLIENT_FORCE_STDOUT_TTY: '1' });
    t.same([tty.stdout.toString(), tty.stderr], [LINE, ''], 'on a terminal the decoded bytes are checked for NUL, not the gzip bytes');
  });
}
