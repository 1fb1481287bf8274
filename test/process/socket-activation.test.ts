// Socket activation (sd_listen_fds): fleetserve serves the listening socket it inherits as
// fd 3 instead of binding, so restarting the whole process refuses no connection. The
// socket is opened by systemd-socket-activate (Debian's systemd package) on 127.0.0.1; a
// small keeper process holds it across restarts as systemd's socket unit does.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { makeSite, MAIN, spawnServer } from '../fixtures/server';
import { FIXTURES, spawnLines, which, type Line, type LoadResult } from '../fixtures/lines';
import { machineSkip } from '../fixtures/machine';
import { freePort, sleep, tryRequest } from '../fixtures/wire';

t.test('bad LISTEN_FDS exits 2 with one line; LISTEN_PID of another process is ignored', async (t) => {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const bad = spawnLines(t, 'sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=two exec "$0" "$@"', process.execPath, MAIN, '--root', root, '--host', '127.0.0.1', '--port', '0', '--workers', '0']);
  t.equal((await bad.exited()).code, 2, 'exit code 2');
  t.equal(bad.stderr(), 'fleetserve: LISTEN_FDS must be a whole number: got "two"\n');

  // A LISTEN_PID that is not ours is left over from a parent: bind host:port as usual.
  const s = spawnServer({ args: ['--root', root, '--host', '127.0.0.1', '--port', '0', '--workers', '0', '--log-pretty', 'false'], env: { LISTEN_PID: '1', LISTEN_FDS: '1' } });
  t.teardown(() => s.kill());
  const line = await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
  t.equal(line.fd, undefined, 'bound its own socket');
  t.equal((await tryRequest(line.port as number)).outcome, 'answered');
});

const BODY = Buffer.from(crypto.randomBytes(12 * 1024).toString('base64')); // 16 KiB
const BODY_SHA = crypto.createHash('sha256').update(BODY).digest('hex');
const RESTARTS = 3;

const skip = machineSkip() || (which('systemd-socket-activate') ? false : 'systemd-socket-activate not found: install Debian\'s systemd package (.ci/run does)');

const isListening = (l: Line) => typeof l.msg === 'string' && l.msg.startsWith('listening on');

/**
 * systemd-socket-activate holds 127.0.0.1:PORT and execs the keeper on the first
 * connection; the keeper runs fleetserve with fd 3. Returns the keeper process.
 */
async function activate(t: Test, serverArgs: string[]) {
  const port = await freePort();
  const root = makeSite(t, { 'page.html': BODY, 'index.html': 'hi\n' });
  const keeper = spawnLines(t, 'systemd-socket-activate', [
    '-l', `127.0.0.1:${port}`, '--fdname=web',
    process.execPath, path.join(FIXTURES, 'socket-keeper.js'),
    process.execPath, MAIN, '--root', root, '--log-pretty', 'false', '--access-log', 'false', ...serverArgs,
  ]);
  await keeper.waitForStderr(new RegExp(`Listening on 127\\.0\\.0\\.1:${port} as 3`));
  return { keeper, port };
}

function startLoad(t: Test, port: number) {
  // 6 clients, a Connection: close every 20 requests; bounded at 20 s and 200k requests.
  return spawnLines(t, process.execPath, [path.join(FIXTURES, 'keepalive-load.js'), '127.0.0.1', String(port), '/page.html', BODY_SHA, String(BODY.length), '6', '20', '200000', '20000']);
}

async function mark(load: ReturnType<typeof startLoad>): Promise<number> {
  const n = load.lines.filter((l) => 'mark' in l).length + 1;
  load.send('mark');
  return (await load.waitFor((l) => l.mark === n, 5000, `mark ${n}`)).ok as number;
}

/** Waits until the load has completed `more` further responses. */
async function loadFor(load: ReturnType<typeof startLoad>, more: number): Promise<void> {
  const start = await mark(load);
  for (let i = 0; i < 100; i++) {
    await sleep(50);
    if ((await mark(load)) >= start + more) return;
  }
  throw new Error(`the load made no progress: ${load.stdout().slice(-2000)}`);
}

for (const mode of [
  { name: 'two workers, scheduling none', args: ['--workers', '2', '--scheduling', 'none'] },
  // rr is overridden on an inherited socket (the primary's queue would be reset on a stop).
  { name: 'two workers, scheduling rr asked for', args: ['--workers', '2', '--scheduling', 'rr'] },
  { name: 'single process', args: ['--workers', '0'] },
]) {
  t.test(`${mode.name}: ${RESTARTS} full restarts under keep-alive load refuse and cut nothing`, { skip }, async (t) => {
    // host/port name a port nothing should bind: under activation they are ignored.
    const unused = await freePort();
    const { keeper, port } = await activate(t, [...mode.args, '--host', '127.0.0.1', '--port', String(unused)]);
    const load = startLoad(t, port); // its first connection makes systemd-socket-activate exec the keeper

    const first = await keeper.waitFor(isListening, 10_000, 'listening line');
    t.equal(first.fd, 3, 'serves fd 3');
    t.equal(first.fdName, 'web', 'names the socket from LISTEN_FDNAMES');
    t.equal(first.port, port, 'on the activated port');
    t.match(first.msg, /inherited socket fd 3 \(web\).*host and port settings ignored/);
    t.equal((await tryRequest(unused)).outcome, 'refused', 'the configured host:port is not bound');
    if (mode.args.includes('rr')) {
      t.equal(first.scheduling, 'none', 'the kernel balances');
      t.ok(keeper.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('scheduling "rr" is not used on an inherited socket')), 'and the log says so');
    }

    await loadFor(load, 300);
    let queuedBeforeListening = 0;
    for (let i = 1; i <= RESTARTS; i++) {
      const listeningBefore = keeper.lines.filter(isListening).length;
      keeper.send('restart');
      const exited = await keeper.waitFor((l) => l.keeper === 'exited' && keeper.lines.filter((x) => x.keeper === 'exited').length === i, 15_000, `exit ${i}`);
      t.equal(exited.code, 0, `restart ${i}: the old fleetserve drained and exited 0`);
      // No fleetserve runs now: a new connection must wait in the backlog, not be refused.
      const probe = tryRequest(port, '127.0.0.1', 10_000);
      const nowListening = keeper.lines.filter(isListening).length;
      if (nowListening === listeningBefore) queuedBeforeListening++;
      const answer = await probe;
      t.equal(answer.outcome, 'answered', `restart ${i}: a connection made between the two processes is answered`);
      t.match(answer.data.toString('latin1'), /^HTTP\/1\.1 200 /, `restart ${i}: with a 200`);
      await keeper.waitFor(() => keeper.lines.filter(isListening).length > listeningBefore, 10_000, `listening after restart ${i}`);
      await loadFor(load, 300);
    }
    t.ok(queuedBeforeListening > 0, `at least one probe connected while no process was accepting (${queuedBeforeListening} of ${RESTARTS})`);

    load.send('stop');
    const result = (await load.waitFor((l) => l.done === true, 25_000, 'load result')) as unknown as LoadResult;
    t.equal(result.refused, 0, 'no connection refused');
    t.equal(result.truncated, 0, 'no response cut short');
    t.equal(result.failures, 0, `no failed request: ${JSON.stringify(result)}`);
    t.ok(result.connects > RESTARTS * 6, `clients reconnected across restarts (${result.connects} connections, ${result.ok} responses, ${result.retriedReused} retried after an idle close)`);

    const pids = new Set(keeper.lines.filter(isListening).map((l) => l.pid));
    t.equal(pids.size, RESTARTS + 1, 'every restart was a new process');
    keeper.send('stop');
    t.equal((await keeper.exited()).code, 0, 'the last fleetserve drained too');
  });
}

t.test('SIGHUP on an inherited socket: the reload\'s new worker joins it, nothing fails', { skip }, async (t) => {
  const { keeper, port } = await activate(t, ['--workers', '1']);
  const load = startLoad(t, port);
  const line = await keeper.waitFor(isListening, 10_000, 'listening line');
  await loadFor(load, 200);
  process.kill(line.pid as number, 'SIGHUP');
  const done = await keeper.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('reload finished'), 15_000, 'reload finished');
  t.match(done.msg, /1 workers? replaced.*inherited socket fd 3 \(web\)/, `the reload says where it listens: ${done.msg}`);
  await loadFor(load, 200);
  load.send('stop');
  const result = (await load.waitFor((l) => l.done === true, 25_000, 'load result')) as unknown as LoadResult;
  t.equal(result.failures, 0, `no failed request: ${JSON.stringify(result)}`);
  t.notOk(keeper.lines.some((l) => l.keeper === 'exited'), 'the primary kept running');
});

t.test('the last worker serving the inherited socket dies: the primary exits 1 for a restart', { skip }, async (t) => {
  const { keeper, port } = await activate(t, ['--workers', '1']);
  const probe = tryRequest(port); // triggers the exec
  const line = await keeper.waitFor(isListening, 10_000, 'listening line');
  t.equal((await probe).outcome, 'answered');
  // The worker logs nothing at start; it is the primary's only child.
  const child = Number(execFileSync('pgrep', ['-P', String(line.pid)], { encoding: 'utf8' }).trim());
  t.ok(child > 0, 'found the worker');
  process.kill(child, 'SIGKILL');
  const exited = await keeper.waitFor((l) => l.keeper === 'exited', 10_000, 'primary exit');
  t.equal(exited.code, 1, 'exit code 1');
  t.ok(keeper.lines.some((l) => typeof l.msg === 'string' && /last one serving the inherited socket fd 3 \(web\); exiting for a restart/.test(l.msg)), 'says why');
});

