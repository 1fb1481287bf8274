// The rolling reload with a fake pool and fake workers: one worker at a time (fork, wait for
// it to listen, retire an old one), a new worker that fails stops the reload, SIGHUPs during
// a reload (or the start) make exactly one more, a stop aborts it.
import type { Worker } from 'node:cluster';
import t, { type Test } from 'tap';
import type { Config } from '../../../src/config/config';
import { ConfigError } from '../../../src/errors';
import { PrimaryCounters } from '../../../src/metrics/counters';
import { RollingReload, type ReloadPool } from '../../../src/process/rolling-reload';
import type { Generation, Role, Which } from '../../../src/process/worker-pool';
import { captureLoggers, FakeWorker, messages } from '../../fixtures/cluster-fakes';
import { run, sandbox } from '../../fixtures/config';

/** The pool as the reload sees it: roles and generations, and a record of what it was asked. */
class FakePool implements ReloadPool {
  currentPort = 40_000;
  readonly workers = new Map<FakeWorker, { gen: Generation; role: Role }>();
  readonly calls: string[] = [];
  constructor(public current: Generation) {}

  list(which: Which): Worker[] {
    return [...this.workers].filter(([w, r]) => !w.dead && (which === 'alive' || which === r.role)).map(([w]) => w.asWorker);
  }
  generationOf(w: Worker): Generation | undefined {
    return this.workers.get(w as unknown as FakeWorker)?.gen;
  }
  fork(gen: Generation, role: 'serving' | 'starting' = 'serving'): Worker {
    const w = new FakeWorker({});
    this.workers.set(w, { gen, role });
    this.calls.push(`fork ${w.id} ${role}`);
    return w.asWorker;
  }
  started(w: Worker): void {
    this.workers.get(w as unknown as FakeWorker)!.role = 'serving';
    this.calls.push(`started ${w.id}`);
  }
  retire(w: Worker): void {
    this.workers.get(w as unknown as FakeWorker)!.role = 'retiring';
    this.calls.push(`retire ${w.id}`);
  }
  /** The newest worker forked. */
  last(): FakeWorker {
    return [...this.workers.keys()].at(-1)!;
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function setup(t: Test, next: string[] | (() => Config) = [], opts: { startTimeoutMs?: number } = {}) {
  const { cwd } = sandbox(t);
  const config = run(['--host', '127.0.0.1', '--port', '0', '--workers', '2'], {}, cwd);
  const pool = new FakePool({ config });
  const olds = [pool.fork(pool.current), pool.fork(pool.current)];
  pool.calls.length = 0;
  const { loggers, lines } = captureLoggers();
  const counters = new PrimaryCounters();
  let stopping = false;
  let reads = 0;
  const reloadConfig = () => {
    reads++;
    return typeof next === 'function' ? next() : run(['--host', '127.0.0.1', '--port', '0', '--workers', '2', ...next], {}, cwd);
  };
  const reloads = new RollingReload({ pool, stopping: () => stopping, reloadConfig, log: loggers.log, counters, inherited: null, ...opts });
  return {
    pool,
    olds,
    reloads,
    counters,
    lines,
    msgs: () => messages(lines),
    reads: () => reads,
    stop: () => (stopping = true),
    /** The newest worker listens on `port`; the reload goes on. */
    listenLast: async (port = 40_000) => {
      pool.last().emit('listening', { port });
      await settle();
    },
  };
}

t.test('one worker at a time: fork, wait until it listens, retire an old one', async (t) => {
  const s = setup(t, ['--cache-control', 'no-cache']);
  s.reloads.startupDone();
  s.reloads.requested();
  t.ok(s.reloads.reloading);
  t.equal(s.msgs().at(-1), 'reload started: reading the configuration again');
  t.equal(s.pool.current.config.cacheControl, 'no-cache', 'respawns from now on are of the new configuration');
  const [a, b] = s.olds;
  const n1 = s.pool.last();
  t.same(s.pool.calls, [`fork ${n1.id} starting`], 'one new worker, and nothing else until it listens');
  await settle();
  t.same(s.pool.calls.length, 1, 'still waiting');
  await s.listenLast(40_000);
  const n2 = s.pool.last();
  t.same(s.pool.calls, [`fork ${n1.id} starting`, `started ${n1.id}`, `retire ${a!.id}`, `fork ${n2.id} starting`]);
  t.equal(s.msgs().at(-1), `reload: worker ${a!.id} (pid ${a!.process.pid}) replaced by worker ${n1.id} (pid ${n1.process.pid}); draining it`);
  await s.listenLast(40_000);
  t.same(s.pool.calls.slice(4), [`started ${n2.id}`, `retire ${b!.id}`]);
  t.notOk(s.reloads.reloading, 'done');
  t.match(s.msgs().at(-1), /^reload finished: 2 workers replaced in \d+ ms, listening on http:\/\/127\.0\.0\.1:40000\/; cacheControl: "public, max-age=0, must-revalidate" → "no-cache"$/);
  t.equal(s.lines.at(-1)?.level, 30);
  t.equal(s.counters.reloads, 1);
  t.equal(s.reads(), 1);
});

t.test('fewer workers: the extra old ones retire; a key a reload cannot apply is reported', async (t) => {
  const s = setup(t, ['--workers', '1', '--scheduling', 'rr']);
  s.reloads.startupDone();
  s.reloads.requested();
  const n1 = s.pool.last();
  await s.listenLast();
  const [a, b] = s.olds;
  t.same(s.pool.calls, [`fork ${n1.id} starting`, `started ${n1.id}`, `retire ${a!.id}`, `retire ${b!.id}`]);
  t.equal(s.msgs().at(-2), `reload: worker ${b!.id} (pid ${b!.process.pid}) no longer needed (fewer workers); draining it`);
  t.match(s.msgs().at(-1), /^reload finished: 1 worker replaced in \d+ ms, .*workers: 2 → 1; needs a restart \(not applied\): scheduling: "none" → "rr"$/);
  t.equal(s.lines.at(-1)?.level, 40, 'a warning: something was not applied');
  t.equal(s.pool.current.config.scheduling, 'none', 'the key stays as in force');
});

t.test('a new worker that fails stops the reload; the old ones keep serving with the configuration in force', async (t) => {
  for (const [name, fail, reason] of [
    ['exits', (w: FakeWorker) => w.emit('exit', 1, null), 'exited with code 1 before listening'],
    ['is killed', (w: FakeWorker) => w.emit('exit', null, 'SIGKILL'), 'exited with SIGKILL before listening'],
    ['cannot bind', (w: FakeWorker) => w.emit('message', { type: 'listen-error', message: 'port 8080 is in use' }), 'port 8080 is in use'],
    ['cannot start', (w: FakeWorker) => w.emit('message', { type: 'start-error', message: 'basicAuth: cannot read x' }), 'basicAuth: cannot read x'],
  ] as const) {
    const s = setup(t, ['--workers', '3']);
    const previous = s.pool.current;
    s.reloads.startupDone();
    s.reloads.requested();
    const n1 = s.pool.last();
    n1.emit('message', { type: 'metrics-ready' }); // not a failure
    fail(n1);
    await settle();
    t.equal(s.msgs().at(-1), `reload failed: new worker ${n1.id} (pid ${n1.process.pid}) ${reason}; 0 workers replaced, the others keep serving with the configuration in force`, name);
    t.equal(s.lines.at(-1)?.level, 50);
    t.same(s.pool.calls, [`fork ${n1.id} starting`], 'no old worker retired, no further fork');
    t.equal(s.pool.current, previous, 'respawns go back to the configuration in force');
    t.notOk(s.reloads.reloading);
    t.equal(n1.listenerCount('listening') + n1.listenerCount('exit') + n1.listenerCount('message'), 0, 'the reload no longer listens to it');
  }
});

t.test('a new worker that does not listen in time is killed and fails the reload', async (t) => {
  const s = setup(t, [], { startTimeoutMs: 100 });
  s.reloads.startupDone();
  s.reloads.requested();
  const n1 = s.pool.last();
  const t0 = performance.now();
  while (s.reloads.reloading && performance.now() - t0 < 1000) await settle();
  const ms = performance.now() - t0;
  t.ok(ms >= 95 && ms < 200, `failed after ${ms.toFixed(0)} ms (the limit is 100)`);
  t.same(n1.signals, ['SIGKILL']);
  t.match(s.msgs().at(-1), `new worker ${n1.id} (pid ${n1.process.pid}) did not listen within 100 ms; 0 workers replaced`);
});

t.test('SIGHUPs during a reload make exactly one more, which reads the configuration again', async (t) => {
  let n = 0;
  const { cwd } = sandbox(t);
  const s = setup(t, () => run(['--host', '127.0.0.1', '--port', '0', '--workers', '1', '--cache-control', `v${++n}`], {}, cwd));
  s.reloads.startupDone();
  s.reloads.requested();
  s.reloads.requested();
  s.reloads.requested();
  s.reloads.requested();
  t.equal(s.msgs().filter((m) => m === 'SIGHUP during a reload: one more reload will follow').length, 1, 'said once');
  await s.listenLast(); // the first reload's only new worker
  t.equal(s.reads(), 2, 'the queued reload began as soon as the first ended');
  t.equal(s.pool.current.config.cacheControl, 'v2');
  t.ok(s.reloads.reloading);
  await s.listenLast();
  t.notOk(s.reloads.reloading);
  t.equal(s.reads(), 2, 'and no third');
  t.equal(s.msgs().filter((m) => m.startsWith('reload finished')).length, 2);
});

t.test('a SIGHUP during the start waits for it', async (t) => {
  const s = setup(t);
  s.reloads.requested();
  s.reloads.requested();
  t.same(s.msgs(), ['SIGHUP during start-up: one more reload will follow']);
  t.equal(s.reads(), 0);
  s.reloads.startupDone();
  t.equal(s.reads(), 1, 'the start is done: it runs now');
  t.ok(s.reloads.reloading);
});

t.test('a stop aborts the reload; a SIGHUP while stopping is ignored', async (t) => {
  const s = setup(t);
  const previous = s.pool.current;
  s.reloads.startupDone();
  s.reloads.requested();
  s.reloads.requested(); // queued: must not run after the stop
  s.stop();
  await s.listenLast();
  t.equal(s.msgs().at(-1), 'reload aborted (stopped by a signal); 0 workers replaced');
  t.equal(s.lines.at(-1)?.level, 40);
  t.equal(s.pool.calls.filter((c) => c.startsWith('retire')).length, 0, 'no old worker retired');
  t.equal(s.pool.current, previous);
  t.equal(s.reads(), 1, 'the queued reload does not run');
  s.reloads.requested();
  t.equal(s.msgs().at(-1), 'SIGHUP while stopping: ignored');
});

t.test('a configuration that cannot be read fails the reload before any worker is touched', async (t) => {
  const s = setup(t, () => {
    throw new ConfigError('port: must be a port number from 0 to 65535: value was "x"');
  });
  s.reloads.startupDone();
  s.reloads.requested();
  await settle();
  t.equal(s.msgs().at(-1), 'reload failed: port: must be a port number from 0 to 65535: value was "x"; the configuration in force stays, no worker was replaced');
  t.same(s.pool.calls, []);
  t.equal(s.counters.reloads, 0, 'not counted: it never began replacing workers');
  t.notOk(s.reloads.reloading);
});

t.test('any other error reading the configuration fails the reload the same way', async (t) => {
  const s = setup(t, () => {
    throw new TypeError('a bug');
  });
  s.reloads.startupDone();
  s.reloads.requested();
  await settle();
  t.equal(s.msgs().at(-1), 'reload failed: TypeError: a bug; the configuration in force stays, no worker was replaced');
  t.notOk(s.reloads.reloading, 'and the next SIGHUP can reload again');
});
