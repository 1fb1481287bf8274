// The start-up line, the default root, and the terminal (pretty) log format.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { listeningRecord, listenUrls } from '../../src/process/listen-urls';
import { prettyMessage, wrapClauses } from '../../src/logs/logger';
import { spawnServer } from '../fixtures/server';

const interfaces = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
  eth0: [
    { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    { address: '2001:db8::5', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: '2001:db8::5/64', scopeid: 0 },
    { address: '192.0.2.7', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.0.2.7/24' },
  ],
} as unknown as ReturnType<typeof os.networkInterfaces>;

t.test('URLs a person can open', (t) => {
  t.same(listenUrls('0.0.0.0', 6789, interfaces), ['http://localhost:6789/', 'http://192.0.2.7:6789/'], '0.0.0.0: localhost and the IPv4 addresses');
  t.same(listenUrls('::', 80, interfaces), ['http://localhost:80/', 'http://192.0.2.7:80/', 'http://[2001:db8::5]:80/'], ':: adds global IPv6, never link-local');
  t.same(listenUrls('127.0.0.1', 1, interfaces), ['http://127.0.0.1:1/'], 'a bound address is itself');
  t.same(listenUrls('::1', 1, interfaces), ['http://[::1]:1/']);
  t.same(listenUrls('0.0.0.0', 1, {}), ['http://localhost:1/'], 'no network interfaces');
  const r = listeningRecord('0.0.0.0', 6789, 2, interfaces);
  t.same(r.fields, { url: 'http://localhost:6789/', urls: ['http://localhost:6789/', 'http://192.0.2.7:6789/'], host: '0.0.0.0', port: 6789, workers: 2 });
  t.equal(r.msg, 'listening on http://localhost:6789/ and http://192.0.2.7:6789/ with 2 workers');
  t.equal(listeningRecord('127.0.0.1', 5, 1, interfaces).msg, 'listening on http://127.0.0.1:5/ with 1 worker');
  t.equal(listeningRecord('127.0.0.1', 5, 0, interfaces).msg, 'listening on http://127.0.0.1:5/ (single process)');
  t.end();
});

t.test('a pretty line is the message and only what it does not say', (t) => {
  const base = { level: 30, time: 1, pid: 9, hostname: 'h' };
  t.equal(
    prettyMessage({ ...base, worker: 2, kind: 'access', method: 'GET', path: '/', status: 200, bytes: 615, ms: 7.3, remote: '127.0.0.1', msg: 'GET / 200 615 B 7.3 ms 127.0.0.1' }),
    'worker 2: GET / 200 615 B 7.3 ms 127.0.0.1',
  );
  t.equal(prettyMessage({ ...base, worker: 'primary', workerId: 1, workerPid: 77, code: 0, signal: null, msg: 'worker 1 exited (0)' }), 'worker 1 exited (0)  workerPid=77');
  t.equal(prettyMessage({ ...base, worker: 1, err: { type: 'Error', message: 'EMFILE', stack: 'x' }, msg: 'accept failed' }), 'worker 1: accept failed  err=EMFILE');
  t.equal(prettyMessage({ ...base, worker: 1, reason: 'primary', open: 3, idle: 2, timeoutMs: 10000, msg: 'draining: 3 open connections, 2 idle closed now' }), 'worker 1: draining: 3 open connections, 2 idle closed now');
  const stop = { ...base, worker: 'primary', signal: 'SIGINT', workers: 2, drainTimeoutMs: 5555, preDrainDelayMs: 0, reloading: false };
  t.equal(
    prettyMessage({ ...stop, msg: 'SIGINT: draining 2 workers, up to 5555 ms; Ctrl+C again to stop at once' }),
    'SIGINT: draining 2 workers, up to 5555 ms;\n    Ctrl+C again to stop at once',
    'no reloading=false, no preDrainDelayMs=0; two rows of 80 columns',
  );
  t.equal(
    prettyMessage({ ...stop, signal: 'SIGTERM', reloading: true, msg: 'SIGTERM: draining 2 workers (reload aborted), up to 5555 ms; a second SIGTERM stops at once' }),
    'SIGTERM: draining 2 workers (reload aborted), up to 5555 ms;\n    a second SIGTERM stops at once',
  );
  t.equal(wrapClauses('short; enough'), 'short; enough', 'a message that fits stays one row');
  t.equal(wrapClauses(`${'a'.repeat(40)}; ${'b'.repeat(16)}; ${'c'.repeat(70)}; d`), `${'a'.repeat(40)}; ${'b'.repeat(16)};\n    ${'c'.repeat(70)}; d`, 'rows of at most 59 and 76 columns (with their ";")');
  t.equal(wrapClauses('x'.repeat(100)), 'x'.repeat(100), 'one long clause stays whole');
  const r = listeningRecord('0.0.0.0', 6789, 2, interfaces);
  t.equal(
    prettyMessage({ ...base, worker: 'primary', ...r.fields, scheduling: 'none', root: '/srv/www', msg: r.msg }),
    'listening with 2 workers on 0.0.0.0 port 6789; open:\n    serving /srv/www\n    http://localhost:6789/\n    http://192.0.2.7:6789/',
  );
  t.end();
});

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-start-')));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('outside a project: serves the current directory and says so; pretty lines carry no JSON', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'a.txt'), 'from the current directory\n');
  const s = spawnServer({ cwd: dir, args: ['-a', '127.0.0.1', '-p', '0', '--workers', '1', '--log-pretty', 'true'] });
  t.teardown(() => s.kill());
  for (let i = 0; i < 200 && !/http:\/\/127\.0\.0\.1:\d+\//.test(s.stdout()); i++) await new Promise((r) => setTimeout(r, 25));
  const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(s.stdout())?.[1]);
  t.ok(port > 0, `a URL on its own line: ${s.stdout()}`);
  const body = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.end('GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let got = '';
    sock.setEncoding('utf8').on('data', (d) => (got += d)).on('end', () => resolve(got)).on('error', reject);
  });
  t.match(body, /^HTTP\/1\.1 200 OK\r\n[\s\S]*from the current directory\n$/);
  for (let i = 0; i < 100 && !/GET \/a\.txt/.test(s.stdout()); i++) await new Promise((r) => setTimeout(r, 25));
  s.signalGroup('SIGINT');
  const r = await s.exited(10_000);
  t.same(r, { code: 0, signal: null });
  const lines = s.stdout().split('\n').filter(Boolean);
  t.match(lines[0], /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: no \.\/site here: serving the current directory$/);
  t.ok(lines.includes(`    serving ${dir}`), 'the listening block names the directory');
  t.ok(lines.includes(`    http://127.0.0.1:${port}/`));
  t.ok(lines.some((l) => l.endsWith(`listening with 1 worker on 127.0.0.1 port ${port}; open:`)), 'one worker, singular');
  t.ok(lines.some((l) => /INFO: worker 1: GET \/a\.txt 200 \d+ B [\d.]+ ms 127\.0\.0\.1$/.test(l)), 'the access line');
  const stop = lines.findIndex((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: SIGINT: draining 1 worker, up to 10000 ms;$/.test(l));
  t.ok(stop >= 0, 'Ctrl+C: how long the drain may take');
  t.equal(lines[stop + 1], '    Ctrl+C again to stop at once', 'and how to stop at once, on the next row');
  // The client read the whole answer and the server closed its side before SIGINT, so nothing
  // is open — unless, on a loaded machine, the worker has not yet seen the socket close: then one.
  t.ok(lines.some((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: worker 1: drained (0 connections|1 connection) in \d+ ms$/.test(l)), 'drained, with the plural of the count');
  for (const l of lines) {
    t.notMatch(l, /[{}]/, `no JSON object in ${JSON.stringify(l)}`);
    t.ok(l.length <= 80, `fits 80 columns: ${JSON.stringify(l)}`);
  }
  t.equal(s.stderr(), '');
});

t.test('a bind error on a terminal is one line on stderr, no FATAL log line; exit 1', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = tempDir(t);
  for (const workers of ['1', '0']) {
    const s = spawnServer({ cwd: dir, args: ['-a', '127.0.0.1', '-p', String(port), '--workers', workers, '--log-pretty', 'true'] });
    t.teardown(() => s.kill());
    t.same(await s.exited(8000), { code: 1, signal: null }, `workers ${workers}: exit 1`);
    t.equal(s.stderr(), `fleetserve: port ${port} on 127.0.0.1 is already in use\n`, `workers ${workers}: the one stderr line`);
    t.notMatch(s.stdout(), /FATAL|in use|cannot listen/, `workers ${workers}: not repeated on stdout`);
  }
});

t.test('an explicit root that does not exist: exit 2 with a hint', async (t) => {
  const dir = tempDir(t);
  const s = spawnServer({ cwd: dir, args: ['--root', 'public'] });
  t.teardown(() => s.kill());
  t.same(await s.exited(8000), { code: 2, signal: null });
  t.equal(s.stderr(), `fleetserve: root: ${path.join(dir, 'public')} does not exist (pass a directory: fleetserve ./public)\n`);
  const v = spawnServer({ cwd: dir, args: ['-v'] });
  t.teardown(() => v.kill());
  t.same(await v.exited(8000), { code: 2, signal: null }, '-v is refused');
  t.equal(v.stderr(), 'fleetserve: unknown option -v (the version is -V; more logs: --log-level debug)\n');
  const V = spawnServer({ cwd: dir, args: ['-V'] });
  t.teardown(() => V.kill());
  t.same(await V.exited(8000), { code: 0, signal: null });
  t.match(V.stdout(), /^fleetserve \d+\.\d+\.\d+\n$/);
});
