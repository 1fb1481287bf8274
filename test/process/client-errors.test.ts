/** Every error path of fleetserve-client: one line on stderr, and its own exit code. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { parseArgs } from '../../src/client/args';
import { EXIT } from '../../src/client/errors';
import { run } from '../../src/client/run';
import { buildProblem, onRequestHeads, refusedPort, runClient, startHttp, startRaw } from '../fixtures/client/harness';

/** The last line of stderr: where the error is, after any dump. */
const lastLine = (s: string): string => s.trimEnd().split('\n').pop() ?? '';

t.test('exit codes are distinct, and curl\'s for the same failures', async (t) => {
  const values = Object.values(EXIT);
  t.equal(new Set(values).size, values.length);
  t.same(EXIT, {
    OK: 0,
    UNSUPPORTED_PROTOCOL: 1,
    USAGE: 2,
    BAD_URL: 3,
    HOST_NOT_FOUND: 6,
    CONNECT: 7,
    MALFORMED: 8,
    INCOMPLETE: 18,
    HTTP_ERROR: 22,
    OUTPUT: 23,
    TIMEOUT: 28,
    TLS_HANDSHAKE: 35,
    INTERNAL: 43,
    TOO_MANY_REDIRECTS: 47,
    EMPTY_REPLY: 52,
    RESET: 56,
    CERTIFICATE: 60,
    BAD_CONTENT_ENCODING: 61,
    CA_FILE: 77,
  }, 'the documented table');
});

t.test('connect timeout (in-process, with a connection that never completes)', async (t) => {
  const parsed = parseArgs(['-v', '--connect-timeout', '150', 'http://127.0.0.1:9/']);
  if (parsed.kind !== 'run') throw new Error('bad test arguments');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  let socket: net.Socket | undefined;
  const started = Date.now();
  const code = await run(parsed.options, {
    stdout,
    stderr,
    stdoutIsTTY: false,
    progressAllowed: false,
    columns: 80,
    userAgent: 'test',
    // A socket that is never connected stands in for a SYN that gets no answer.
    connect: () => (socket = new net.Socket()),
    now: () => Date.now(),
  });
  t.equal(code, EXIT.TIMEOUT);
  t.equal(err, '* connecting to 127.0.0.1 port 9\nfleetserve-client: connection to 127.0.0.1:9 timed out after 150 ms\n');
  t.ok(Date.now() - started >= 140, 'waited for the timeout');
  t.equal(socket?.destroyed, true, 'the pending socket was destroyed');
});

t.test('-m while connecting (in-process, with a connection that never completes): the nearer limit, and its message', async (t) => {
  const attempt = async (argv: string[]): Promise<[number, string, number]> => {
    const parsed = parseArgs([...argv, 'http://127.0.0.1:9/']);
    if (parsed.kind !== 'run') throw new Error('bad test arguments');
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const started = Date.now();
    const code = await run(parsed.options, {
      stdout: new PassThrough(),
      stderr,
      stdoutIsTTY: false,
      progressAllowed: false,
      columns: 80,
      userAgent: 'test',
      connect: () => new net.Socket(),
      now: () => performance.now(),
    });
    return [code, err, Date.now() - started];
  };
  const [byMaxTime, byConnect] = await Promise.all([
    attempt(['-m', '0.2', '--connect-timeout', '5000']),
    attempt(['-m', '5', '--connect-timeout', '200']),
  ]);
  t.same(byMaxTime.slice(0, 2), [28, 'fleetserve-client: timed out: --max-time 0.2 s reached while connecting to 127.0.0.1:9\n']);
  t.ok(byMaxTime[2] >= 190 && byMaxTime[2] < 400, `-m 0.2 fired after ${byMaxTime[2]} ms`);
  t.same(byConnect.slice(0, 2), [28, 'fleetserve-client: connection to 127.0.0.1:9 timed out after 200 ms\n']);
  t.ok(byConnect[2] < 400, `--connect-timeout 200 fired after ${byConnect[2]} ms, not at -m`);
});

const problem = buildProblem();
if (problem) {
  t.fail(problem);
} else {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-client-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  t.test('usage errors: exit 2, one line, nothing on stdout', async (t) => {
    const cases: [string[], string][] = [
      [[], 'fleetserve-client: missing URL (or HOST PORT PATH) (see --help)\n'],
      [['127.0.0.1', 'port', 'x'], 'fleetserve-client: bad port "port" (1 to 65535) (see --help)\n'],
      [['-H', 'NoColonHere', 'http://127.0.0.1:1/'], ''],
      [['http://127.0.0.1:1/a', 'http://127.0.0.2:1/b'], ''],
      [['--frobnicate'], 'fleetserve-client: unknown option --frobnicate (see --help)\n'],
      [['--timeout', 'x', 'http://127.0.0.1:1/'], ''],
    ];
    const runs = await Promise.all(cases.map(([argv]) => runClient(argv)));
    cases.forEach(([argv, expected], i) => {
      const r = runs[i]!;
      const name = JSON.stringify(argv);
      t.equal(r.code, 2, name);
      t.equal(r.stdout.length, 0, `${name}: no stdout`);
      t.match(r.stderr, /^fleetserve-client: [^\n]+\n$/, `${name}: one line`);
      if (expected) t.equal(r.stderr, expected, name);
    });
  });

  t.test('URLs the client cannot use: unsupported protocol 1, malformed URL 3, one line, nothing on stdout', async (t) => {
    const cases: [string[], number, string][] = [
      [['gopher://127.0.0.1:6789/'], 1, 'fleetserve-client: unsupported scheme gopher:// (only http:// and https:// are supported) (see --help)\n'],
      [['-s', 'ftp://127.0.0.1/'], 1, 'fleetserve-client: unsupported scheme ftp:// (only http:// and https:// are supported) (see --help)\n'],
      [['http://127.0.0.1:99999/'], 3, 'fleetserve-client: invalid URL "http://127.0.0.1:99999/" (see --help)\n'],
      [['-s', 'http://a b/'], 3, 'fleetserve-client: invalid URL "http://a b/" (see --help)\n'],
    ];
    const runs = await Promise.all(cases.map(([argv]) => runClient(argv)));
    cases.forEach(([argv, code, expected], i) => {
      const r = runs[i]!;
      t.same([r.code, r.stderr, r.stdout.length], [code, expected, 0], JSON.stringify(argv));
    });
  });

  t.test('connection refused: exit 7', async (t) => {
    const port = await refusedPort();
    const r = await runClient(['127.0.0.1', String(port), '/']);
    t.equal(r.code, 7);
    t.equal(lastLine(r.stderr), `fleetserve-client: connection refused by 127.0.0.1:${port}`);
    const [s, sS, vs] = await Promise.all([
      runClient(['-s', `http://127.0.0.1:${port}/`]),
      runClient(['-sS', `http://127.0.0.1:${port}/`]),
      runClient(['-v', '--silent', `http://127.0.0.1:${port}/`]),
    ]);
    t.same([s.code, s.stderr], [7, ''], '-s: no error line, as curl -s');
    t.same([sS.code, sS.stderr], [7, `fleetserve-client: connection refused by 127.0.0.1:${port}\n`], '-sS: only the error line');
    t.equal(vs.stderr, `* connecting to 127.0.0.1 port ${port}\n`, '-s does not mute -v (curl -sv), but the error line is muted');
  });

  t.test('host not found: exit 6', async (t) => {
    const r = await runClient(['-sS', 'http://nosuchhost.invalid:6789/x']);
    t.equal(r.code, 6);
    t.equal(r.stderr, 'fleetserve-client: host not found: nosuchhost.invalid\n');
  });

  t.test('read timeout: exit 28, before the head and in the middle of the body', async (t) => {
    const srv = await startRaw((s) =>
      onRequestHeads(s, (head) => {
        if (head.startsWith('GET /stall-body ')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
        // /silent: never answers
      }),
    );
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const [silent, body] = await Promise.all([
      runClient(['-sS', '--timeout', '300', `${u}/silent`]),
      runClient(['-s', '-S', '--timeout', '300', `${u}/stall-body`]),
    ]);
    t.equal(silent.code, 28);
    t.equal(silent.stderr, `fleetserve-client: timed out: no data from 127.0.0.1:${srv.port} for 300 ms while waiting for the response\n`);
    t.equal(body.code, 28);
    t.equal(body.stdout.toString(), '0123456789', 'what arrived was written');
    t.equal(body.stderr, `fleetserve-client: timed out: no data from 127.0.0.1:${srv.port} for 300 ms after 10 of 100 body bytes\n`);
  });

  t.test('-m: the whole transfer, however steadily the bytes come; exit 28 on time', async (t) => {
    // Accept to close, as the server sees it: node's start-up is not counted, the client's limit is.
    const lifetimes = new Map<string, number>();
    const srv = await startRaw((s) => {
      const accepted = performance.now();
      let target = '';
      s.on('close', () => lifetimes.set(target, performance.now() - accepted));
      onRequestHeads(s, (head) => {
        target = head.split(' ')[1] ?? '';
        if (target === '/trickle') {
          // A byte every 50 ms: --timeout (idle) never fires, so only -m can end it.
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
          const tick = setInterval(() => s.write('x'), 50);
          s.on('close', () => clearInterval(tick));
        } else if (target === '/slow') {
          setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n'), 500);
        }
        // anything else: never answered
      });
    });
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const [trickle, quiet, idle, bar] = await Promise.all([
      runClient(['-sS', '-m', '0.8', '--timeout', '400', `${u}/trickle`]),
      runClient(['-sS', '--max-time=0.4', `${u}/silent`]),
      runClient(['-sS', '-m', '5', '--timeout', '300', `${u}/idle`]),
      runClient(['-m', '0.8', '-o', path.join(tmp, 'trickle.bin'), `${u}/trickle`], { FLEETSERVE_CLIENT_FORCE_PROGRESS: '1' }),
    ]);
    t.match(bar.stderr, /\r\[[#-]+\] +\d+%[^\n]*\nfleetserve-client: timed out: --max-time 0\.8 s reached [^\n]*\n$/, 'the progress line ends before the error line');
    t.equal(trickle.code, 28);
    t.match(trickle.stderr, new RegExp(`^fleetserve-client: timed out: --max-time 0\\.8 s reached after \\d+ of 1000 body bytes \\(/trickle from 127\\.0\\.0\\.1:${srv.port}\\)\n$`));
    t.equal(trickle.stdout.length, Number(/after (\d+) of/.exec(trickle.stderr)?.[1]), 'what arrived was written');
    const lived = lifetimes.get('/trickle') ?? NaN;
    t.ok(lived >= 700 && lived < 1600, `-m 0.8 ended the transfer after ${Math.round(lived)} ms (not at twice the limit)`);
    t.equal(quiet.code, 28);
    t.equal(quiet.stderr, `fleetserve-client: timed out: --max-time 0.4 s reached while waiting for the response (/silent from 127.0.0.1:${srv.port})\n`);
    t.equal(idle.stderr, `fleetserve-client: timed out: no data from 127.0.0.1:${srv.port} for 300 ms while waiting for the response\n`, 'the nearer limit names itself');

    // Each path is a transfer of its own, as in curl: two of 0.5 s pass -m 0.9 though together they take longer.
    const two = await runClient(['-sS', '-m', '0.9', `${u}/slow`, `${u}/slow`]);
    t.same([two.code, two.stdout.toString(), two.stderr], [0, 'ok\nok\n', '']);
  });

  t.test('connection closed before the end: 18 after part of it, 52 before any byte, 56 on a reset; with the byte counts', async (t) => {
    const srv = await startRaw((s) =>
      onRequestHeads(s, (head) => {
        if (head.startsWith('GET /big ')) {
          s.end('HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n' + 'x'.repeat(512));
        } else if (head.startsWith('GET /chunked ')) {
          s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
        } else if (head.startsWith('GET /reset ')) {
          // The reset comes well after the bytes: a reset that reaches a client (slow to start
          // under CI load) before it read them discards them, and it then reads none.
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc', () => setTimeout(() => s.resetAndDestroy(), 500));
        } else if (head.startsWith('GET /reset-first ')) {
          setTimeout(() => s.resetAndDestroy(), 20);
        } else if (head.startsWith('GET /half-head ')) {
          s.end('HTTP/1.1 200 OK\r\nContent-Le');
        } else {
          s.end();
        }
      }),
    );
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const [big, chunked, reset, empty, resetFirst, halfHead] = await Promise.all([
      runClient([`${u}/big`]),
      runClient(['-sS', `${u}/chunked`]),
      runClient(['-sS', `${u}/reset`]),
      runClient(['-sS', `${u}/empty`]),
      runClient(['-sS', `${u}/reset-first`]),
      runClient(['-sS', `${u}/half-head`]),
    ]);
    t.equal(big.code, 18);
    t.equal(big.stdout.length, 512);
    t.equal(lastLine(big.stderr), `fleetserve-client: connection closed after 512 of 1048576 body bytes (/big from 127.0.0.1:${srv.port})`);
    t.equal(chunked.code, 18);
    t.equal(chunked.stderr, `fleetserve-client: connection closed after 5 body bytes of a chunked body, before its last chunk (/chunked from 127.0.0.1:${srv.port})\n`);
    t.equal(reset.code, 56);
    t.equal(reset.stderr, `fleetserve-client: connection reset after 3 of 100 body bytes (/reset from 127.0.0.1:${srv.port})\n`);
    t.equal(empty.code, 52);
    t.equal(empty.stderr, `fleetserve-client: connection closed before any response (/empty from 127.0.0.1:${srv.port})\n`);
    t.equal(resetFirst.code, 56, 'a reset wins over "empty": it is what happened');
    t.equal(resetFirst.stderr, `fleetserve-client: connection reset before any response (/reset-first from 127.0.0.1:${srv.port})\n`);
    t.equal(halfHead.code, 18);
    t.equal(halfHead.stderr, `fleetserve-client: connection closed in the middle of the response headers (/half-head from 127.0.0.1:${srv.port})\n`);
  });

  t.test('a close mid-body on a long download ends the progress line first', async (t) => {
    const srv = await startRaw((s) =>
      onRequestHeads(s, () => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n');
        s.write(Buffer.alloc(50_000));
        setTimeout(() => s.end(Buffer.alloc(50_000)), 300);
      }),
    );
    t.teardown(srv.close);
    const file = path.join(tmp, 'cut.bin');
    const r = await runClient(['-o', file, `http://127.0.0.1:${srv.port}/`], { FLEETSERVE_CLIENT_FORCE_PROGRESS: '1' });
    t.equal(r.code, 18);
    t.equal(fs.statSync(file).size, 100_000, 'what arrived is in the file');
    t.match(r.stderr, /\r\[[#-]+\] +\d+%[^\n]*\n(fleetserve-client: connection closed after 100000 of 200000 body bytes[^\n]*)\n$/);
  });

  t.test('malformed responses: exit 8', async (t) => {
    const responses: Record<string, string> = {
      '/garbage': 'SSH-2.0-OpenSSH_9.6\r\n',
      '/header': 'HTTP/1.1 200 OK\r\nThis is not a header\r\n\r\n',
      '/chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n',
      '/both': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      '/cl': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      '/version': 'HTTP/2.0 200 OK\r\n\r\n',
    };
    const srv = await startRaw((s) =>
      onRequestHeads(s, (head) => {
        const target = head.split(' ')[1] ?? '';
        s.end(responses[target] ?? '');
      }),
    );
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const expected: Record<string, string> = {
      '/garbage': 'bad status line "SSH-2.0-OpenSSH_9.6"',
      '/header': 'bad header line "This is not a header"',
      '/chunk': 'bad chunk size "not-hex"',
      '/both': 'response has both Content-Length and Transfer-Encoding',
      '/cl': 'conflicting Content-Length values (3, 4)',
      '/version': 'unsupported HTTP version HTTP/2.0',
    };
    const targets = Object.keys(responses);
    const runs = await Promise.all(targets.map((p) => runClient(['-sS', u + p])));
    targets.forEach((p, i) => {
      const r = runs[i]!;
      t.equal(r.code, 8, p);
      t.equal(r.stderr, `fleetserve-client: malformed response from 127.0.0.1:${srv.port}: ${expected[p]}\n`, p);
    });
  });

  t.test('a hostile status line cannot reach the terminal raw', async (t) => {
    const srv = await startRaw((s) => onRequestHeads(s, () => s.end('HTTP/1.1 200 OK\r\nX-Evil: \x1b]0;pwned\x07\r\nContent-Length: 0\r\n\r\n')));
    t.teardown(srv.close);
    const r = await runClient(['-v', `http://127.0.0.1:${srv.port}/`]);
    t.equal(r.code, 0);
    t.match(r.stderr, '< X-Evil: \\x1b]0;pwned\\x07\n');
    t.notMatch(r.stderr, /\x1b/);
  });

  t.test('HTTP status >= 400: exit 22, the body is still written, later paths still fetched', async (t) => {
    const srv = await startHttp((req, res) => {
      if (req.url === '/missing') {
        res.statusCode = 404;
        res.end('not here\n');
      } else {
        res.end('fine\n');
      }
    });
    t.teardown(srv.close);
    const u = `http://127.0.0.1:${srv.port}`;
    const r = await runClient(['-sS', `${u}/missing`, `${u}/ok`]);
    t.equal(r.code, 22);
    t.equal(r.stdout.toString(), 'not here\nfine\n');
    t.equal(r.stderr, 'fleetserve-client: HTTP 404 Not Found for /missing\n');
    const quiet = await runClient(['-s', `${u}/missing`, `${u}/ok`]);
    t.same([quiet.code, quiet.stdout.toString(), quiet.stderr], [22, 'not here\nfine\n', ''], '-s: the exit code says it, no line');
    const ok = await runClient(['-s', `${u}/ok`]);
    t.equal(ok.code, 0, 'and 0 when all are below 400');
  });

  t.test('the -o file cannot be written: exit 23, and a failed connection leaves the file alone', async (t) => {
    const srv = await startHttp((_req, res) => res.end('x'));
    t.teardown(srv.close);
    const bad = path.join(tmp, 'no-such-dir', 'out.txt');
    const r = await runClient(['--silent', '--show-error', '-o', bad, `http://127.0.0.1:${srv.port}/`]);
    t.equal(r.code, 23);
    t.match(r.stderr, /^fleetserve-client: cannot write .*no-such-dir\/out\.txt: ENOENT[^\n]*\n$/);

    const keep = path.join(tmp, 'keep.txt');
    fs.writeFileSync(keep, 'precious');
    const port = await refusedPort();
    const refused = await runClient(['-s', '-o', keep, `http://127.0.0.1:${port}/`]);
    t.equal(refused.code, 7);
    t.equal(fs.readFileSync(keep, 'utf8'), 'precious');
  });
}
