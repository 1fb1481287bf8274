// The primary's book of workers with fake workers: roles and the one list, listening and
// pauses, the port a new worker asks for, respawn back-off, sends that must never throw.
import t, { type Test } from 'tap';
import { PrimaryCounters } from '../../../src/metrics/counters';
import { WorkerPool } from '../../../src/process/worker-pool';
import { readWorkerEnv } from '../../../src/process/worker-env';
import { captureLoggers, fakeFork, type FakeWorker } from '../../fixtures/cluster-fakes';
import { run, sandbox } from '../../fixtures/config';

function setup(t: Test, args: string[] = ['--port', '0']) {
  const { cwd } = sandbox(t);
  const config = run(['--workers', '2', ...args], {}, cwd);
  const { fork, forked } = fakeFork();
  const { loggers, lines } = captureLoggers();
  const counters = new PrimaryCounters();
  let clock = 1_000_000;
  const pool = new WorkerPool({ config, inherited: null, counters, log: loggers.log, fork, now: () => clock });
  const ids = (ws: { id: number }[]) => ws.map((w) => w.id);
  const fake = (i: number): FakeWorker => forked[i]!;
  return { pool, config, forked, fake, counters, lines, ids, advance: (ms: number) => (clock += ms) };
}

t.test('one list, by what the workers are: forked, alive, serving, starting, retiring, listening', async (t) => {
  const { pool, forked, fake, ids } = setup(t);
  const a = pool.fork(pool.current);
  const b = pool.fork(pool.current, 'starting');
  const c = pool.fork(pool.current);
  const all = ids(forked);
  t.same(ids(pool.list('forked')), all, 'forked: every one, in fork order');
  t.same(ids(pool.list('alive')), all);
  t.same(ids(pool.list('serving')), [a.id, c.id], 'a reload\'s new worker is not serving yet');
  t.same(ids(pool.list('starting')), [b.id]);
  t.same(pool.list('listening'), [], 'none listens before it said so');
  pool.listened(a, 4000);
  pool.listened(b, 4000);
  t.same(ids(pool.list('listening')), [a.id, b.id]);
  pool.started(b);
  t.equal(pool.roleOf(b), 'serving', 'started: it serves from now on');
  pool.retire(a);
  t.equal(pool.roleOf(a), 'retiring');
  t.same(ids(pool.list('serving')), [b.id, c.id]);
  t.same(ids(pool.list('retiring')), [a.id]);
  fake(2).dead = true;
  t.same(ids(pool.list('alive')), [a.id, b.id], 'a dead worker is not alive');
  t.same(ids(pool.list('serving')), [b.id], 'nor serving');
  t.same(ids(pool.list('forked')), all, 'but forked until its exit is booked');
  pool.remove(c);
  t.same(ids(pool.list('forked')), [a.id, b.id]);
});

t.test('a worker asks for the configured port, or with port 0 for the one its generation shares', async (t) => {
  const fixed = setup(t, ['--port', '8123']);
  fixed.pool.fork(fixed.pool.current);
  t.equal(fixed.fake(0).config().port, 8123);

  const { pool, fake } = setup(t);
  const first = pool.fork(pool.current);
  t.equal(fake(0).config().port, 0, 'the first asks for any free port');
  pool.listened(first, 43210);
  t.equal(pool.current.actualPort, 43210, 'the generation keeps the port its first worker got');
  t.ok(pool.hasListened(first));
  pool.fork(pool.current);
  t.equal(fake(1).config().port, 0, 'while the socket made for 0 lives (a worker asked for 0), 0 again: cluster shares it');
  pool.retire(first);
  pool.remove(fake(1).asWorker);
  pool.fork(pool.current);
  t.equal(fake(2).config().port, 43210, 'once only a retiring worker holds it, the number: 0 would move the server');
  const env = readWorkerEnv(fake(2).env);
  t.equal(env.inherited, null);
  t.equal(env.config.root, pool.current.config.root, 'the rest of the configuration is handed over as it is');
});

t.test('a pause is granted only while another worker listens', async (t) => {
  const { pool } = setup(t);
  const a = pool.fork(pool.current);
  const b = pool.fork(pool.current);
  t.notOk(pool.pause(a), 'nobody listens: refused');
  pool.listened(a, 4000);
  t.notOk(pool.pause(a), 'alone: refused (closing the last handle would close the socket)');
  pool.listened(b, 4000);
  t.ok(pool.pause(a), 'another listens: granted');
  t.same(pool.list('listening'), [b], 'and it no longer counts as listening');
  t.notOk(pool.pause(b), 'now b is the last one');
  pool.listened(a, 4000);
  t.same(pool.list('listening'), [a, b], 'listening again after the pause');
});

t.test('remove says what the exited worker was', async (t) => {
  const { pool, advance } = setup(t);
  const a = pool.fork(pool.current);
  const b = pool.fork(pool.current, 'starting');
  pool.listened(a, 4000);
  advance(1234);
  t.same(pool.remove(a), { lived: 1234, wasListening: true, role: 'serving' });
  t.same(pool.remove(b), { lived: 1234, wasListening: false, role: 'starting' });
  t.same(pool.remove(b), { lived: 0, wasListening: false, role: 'serving' }, 'one it does not hold: a crash of no age');
  t.same(pool.list('forked'), []);
});

t.test('respawn back-off doubles while workers die young, and resets after a stable run', async (t) => {
  const { pool } = setup(t);
  const delays = [100, 100, 100, 100, 100, 100, 100, 100].map((lived) => pool.respawnDelayAfter(lived));
  t.same(delays, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000], 'up to 10 s');
  t.equal(pool.respawnDelayAfter(30_001), 0, 'after more than 30 s of life: at once');
  t.equal(pool.respawnDelayAfter(100), 200, 'and the next young death starts over');
  t.equal(pool.respawnDelayAfter(30_000), 400, '30 s exactly is not yet stable');
});

t.test('send counts drains and never throws for a worker that is going away', async (t) => {
  const { pool, fake, counters } = setup(t);
  const w = pool.fork(pool.current);
  pool.send(w, { cmd: 'drain' });
  pool.retire(w);
  pool.send(w, { cmd: 'force' });
  pool.send(w, { cmd: 'reopen' });
  t.same(fake(0).sent, [{ cmd: 'drain' }, { cmd: 'retire' }, { cmd: 'force' }, { cmd: 'reopen' }]);
  t.equal(counters.workerDrains, 2, 'drain and retire are drains; force and reopen are not');
  fake(0).channelClosed = true;
  t.doesNotThrow(() => pool.send(w, { cmd: 'drain' }), 'a closed channel is not the primary\'s end');
  t.equal(counters.workerDrains, 2, 'a drain that could not be sent is not counted');
});

t.test('an IPC error on a worker is logged at debug, never thrown', async (t) => {
  const { pool, fake, lines } = setup(t);
  pool.fork(pool.current);
  t.doesNotThrow(() => fake(0).emit('error', new Error('EPIPE')));
  t.equal(lines.at(-1)?.msg, `IPC with worker ${fake(0).id} failed`);
  t.equal(lines.at(-1)?.level, 20);
});

t.test('killAll kills every worker not yet exited', async (t) => {
  const { pool, fake } = setup(t);
  pool.fork(pool.current);
  pool.fork(pool.current);
  pool.remove(fake(0).asWorker);
  pool.killAll();
  t.same(fake(0).signals, [], 'an exited one is left alone');
  t.same(fake(1).signals, ['SIGKILL']);
});
