// pidFile: the primary's pid, written at start (a stale file replaced, through a temporary
// file and a rename), removed at exit only while it holds that pid; a path that cannot be
// written is a configuration error (exit 2) and nothing starts.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { errorOf, run } from '../fixtures/config';
import { makeSite, spawnServer, startServer, type LogLine } from '../fixtures/server';

let root: string;
t.before(() => {
  root = makeSite(t, { 'a.txt': 'a\n' });
});

function tmpDir(t: Test): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-pid-')));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const isListening = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('listening on');

t.test('the key: default none, flag and env, made absolute; its directory is checked', async (t) => {
  const cwd = tmpDir(t);
  fs.mkdirSync(path.join(cwd, 'site'));
  fs.mkdirSync(path.join(cwd, 'run'));
  fs.writeFileSync(path.join(cwd, 'plain'), '');
  t.equal(run([], {}, cwd).pidFile, '');
  t.equal(run([], { FLEETSERVE_PID_FILE: 'run/a.pid' }, cwd).pidFile, path.join(cwd, 'run/a.pid'));
  t.equal(run(['--pid-file', 'run/b.pid'], { FLEETSERVE_PID_FILE: 'run/a.pid' }, cwd).pidFile, path.join(cwd, 'run/b.pid'), 'the flag wins');
  t.equal(errorOf(['--pid-file', 'nope/f.pid'], {}, cwd), `pidFile: directory ${path.join(cwd, 'nope')} does not exist`);
  t.equal(errorOf(['--pid-file', 'plain/f.pid'], {}, cwd), `pidFile: ${path.join(cwd, 'plain')} is not a directory`);
  t.equal(errorOf(['--pid-file', 'run'], {}, cwd), `pidFile: ${path.join(cwd, 'run')} is a directory`);
  t.notOk(fs.existsSync(path.join(cwd, 'run/b.pid')), 'checking a configuration writes no file');
});

for (const workers of [2, 0]) {
  t.test(`workers ${workers}: a stale file is replaced by the primary's pid, removed at exit`, async (t) => {
    const dir = tmpDir(t);
    const pidFile = path.join(dir, 'fleetserve.pid');
    fs.writeFileSync(pidFile, '999999999\n'); // left by a process that died
    const s = await startServer(t, { root, workers, args: ['--pid-file', pidFile] });
    t.equal(fs.readFileSync(pidFile, 'utf8'), `${s.pid}\n`, 'the pid of the primary (or the single process), one line');
    t.same(fs.readdirSync(dir), ['fleetserve.pid'], 'no temporary file left beside it');
    process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGTERM');
    t.same(await s.exited(10_000), { code: 0, signal: null });
    t.notOk(fs.existsSync(pidFile), 'removed at exit');
  });
}

t.test('a pid file that another process took over is left alone at exit', async (t) => {
  const dir = tmpDir(t);
  const pidFile = path.join(dir, 'fleetserve.pid');
  const s = await startServer(t, { root, workers: 1, args: ['--pid-file', pidFile] });
  fs.writeFileSync(pidFile, '424242\n');
  process.kill(s.pid, 'SIGTERM');
  t.same(await s.exited(10_000), { code: 0, signal: null });
  t.equal(fs.readFileSync(pidFile, 'utf8'), '424242\n', 'not removed: it is not ours');
});

t.test('a start that fails (port in use, exit 1) removes its pid file', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const dir = tmpDir(t);
  const pidFile = path.join(dir, 'fleetserve.pid');
  for (const workers of ['1', '0']) {
    const s = spawnServer({ args: ['--root', root, '--host', '127.0.0.1', '--port', String((blocker.address() as net.AddressInfo).port), '--workers', workers, '--pid-file', pidFile] });
    t.teardown(() => s.kill());
    t.same(await s.exited(10_000), { code: 1, signal: null }, `workers ${workers}: exit 1`);
    t.notOk(fs.existsSync(pidFile), `workers ${workers}: no pid file left`);
  }
});

t.test('a pid file that cannot be written: exit 2, one line, nothing started', async (t) => {
  const dir = tmpDir(t);
  const cases: [string, string][] = [
    [path.join(dir, 'none', 'f.pid'), `fleetserve: pidFile: directory ${path.join(dir, 'none')} does not exist\n`],
    [dir, `fleetserve: pidFile: ${dir} is a directory\n`],
    // /proc passes the directory check (even for root) but takes no new file: the write at start fails.
    ['/proc/fleetserve-test.pid', 'fleetserve: pidFile: cannot write /proc/fleetserve-test.pid: ENOENT\n'],
  ];
  for (const workers of ['2', '0']) {
    for (const [file, line] of cases) {
      const s = spawnServer({ args: ['--root', root, '--host', '127.0.0.1', '--port', '0', '--workers', workers, '--log-pretty', 'false', '--pid-file', file] });
      t.teardown(() => s.kill());
      t.same(await s.exited(10_000), { code: 2, signal: null }, `workers ${workers}, ${file}: exit 2`);
      t.equal(s.stderr(), line);
      t.notOk(s.logs.some(isListening), 'nothing listened');
    }
  }
});
