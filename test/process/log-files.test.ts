// Log files as logrotate uses them: accessLogFile / logFile, rotated by renaming the file and
// sending SIGUSR1 (like nginx -s reopen). Under load, every request is in exactly one of the
// files, as one whole JSON line; SIGUSR1 never kills a process or starts Node's inspector.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { makeSite, rawExchange, spawnServer, startServer, type LogLine } from '../fixtures/server';
import { poll, sleep } from '../fixtures/wire';
import { listeningPortsOf, pipelinedLoad, processTree } from '../fixtures/ops';
import { which } from '../fixtures/lines';
import { manualText } from '../fixtures/manual';

const A = 'A body\n';
let root: string;
t.before(() => {
  root = makeSite(t, { 'a.txt': A });
});

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every line of a file, each parsed as JSON (a partial or broken line fails the test). */
function jsonLines(file: string): Record<string, unknown>[] {
  const text = fs.readFileSync(file, 'utf8');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${file} ends in a partial line`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`${file}: not a JSON line: ${JSON.stringify(line.slice(0, 200))}`);
      }
    });
}

const isListening = (l: LogLine | Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('listening on');

t.test('rotation under load: every request exactly once across the rotated files', async (t) => {
  const dir = tmpDir(t);
  const access = path.join(dir, 'access.log');
  const s = await startServer(t, { root, workers: 2, args: ['--access-log-file', access, '--scheduling', 'rr'] });

  const CONNECTIONS = 4;
  const PER_CONNECTION = 600;
  const total = CONNECTIONS * PER_CONNECTION;
  let done = 0;
  const rotations: Promise<void>[] = [];
  const rotateAt = [Math.floor(total / 3), Math.floor((2 * total) / 3)];
  const rotate = async (n: number) => {
    // The workers create the new file when they reopen; the next rotation waits for it.
    await poll(async () => fs.existsSync(access), 100, 20);
    fs.renameSync(access, `${access}.${n}`);
    process.kill(s.pid, 'SIGUSR1');
  };
  const progress = () => {
    done += 10;
    while (rotateAt.length > 0 && done >= rotateAt[0]!) {
      rotateAt.shift();
      rotations.push(rotate(2 - rotateAt.length));
    }
  };
  const sent = await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => pipelinedLoad(s.port, '/a.txt', `c${c}`, PER_CONNECTION, 10, progress)));
  await Promise.all(rotations);
  t.equal(sent.reduce((a, b) => a + b, 0), total, 'every request answered');

  process.kill(s.pid, 'SIGTERM'); // the drain flushes what is still batched
  t.same(await s.exited(), { code: 0, signal: null });

  const files = [`${access}.1`, `${access}.2`, access];
  const seen = new Map<string, number>();
  const perFile: number[] = [];
  for (const f of files) {
    const lines = jsonLines(f);
    perFile.push(lines.length);
    for (const l of lines) {
      if (l.kind !== 'access') t.fail(`not an access line: ${JSON.stringify(l)}`);
      seen.set(l.path as string, (seen.get(l.path as string) ?? 0) + 1);
    }
  }
  t.ok(perFile.every((n) => n > 0), `each file holds requests (${perFile.join(' / ')})`);
  let missing = 0;
  let twice = 0;
  for (let c = 0; c < CONNECTIONS; c++) {
    for (let i = 0; i < PER_CONNECTION; i++) {
      const n = seen.get(`/a.txt?q=c${c}-${i}`) ?? 0;
      if (n === 0) missing++;
      if (n > 1) twice++;
    }
  }
  t.equal(missing, 0, 'no request is missing');
  t.equal(twice, 0, 'no request is logged twice');
  t.equal([...seen.values()].reduce((a, b) => a + b, 0), total, 'no other lines');
  t.equal(s.logs.filter((l) => l.kind === 'access').length, 0, 'no access line on stdout');
  t.equal(s.logs.filter((l) => l.msg === 'SIGUSR1: log files reopened').length, 2, 'the primary says so on each rotation');
});

t.test('an access line has the fields of a combined log, JSON-escaped', async (t) => {
  const dir = tmpDir(t);
  const access = path.join(dir, 'access.log');
  const s = await startServer(t, { root, workers: 0, args: ['--access-log-file', access] });
  await rawExchange(s.port, 'GET /a.txt?x=1 HTTP/1.0\r\nReferer: http://example.com/"quoted"\\back\r\nUser-Agent: agent "x" \\ y\r\n\r\n');
  await rawExchange(s.port, 'HEAD /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  process.kill(s.pid, 'SIGTERM');
  t.same(await s.exited(), { code: 0, signal: null });
  const [get, head] = jsonLines(access);
  t.same(Object.keys(get!), ['level', 'time', 'pid', 'worker', 'kind', 'method', 'path', 'protocol', 'listener', 'status', 'bytes', 'completed', 'ms', 'remote', 'referer', 'userAgent']);
  t.match(get, { worker: 'single', method: 'GET', path: '/a.txt?x=1', protocol: 'HTTP/1.0', listener: 'http', status: 200, bytes: A.length, remote: '127.0.0.1', referer: 'http://example.com/"quoted"\\back', userAgent: 'agent "x" \\ y' });
  t.match(head, { method: 'HEAD', protocol: 'HTTP/1.1', status: 200, bytes: 0, referer: '', userAgent: '' });
  t.ok(typeof get!.ms === 'number' && !Number.isNaN(Date.parse(get!.time as string)));
});

t.test('logFile: lifecycle lines go to the file, and to the new file after SIGUSR1', async (t) => {
  const dir = tmpDir(t);
  const logFile = path.join(dir, 'fleetserve.log');
  const access = path.join(dir, 'access.log');
  const s = spawnServer({ args: ['--root', root, '--host', '127.0.0.1', '--port', '0', '--workers', '2', '--log-pretty', 'false', '--log-file', logFile, '--access-log-file', access] });
  t.teardown(() => s.kill());
  const listening = await poll(async () => jsonLines(logFile).find(isListening), 100, 100);
  t.ok(listening, 'the listening line is in the log file');
  t.equal(listening!.worker, 'primary');
  t.equal(s.stdout(), '', 'nothing on stdout');

  fs.renameSync(logFile, `${logFile}.1`);
  process.kill(s.pid, 'SIGUSR1');
  const reopened = await poll(async () => fs.existsSync(logFile) && jsonLines(logFile).find((l) => l.msg === 'SIGUSR1: log files reopened'), 50, 100);
  t.ok(reopened, 'the reopen is logged in the new file');
  const port = (listening as { port: number }).port;
  t.match((await rawExchange(port, 'GET /a.txt HTTP/1.0\r\n\r\n')).data.toString('latin1'), /^HTTP\/1\.1 200 /, 'still serving');

  process.kill(s.pid, 'SIGTERM');
  t.same(await s.exited(), { code: 0, signal: null });
  const before = jsonLines(`${logFile}.1`);
  const after = jsonLines(logFile);
  t.ok(before.some(isListening), 'the start is in the rotated file');
  t.notOk(after.some(isListening), '...and only there');
  const drained = after.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('drained '));
  t.same(drained.map((l) => l.worker).sort(), [1, 2], 'both workers log their drain into the new file');
  t.ok(after.some((l) => l.msg === 'all workers drained; exiting'), 'the primary too');
  t.equal(jsonLines(access).length, 1, 'the one request is in the access log');
  t.equal(s.stdout(), '', 'still nothing on stdout');
});

t.test('single process: SIGUSR1 reopens the access log too', async (t) => {
  const dir = tmpDir(t);
  const access = path.join(dir, 'access.log');
  const s = await startServer(t, { root, workers: 0, args: ['--access-log-file', access] });
  await rawExchange(s.port, 'GET /a.txt?before HTTP/1.0\r\n\r\n');
  fs.renameSync(access, `${access}.1`);
  process.kill(s.pid, 'SIGUSR1');
  await s.waitForLog((l) => l.msg === 'SIGUSR1: log files reopened');
  await rawExchange(s.port, 'GET /a.txt?after HTTP/1.0\r\n\r\n');
  process.kill(s.pid, 'SIGTERM');
  t.same(await s.exited(), { code: 0, signal: null });
  t.same(jsonLines(`${access}.1`).map((l) => l.path), ['/a.txt?before'], 'the rotated file has the request before');
  t.same(jsonLines(access).map((l) => l.path), ['/a.txt?after'], 'the new file the one after');
});

t.test('a log file that cannot be reopened: an error line, and the old file stays in use', async (t) => {
  const dir = tmpDir(t);
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const s = await startServer(t, { root, workers: 0, args: ['--access-log-file', path.join(logs, 'access.log')] });
  await rawExchange(s.port, 'GET /a.txt?one HTTP/1.0\r\n\r\n');
  fs.renameSync(logs, `${logs}-old`); // the directory is gone: the path cannot be opened
  process.kill(s.pid, 'SIGUSR1');
  const err = await s.waitForLog((l) => l.level === 50);
  t.match(err.msg, /^cannot reopen the log files: ENOENT; still writing to the old ones$/);
  await rawExchange(s.port, 'GET /a.txt?two HTTP/1.0\r\n\r\n');
  process.kill(s.pid, 'SIGTERM');
  t.same(await s.exited(), { code: 0, signal: null }, 'still a clean drain');
  t.same(jsonLines(path.join(`${logs}-old`, 'access.log')).map((l) => l.path), ['/a.txt?one', '/a.txt?two'], 'both lines in the old file');
});

t.test('SIGUSR1 neither kills a process nor starts the inspector', async (t) => {
  for (const workers of [2, 0]) {
    const s = await startServer(t, { root, workers });
    const pids = processTree(s.pid);
    t.equal(pids.length, workers === 0 ? 1 : 3, `workers ${workers}: processes`);
    process.kill(s.pid, 'SIGUSR1');
    s.signalGroup('SIGUSR1'); // as `kill -USR1 -PGID` would: every worker gets it too
    await sleep(200); // a process SIGUSR1 kills dies at once, and the inspector says so at once
    t.same(processTree(s.pid), pids, `workers ${workers}: every process still runs`);
    t.match((await rawExchange(s.port, 'GET /a.txt HTTP/1.0\r\n\r\n')).data.toString('latin1'), /^HTTP\/1\.1 200 /, `workers ${workers}: still serving`);
    t.notMatch(s.stderr(), /Debugger listening/, `workers ${workers}: no inspector`);
    t.same(listeningPortsOf(pids), [s.port], `workers ${workers}: no inspector port (9229) or any other opened`);
  }
});

t.test('a log file that cannot be written is a configuration error (exit 2)', async (t) => {
  const dir = tmpDir(t);
  const cases: [string[], RegExp][] = [
    [['--access-log-file', path.join(dir, 'no-such-dir', 'access.log')], /^fleetserve: accessLogFile: directory .*no-such-dir does not exist\n$/],
    [['--log-file', dir], /^fleetserve: logFile: .* is a directory\n$/],
  ];
  for (const [args, err] of cases) {
    const s = spawnServer({ args: ['--root', root, '--host', '127.0.0.1', '--port', '0', '--workers', '1', ...args] });
    t.teardown(() => s.kill());
    t.same(await s.exited(), { code: 2, signal: null }, args.join(' '));
    t.match(s.stderr(), err);
    t.notOk(s.logs.some(isListening));
  }
});

const logrotate = which('logrotate');
/** The manual's logrotate configurations (fenced blocks with a postrotate), in order. */
function readmeLogrotateBlocks(): string[] {
  const readme = manualText();
  return [...readme.matchAll(/^```\n(\/var\/log\/fleetserve\/[^\n]* \{\n[\s\S]*?\n\})\n```$/gm)].map((m) => m[1]!);
}

t.test("the manual's logrotate configuration (docs/operations.md), run by logrotate -f against a running fleetserve", { skip: logrotate ? false : 'logrotate not found: apt-get install logrotate (.ci/run does)' }, async (t) => {
  const blocks = readmeLogrotateBlocks();
  t.equal(blocks.length, 2, 'two configurations: systemd and a plain install');
  const plain = blocks.find((b) => b.includes('/run/fleetserve.pid'));
  t.ok(plain, 'the plain-install one signals the pid file');
  t.match(blocks.find((b) => b !== plain) ?? '', /\n {8}systemctl kill --kill-whom=main -s USR1 fleetserve\.service\n/, 'the systemd one signals the unit\'s main process');
  const dir = tmpDir(t);
  const at = (text: string) => text.replaceAll('/var/log/fleetserve/', `${dir}/`).replaceAll('/run/fleetserve.pid', `${dir}/fleetserve.pid`);
  const conf = path.join(dir, 'logrotate.conf');
  fs.writeFileSync(conf, at(plain!) + '\n', { mode: 0o644 });
  // The systemd one at least parses (systemctl cannot run here): -d changes nothing.
  const sd = path.join(dir, 'logrotate-systemd.conf');
  fs.writeFileSync(sd, at(blocks.find((b) => b !== plain)!) + '\n', { mode: 0o644 });
  const check = spawnSync(logrotate!, ['-d', '-s', path.join(dir, 'state-d'), sd], { encoding: 'utf8' });
  t.equal(check.status, 0, 'logrotate -d accepts the systemd configuration');
  t.notMatch(check.stderr, /error/i, 'without an error');

  const access = path.join(dir, 'access.log');
  const logFile = path.join(dir, 'fleetserve.log');
  const s = spawnServer({ args: ['--root', root, '--host', '127.0.0.1', '--port', '0', '--workers', '2', '--log-pretty', 'false', '--access-log-file', access, '--log-file', logFile, '--pid-file', path.join(dir, 'fleetserve.pid')] });
  t.teardown(() => s.kill());
  const listening = await poll(async () => fs.existsSync(logFile) && jsonLines(logFile).find(isListening), 100, 100);
  t.ok(listening, 'started');
  const port = (listening as { port: number }).port;
  const get = async (p: string) => t.match((await rawExchange(port, `GET ${p} HTTP/1.0\r\n\r\n`)).data.toString('latin1'), /^HTTP\/1\.1 404 /);
  for (let i = 0; i < 20; i++) await get(`/before-${i}`);
  // Access lines reach the file within a second (batched): rotate once they are all there.
  t.ok(await poll(async () => jsonLines(access).length === 20, 50, 100), 'the 20 lines are in the access log');

  const rotated = spawnSync(logrotate!, ['-f', '-s', path.join(dir, 'state'), conf], { encoding: 'utf8' });
  t.equal(rotated.status, 0, `logrotate -f exits 0: ${rotated.stderr}`);
  t.equal(rotated.stderr, '', 'and says nothing');
  t.ok(fs.existsSync(`${access}.1`) && fs.existsSync(`${logFile}.1`), 'both files moved to .1 (delaycompress: not compressed yet)');
  const reopened = await poll(async () => fs.existsSync(logFile) && jsonLines(logFile).find((l) => l.msg === 'SIGUSR1: log files reopened'), 50, 100);
  t.ok(reopened, 'postrotate signalled the primary: it logs the reopen into the new file');
  for (let i = 0; i < 20; i++) await get(`/after-${i}`);

  process.kill(s.pid, 'SIGTERM');
  t.same(await s.exited(), { code: 0, signal: null });
  // Each worker writes its own batches: the order across workers is not the order sent.
  const paths = (file: string) => jsonLines(file).map((l) => String(l.path)).sort();
  t.same(paths(`${access}.1`), Array.from({ length: 20 }, (_, i) => `/before-${i}`).sort(), 'the old access log is complete: every request before the rotation, whole lines');
  t.same(paths(access), Array.from({ length: 20 }, (_, i) => `/after-${i}`).sort(), 'and every request after it is in the new one');
  t.ok(jsonLines(`${logFile}.1`).some(isListening), 'the start is in the rotated log');
  t.notOk(fs.existsSync(path.join(dir, 'fleetserve.pid')), 'the pid file is gone after the stop');
});
