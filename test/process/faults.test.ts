// An uncaught exception or an unhandled rejection in a serving process: one error line with
// the stack, the drain as on SIGTERM but without the pre-drain (a download in flight still
// arrives whole), exit 1; a second fault during that drain stops at once. The faults come
// from test/fixtures/fault-on-signal.js, loaded with `node --require` (nothing in src/ knows).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { makeSite, startServer, type LogLine, type Server } from '../fixtures/server';
import { Download, poll, sha256, tryRequest } from '../fixtures/wire';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'fault-on-signal.js');
const BIG = crypto.randomBytes(24 * 1024 * 1024); // more than loopback's socket buffers hold
let root: string;
t.before(() => {
  root = makeSite(t, { 'big.bin': BIG, 'a.txt': 'a\n' });
});

const msgMatches = (re: RegExp) => (l: LogLine) => typeof l.msg === 'string' && re.test(l.msg);

function start(t: Test, workers: number, args: string[] = []): Promise<Server> {
  return startServer(t, { root, workers, args, env: { NODE_OPTIONS: `--require=${FIXTURE}` } });
}

/** A download of big.bin that has begun and then stopped reading: its connection stays busy. */
async function stalledDownload(t: Test, port: number): Promise<Download> {
  const d = await Download.start(port, '/big.bin');
  t.teardown(() => d.destroy());
  t.ok(await d.waitBody(64 * 1024, 5000), 'the download has begun');
  d.pause();
  return d;
}

t.test('single process, uncaught exception: logged with its stack, drained without the pre-drain, exit 1', async (t) => {
  const s = await start(t, 0, ['--pre-drain-delay-ms', '20000']);
  const d = await stalledDownload(t, s.port);
  process.kill(s.pid, 'SIGUSR2');
  const fault = await s.waitForLog(msgMatches(/^uncaught exception/), 5000);
  t.equal(fault.level, 50, 'an error line');
  t.equal(fault.msg, 'uncaught exception: fixture fault (SIGUSR2); draining, then exiting with code 1');
  t.match((fault.err as { stack?: string }).stack, /throwFromFixture .*fault-on-signal\.js/, 'with the stack of the throw');
  // With a 20 s pre-drain the drain would begin much later: it begins at once.
  const draining = await s.waitForLog(msgMatches(/^draining: /), 3000);
  t.equal(draining.reason, 'uncaughtException');
  t.notOk(s.logs.some(msgMatches(/^pre-drain/)), 'no pre-drain');
  t.equal((await tryRequest(s.port)).outcome, 'refused', 'no new connection is taken');
  d.resume();
  t.ok(await d.waitClosed(10_000), 'the download ends');
  t.equal(d.bodyBytes, BIG.length, 'every byte of the body arrived');
  t.equal(d.sha256(), sha256(BIG), 'and they are the right bytes');
  t.equal((await s.exited()).code, 1, 'exit 1 although the drain was clean');
  t.equal(s.logs.filter((l) => l.level === 50).length, 1, 'one error line');
});

t.test('single process, a second fault during that drain: the connection is cut, exit 1 at once', async (t) => {
  const s = await start(t, 0, ['--drain-timeout-ms', '30000']);
  const d = await stalledDownload(t, s.port);
  process.kill(s.pid, 'SIGUSR2');
  await s.waitForLog(msgMatches(/^draining: 1 open connection/), 5000);
  const t0 = performance.now();
  process.kill(s.pid, 'SIGUSR2');
  const { code } = await s.exited(5000);
  t.equal(code, 1);
  t.ok(performance.now() - t0 < 3000, 'at once, not at the 30 s drain deadline');
  t.ok(s.logs.some((l) => l.level === 50 && l.msg === 'uncaught exception: fixture fault (SIGUSR2); a second fault while draining: stopping now'));
  t.ok(s.logs.some(msgMatches(/^forced exit: cutting 1 connection$/)), 'the cut is logged');
  d.resume(); // a paused socket would not notice its end
  t.ok(await d.waitClosed(3000), 'the download was cut');
  t.ok(d.bodyBytes < BIG.length);
});

t.test('single process, unhandled rejection: logged, drained, exit 1', async (t) => {
  const s = await start(t, 0);
  process.kill(s.pid, 'SIGWINCH');
  const fault = await s.waitForLog(msgMatches(/^unhandled rejection/), 5000);
  t.equal(fault.level, 50);
  t.equal(fault.msg, 'unhandled rejection: fixture rejection (SIGWINCH); draining, then exiting with code 1');
  t.match((fault.err as { stack?: string }).stack, /rejectFromFixture .*fault-on-signal\.js/);
  t.equal((await s.exited()).code, 1);
  t.ok(s.logs.some(msgMatches(/^drained 0 connections in \d+ ms$/)), 'the drain ran');
});

t.test('cluster worker, uncaught exception: it drains and exits 1, the primary replaces it', async (t) => {
  const s = await start(t, 1);
  const [worker] = fs.readFileSync(`/proc/${s.pid}/task/${s.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const d = await stalledDownload(t, s.port);
  process.kill(worker!, 'SIGUSR2');
  const fault = await s.waitForLog(msgMatches(/^uncaught exception/), 5000);
  t.equal(fault.worker, 1, "the worker's line");
  t.equal(fault.pid, worker);
  d.resume();
  t.ok(await d.waitClosed(10_000));
  t.equal(d.bodyBytes, BIG.length, 'the download in flight arrived whole');
  await s.waitForLog(msgMatches(/^worker 1 died \(exit code 1\); replacing it$/), 5000);
  // The replacement listens on the same port (the respawn waits a little first).
  t.ok(await poll(async () => (await tryRequest(s.port)).outcome === 'answered', 50, 100), 'the replacement serves');
  process.kill(s.pid, 'SIGTERM');
  t.equal((await s.exited()).code, 0);
});
