/** Runs the built fleetserve-client against servers started here, on 127.0.0.1 only. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { buildProblem, onRequestHeads, runClient, sleep, startHttp, startRaw, VERSION } from '../fixtures/client/harness';

const problem = buildProblem();
if (problem) {
  t.fail(problem);
} else {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-client-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  t.test('HOST PORT PATH: the exact dump on stderr and the body on stdout', async (t) => {
    const body = '<h1>Hello World</h1>\n';
    const seen: string[] = [];
    const srv = await startRaw((s) =>
      onRequestHeads(s, (head) => {
        seen.push(head);
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      }),
    );
    t.teardown(srv.close);
    const r = await runClient(['-v', '127.0.0.1', String(srv.port), 'HelloWorld.html']);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), body);
    const p = srv.port;
    t.equal(
      r.stderr,
      `* connecting to 127.0.0.1 port ${p}\n` +
        `* connected to 127.0.0.1 (127.0.0.1) port ${p}\n` +
        `> GET /HelloWorld.html HTTP/1.1\n` +
        `> Host: 127.0.0.1:${p}\n` +
        `> User-Agent: fleetserve-client/${VERSION}\n` +
        `> Accept: */*\n` +
        `>\n` +
        `< HTTP/1.1 200 OK\n` +
        `< Content-Type: text/html\n` +
        `< Content-Length: ${body.length}\n` +
        `<\n` +
        `* ${body.length} body bytes (Content-Length)\n` +
        `* closing connection\n`,
    );
    t.same(seen, [
      `GET /HelloWorld.html HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nUser-Agent: fleetserve-client/${VERSION}\r\nAccept: */*`,
    ], 'the server received exactly the dumped request');
  });

  t.test('chunked body with extensions and trailers (raw server)', async (t) => {
    const srv = await startRaw((s) =>
      onRequestHeads(s, () => {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n');
        s.write('6;lang=en\r\nhello \r\n');
        setTimeout(() => s.write('6 ; last="yes"\r\nworld\n\r\n0\r\nX-Checksum: 42\r\n\r\n'), 30);
      }),
    );
    t.teardown(srv.close);
    const r = await runClient(['-v', `http://127.0.0.1:${srv.port}/chunked`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), 'hello world\n');
    t.match(r.stderr, '< Transfer-Encoding: chunked\n');
    t.match(r.stderr, '* trailer fields:\n< X-Checksum: 42\n* 12 body bytes (chunked, 2 chunks)\n');
  });

  t.test('one byte in one chunk: singular nouns', async (t) => {
    const srv = await startRaw((s) => onRequestHeads(s, () => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n')));
    t.teardown(srv.close);
    const r = await runClient(['-v', `http://127.0.0.1:${srv.port}/one`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), 'x');
    t.match(r.stderr, '<\n* 1 body byte (chunked, 1 chunk)\n');
  });

  t.test('chunked body from node:http', async (t) => {
    const srv = await startHttp((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.write('{"a":');
      setTimeout(() => res.end('1}\n'), 20);
    });
    t.teardown(srv.close);
    const r = await runClient(['-s', `http://127.0.0.1:${srv.port}/`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), '{"a":1}\n');
    t.equal(r.stderr, '', '-s: nothing on stderr');
  });

  t.test('close-delimited body', async (t) => {
    const srv = await startRaw((s) =>
      onRequestHeads(s, () => {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ');
        setTimeout(() => s.end('second part\n'), 30);
      }),
    );
    t.teardown(srv.close);
    const r = await runClient(['-v', `http://127.0.0.1:${srv.port}/`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), 'first part, second part\n');
    t.match(r.stderr, '* 24 body bytes (read until the server closed the connection)\n');
  });

  t.test('100 Continue before the final response is shown and skipped', async (t) => {
    const srv = await startHttp((_req, res) => {
      res.writeContinue();
      setTimeout(() => res.end('final\n'), 20);
    });
    t.teardown(srv.close);
    const r = await runClient(['-v', `http://127.0.0.1:${srv.port}/`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), 'final\n');
    t.match(r.stderr, /< HTTP\/1\.1 100 Continue\n<\n< HTTP\/1\.1 200 OK\n/);
  });

  t.test('204 and 304 end at their head, and the connection is reused after them', async (t) => {
    const srv = await startHttp((req, res) => {
      res.statusCode = req.url === '/nc' ? 204 : req.url === '/nm' ? 304 : 200;
      res.end(res.statusCode === 200 ? 'after\n' : undefined);
    });
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const r = await runClient(['-v', `${u}/nc`, `${u}/nm`, `${u}/ok`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), 'after\n');
    t.match(r.stderr, '* no body (status 204)');
    t.match(r.stderr, '* no body (status 304)');
    t.equal(srv.connections(), 1);
  });

  t.test('keep-alive: two paths over ONE connection', async (t) => {
    const srv = await startHttp((req, res) => res.end(`body of ${req.url}\n`));
    t.teardown(srv.close);
    const r = await runClient(['-v', '127.0.0.1', String(srv.port), 'a.html', '/b.html']);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), 'body of /a.html\nbody of /b.html\n', 'bodies in order');
    t.equal(srv.connections(), 1, 'the server saw one connection');
    t.match(r.stderr, `* reusing connection to 127.0.0.1:${srv.port}\n> GET /b.html HTTP/1.1\n`);
    t.equal(r.stderr.match(/\* connecting to/g)?.length, 1, 'one connect');
  });

  t.test('Connection: close from the server: reconnect for the next path, and say so', async (t) => {
    const srv = await startHttp((req, res) => {
      res.setHeader('Connection', 'close');
      res.end(`${req.url}\n`);
    });
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const r = await runClient(['-v', `${u}/1`, `${u}/2`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.toString(), '/1\n/2\n');
    t.equal(srv.connections(), 2);
    t.match(r.stderr, `* server closed the connection (Connection: close); reconnecting to 127.0.0.1:${srv.port}\n`);
    t.notMatch(r.stderr, 'reusing connection');
  });

  t.test('a reused connection closed before answering is retried once on a new one', async (t) => {
    const srv = await startRaw((s, index) =>
      onRequestHeads(s, (_head, n) => {
        // The first connection answers once, then drops the next request like an idle timeout would.
        if (index === 0 && n === 1) s.destroy();
        else s.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${index}${n}`);
      }),
    );
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const r = await runClient(['-v', `${u}/a`, `${u}/b`]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.toString(), '0010', 'first from connection 0, second from connection 1');
    t.match(r.stderr, /\* no response to \/b \(connection (closed|reset) before any response\); retrying on a new connection\n/);
    t.equal(srv.connections(), 2);
  });

  t.test('--pipeline: both requests arrive before the first answer', async (t) => {
    let headsBeforeFirstAnswer = -1;
    const srv = await startRaw((s) => {
      const heads: string[] = [];
      onRequestHeads(s, (head) => {
        heads.push(head);
        // Answers nothing until two requests are in: a client that waits for the first answer stalls.
        if (heads.length === 2) {
          headsBeforeFirstAnswer = heads.length;
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfirst\n');
          s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nsecond\n\r\n0\r\n\r\n');
        }
      });
    });
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const r = await runClient(['-v', '--pipeline', '--timeout', '3000', `${u}/1`, `${u}/2`]);
    t.equal(r.code, 0, r.stderr);
    t.equal(headsBeforeFirstAnswer, 2);
    t.equal(r.stdout.toString(), 'first\nsecond\n', 'responses read in order');
    t.equal(srv.connections(), 1);
    t.match(r.stderr, /> GET \/1 HTTP\/1\.1\n(?:> .*\n)*>\n> GET \/2 HTTP\/1\.1\n/, 'both requests dumped before any response');
    t.match(r.stderr, 'pipelining 2 requests');

    const serial = await runClient(['-v', '--timeout', '500', `${u}/1`, `${u}/2`]);
    t.equal(serial.code, 28, 'without --pipeline the same server never answers: timeout');
  });

  t.test('--pipeline against a server that closes after each response: the rest is resent', async (t) => {
    const srv = await startRaw((s) =>
      onRequestHeads(s, (head, n) => {
        // end() half-closes and keeps reading, so the unread requests cause no reset (RFC 9112 §9.6).
        if (n === 0) s.end(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n${head.split(' ')[1]}\n`);
      }),
    );
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const r = await runClient(['-v', '--pipeline', `${u}/1`, `${u}/2`, `${u}/3`]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.toString(), '/1\n/2\n/3\n');
    t.equal(srv.connections(), 3);
    t.match(r.stderr, 'pipelining 3 requests');
    t.match(r.stderr, 'pipelining 2 requests');
    t.equal(r.stderr.match(/reconnecting to/g)?.length, 2);
  });

  t.test('--pipeline: a connection reset before any response is retried once without pipelining', async (t) => {
    const srv = await startRaw((s, index) =>
      onRequestHeads(s, (_head, n) => {
        if (index === 0) {
          if (n === 1) s.resetAndDestroy();
        } else {
          s.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${index}${n}`);
        }
      }),
    );
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const r = await runClient(['-v', '--pipeline', `${u}/a`, `${u}/b`]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.toString(), '1011', 'both answered on the second connection, one at a time');
    t.match(r.stderr, '* no response to /a (connection reset before any response); retrying on a new connection without pipelining\n');
    t.notMatch(r.stderr.split('without pipelining')[1], 'pipelining 2');

    const again = await runClient(['-v', '127.0.0.1', String(srv.port), '/a']);
    t.equal(again.code, 0, 'a fresh connection that is not pipelined is not retried... and here it is answered');
  });

  t.test('-o FILE writes the exact bytes; several bodies are appended in order', async (t) => {
    const blob = crypto.randomBytes(300_000);
    const srv = await startHttp((req, res) => {
      res.setHeader('Content-Type', 'application/octet-stream');
      if (req.url === '/blob') res.end(blob);
      else res.end('tail\n');
    });
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const file = path.join(tmp, 'out.bin');
    fs.writeFileSync(file, 'old content that must be replaced');
    const r = await runClient(['-o', file, `${u}/blob`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.length, 0, 'nothing on stdout');
    t.ok(fs.readFileSync(file).equals(blob), 'file holds exactly the body');

    const two = await runClient(['-s', '-o', file, `${u}/blob`, `${u}/tail`]);
    t.equal(two.code, 0);
    t.ok(fs.readFileSync(file).equals(Buffer.concat([blob, Buffer.from('tail\n')])), 'bodies appended in order');
  });

  t.test('-I sends HEAD, prints the head as output, and frames the bodiless response', async (t) => {
    const methods: string[] = [];
    const srv = await startHttp((req, res) => {
      methods.push(req.method ?? '');
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('Content-Length', '5');
      res.setHeader('X-Path', req.url ?? '');
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    });
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const r = await runClient(['-I', '-s', `${u}/a`, `${u}/b`]);
    t.equal(r.code, 0);
    t.same(methods, ['HEAD', 'HEAD']);
    t.equal(srv.connections(), 1, 'HEAD responses with Content-Length did not confuse the reuse');
    const out = r.stdout.toString();
    t.match(out, /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nContent-Length: 5\r\nX-Path: \/a\r\n/);
    t.match(out, /\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*X-Path: \/b\r\n[^]*\r\n\r\n$/);
    t.notMatch(out, 'hello');
  });

  t.test('-H adds, replaces and drops headers', async (t) => {
    let headers: Record<string, string | string[] | undefined> = {};
    let raw: string[] = [];
    const srv = await startHttp((req, res) => {
      headers = req.headers;
      raw = req.rawHeaders;
      res.end('ok');
    });
    t.teardown(srv.close);
    const r = await runClient(['-v', 
      '-H', 'X-Test: one',
      '-H', 'X-Test: two',
      '--header', 'User-Agent: custom/1',
      '-H', 'Accept:',
      `http://127.0.0.1:${srv.port}/`,
    ]);
    t.equal(r.code, 0);
    t.equal(headers['x-test'], 'one, two', 'repeated -H are all sent');
    t.equal(headers['user-agent'], 'custom/1', 'a default is replaced');
    t.equal(headers['accept'], undefined, '"Accept:" drops the default');
    t.equal(headers['host'], `127.0.0.1:${srv.port}`);
    t.same(raw.filter((_, i) => i % 2 === 0), ['Host', 'User-Agent', 'X-Test', 'X-Test']);
    t.match(r.stderr, '> X-Test: one\n> X-Test: two\n');

    const plain = await runClient(['-v', `http://127.0.0.1:${srv.port}/`]);
    t.equal(plain.code, 0);
    t.equal(headers['user-agent'], `fleetserve-client/${VERSION}`, 'default User-Agent');
    t.equal(headers['accept'], '*/*', 'default Accept');
  });

  t.test('a binary body is not dumped to a terminal unless -o -', async (t) => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    const srv = await startHttp((req, res) => {
      if (req.url === '/png') res.setHeader('Content-Type', 'image/png');
      if (req.url === '/nul') res.setHeader('Content-Type', 'text/plain');
      if (req.url === '/late-nul') {
        res.write('text first\n');
        setTimeout(() => res.end(Buffer.from('then \0 binary')), 30);
        return;
      }
      res.end(req.url === '/text' ? 'plain text\n' : req.url === '/nul' ? Buffer.from('a\0b') : png);
    });
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const tty = { FLEETSERVE_CLIENT_FORCE_STDOUT_TTY: '1' };

    const [held, nul, late, forced, text, piped] = await Promise.all([
      runClient(['-s', `${u}/png`], tty),
      runClient(['-s', `${u}/nul`], tty),
      runClient(['-s', `${u}/late-nul`], tty),
      runClient(['-s', '-o', '-', `${u}/png`], tty),
      runClient(['-s', `${u}/text`], tty),
      runClient(['-s', `${u}/png`]),
    ]);
    t.equal(held.code, 0);
    t.equal(held.stdout.length, 0, 'nothing on the terminal');
    t.equal(
      held.stderr,
      'fleetserve-client: not printing the body (Content-Type image/png, 12 B) to the terminal: it is binary; use -o FILE to save it, or -o - to print it anyway\n',
    );

    t.equal(nul.stdout.length, 0, 'text/plain with a NUL byte is held back too');
    t.equal(
      nul.stderr,
      'fleetserve-client: not printing the body (it contains NUL bytes) to the terminal: it is binary; use -o FILE to save it, or -o - to print it anyway\n',
    );

    t.equal(late.stdout.toString(), 'text first\n', 'text before the NUL was printed');
    t.match(late.stderr, 'not printing the rest of the body (it contains NUL bytes)');

    t.ok(forced.stdout.equals(png), '-o - prints it anyway');
    t.equal(forced.stderr, '');

    t.equal(text.stdout.toString(), 'plain text\n', 'text is printed on a terminal');

    t.ok(piped.stdout.equals(png), 'a pipe gets the bytes');
  });

  t.test('progress bar: present when forced, absent when piped or -s', async (t) => {
    const piece = Buffer.alloc(16 * 1024, 0x61);
    const pieces = 8;
    const srv = await startHttp((_req, res) => {
      res.setHeader('Content-Length', String(piece.length * pieces));
      let sent = 0;
      const tick = (): void => {
        res.write(piece);
        if (++sent === pieces) res.end();
        else setTimeout(tick, 90);
      };
      tick();
    });
    t.teardown(srv.close);
    const url = `http://127.0.0.1:${srv.port}/big`;
    const file = path.join(tmp, 'progress.bin');

    const [forced, piped, silent, off] = await Promise.all([
      runClient(['-o', file, url], { FLEETSERVE_CLIENT_FORCE_PROGRESS: '1' }),
      runClient(['-o', file + '.2', url]),
      runClient(['-s', '-o', file + '.3', url], { FLEETSERVE_CLIENT_FORCE_PROGRESS: '1' }),
      runClient(['-o', file + '.4', url], { FLEETSERVE_CLIENT_FORCE_PROGRESS: '0' }),
    ]);
    t.equal(forced.code, 0);
    t.equal(fs.statSync(file).size, piece.length * pieces);
    t.match(forced.stderr, /\r\[#+-*\] +\d+%  [\d.]+ KiB \/ 128\.0 KiB  [\d.]+ KiB\/s  ETA \d+:\d\d/, 'an update with ETA');
    t.match(forced.stderr, /\r\[#+\] 100%  128\.0 KiB \/ 128\.0 KiB  [\d.]+ KiB\/s  done in [\d.]+s *\n/, 'the final line');

    t.equal(piped.code, 0);
    t.notMatch(piped.stderr, /\r|%|ETA/, 'no progress when stderr is not a terminal');

    t.equal(silent.stderr, '', '-s wins over a terminal');

    t.notMatch(off.stderr, /\r|%/, 'FORCE_PROGRESS=0 disables it');
  });

  t.test('--help and --version', async (t) => {
    const help = await runClient(['--help']);
    t.equal(help.code, 0);
    t.match(help.stdout.toString(), /^Usage: fleetserve-client \[options\] URL/);
    t.match(help.stdout.toString(), '--pipeline');
    t.match(help.stdout.toString(), /^ {6}--cacert FILE {10}https:\/\/: trust the CA certificates in the PEM$/m, '--cacert');
    t.match(help.stdout.toString(), /^ {2}-k, --insecure {13}https:\/\/: go on when/m, '-k');
    t.match(help.stdout.toString(), /^ {2}35 {2}TLS handshake failed\n {2}43 /m, 'the exit-code table, 35 and 60 in it');
    t.match(help.stdout.toString(), /^ {2}60 {2}the server certificate cannot be verified/m);
    t.equal(help.stderr, '');
    const v = await runClient(['--version']);
    t.equal(v.stdout.toString(), `fleetserve-client ${VERSION}\n`);
  });

  t.test('an empty body on a 200 prints nothing and succeeds', async (t) => {
    const srv = await startHttp((_req, res) => res.end());
    t.teardown(srv.close);
    const r = await runClient(['-v', `http://127.0.0.1:${srv.port}/`]);
    t.equal(r.code, 0);
    t.equal(r.stdout.length, 0);
    t.match(r.stderr, '* 0 body bytes (Content-Length)');
    await sleep(0);
  });
}
