// The primary with fakes: classifyExit as a table (like decide), then its events as a fake
// node:cluster and a fake process emit them (listening, messages, exits, SIGINT/SIGTERM,
// SIGHUP, SIGUSR1, faults), with the pool's real book over fake workers, manual timers and
// a fake exit. No process is forked.
import { EventEmitter } from 'node:events';
import t, { type Test } from 'tap';
import type { Config } from '../../../src/config/config';
import { PrimaryCounters } from '../../../src/metrics/counters';
import { classifyExit, listenTo, Primary, type ExitFacts, type ExitMeaning, type Phase } from '../../../src/process/primary';
import type { InheritedSockets } from '../../../src/process/activation';
import { WorkerPool, type ExitedWorker } from '../../../src/process/worker-pool';
import { captureLoggers, fakeFork, manualTimers, messages, type FakeWorker } from '../../fixtures/cluster-fakes';
import { run, sandbox } from '../../fixtures/config';
import { makeTestPki, opensslSkip } from '../../fixtures/tls';

t.test('classifyExit: what an exit means, given the phase and the pool\'s record', async (t) => {
  const running: Phase = { kind: 'running' };
  const stopping = (exitCode = 0, forced = false, cause: 'signal' | 'fault' = 'signal'): Phase => ({ kind: 'stopping', cause, forced, exitCode });
  const serving: ExitedWorker = { lived: 5000, wasListening: true, role: 'serving' };
  const cases: [string, Partial<ExitFacts>, ExitMeaning][] = [
    ['a crash while running', {}, { kind: 'crashed' }],
    ['a crash by a signal', { code: null, signal: 'SIGKILL' }, { kind: 'crashed' }],
    ['a crash that exited 0 is still a crash', { code: 0 }, { kind: 'crashed' }],
    ['a crash before it listened', { worker: { ...serving, wasListening: false } }, { kind: 'crashed' }],
    ['retired, drained cleanly', { worker: { ...serving, role: 'retiring' }, code: 0 }, { kind: 'retired', clean: true }],
    ['retired, cut at its deadline', { worker: { ...serving, role: 'retiring' }, code: 1 }, { kind: 'retired', clean: false }],
    ['retired, killed', { worker: { ...serving, role: 'retiring' }, code: null, signal: 'SIGKILL' }, { kind: 'retired', clean: false }],
    ['a reload\'s new worker that never started', { worker: { ...serving, role: 'starting', wasListening: false } }, { kind: 'failed-start' }],
    ['the last listener of an inherited socket', { inherited: true, listeningLeft: 0 }, { kind: 'last-listener' }],
    ['the last listener, even a retiring one', { inherited: true, listeningLeft: 0, worker: { ...serving, role: 'retiring' }, code: 0 }, { kind: 'last-listener' }],
    ['an inherited socket another worker still serves', { inherited: true, listeningLeft: 1 }, { kind: 'crashed' }],
    ['an inherited socket, the dead one paused (not listening)', { inherited: true, listeningLeft: 0, worker: { ...serving, wasListening: false } }, { kind: 'crashed' }],
    ['the last listener of a socket of our own: a crash', { inherited: false, listeningLeft: 0 }, { kind: 'crashed' }],
    ['drained during a stop', { phase: stopping(), code: 0 }, { kind: 'stopped', exitCode: 0 }],
    ['cut at the deadline during a stop', { phase: stopping(), code: 1 }, { kind: 'stopped', exitCode: 1 }],
    ['killed during a stop', { phase: stopping(), code: null, signal: 'SIGKILL' }, { kind: 'stopped', exitCode: 1 }],
    ['a worker forced itself (130)', { phase: stopping(), code: 130 }, { kind: 'stopped', exitCode: 130 }],
    ['a clean one after one that failed keeps the failure', { phase: stopping(1), code: 0 }, { kind: 'stopped', exitCode: 1 }],
    ['a failure after a forced one: 1', { phase: stopping(130), code: 1 }, { kind: 'stopped', exitCode: 1 }],
    ['after a second stop signal: 130 whatever it exits with', { phase: stopping(0, true), code: 0 }, { kind: 'stopped', exitCode: 130 }],
    ['a fault\'s drain exits 1 even when every worker drained', { phase: stopping(1, false, 'fault'), code: 0 }, { kind: 'stopped', exitCode: 1 }],
    ['a retiring worker during a stop is one more stopped', { phase: stopping(), worker: { ...serving, role: 'retiring' }, code: 0 }, { kind: 'stopped', exitCode: 0 }],
    ['a starting worker during a stop too', { phase: stopping(), worker: { ...serving, role: 'starting' }, code: 1 }, { kind: 'stopped', exitCode: 1 }],
    ['the last inherited listener during a stop: expected', { phase: stopping(), inherited: true, listeningLeft: 0, code: 0 }, { kind: 'stopped', exitCode: 0 }],
    ['while exiting, nothing', { phase: { kind: 'exiting' }, code: 1 }, { kind: 'ignored' }],
  ];
  for (const [name, facts, want] of cases) {
    const f: ExitFacts = { phase: running, inherited: false, worker: serving, listeningLeft: 1, code: 1, signal: null, ...facts };
    t.same(classifyExit(f), want, name);
  }
});

const SOCKET: InheritedSockets = { main: { fd: 3, name: 'web' }, httpPort: null };

/** A primary with fake node:cluster and process emitters, a real pool over fake workers, manual timers. */
function setup(t: Test, opts: { args?: string[]; inherited?: InheritedSockets; pretty?: boolean } = {}) {
  const { cwd } = sandbox(t);
  const config: Config = run(['--host', '127.0.0.1', '--port', '0', '--workers', '2', ...(opts.args ?? [])], {}, cwd);
  const { fork, forked } = fakeFork();
  const { loggers, lines, reopens } = captureLoggers(opts.pretty);
  const counters = new PrimaryCounters();
  const inherited = opts.inherited ?? null;
  const pool = new WorkerPool({ config, inherited, counters, log: loggers.log, fork });
  const timers = manualTimers();
  const exits: number[] = [];
  const stderr: string[] = [];
  const reloads = { requested: 0, startupDone: 0, reloading: false, stopping: (): boolean => false };
  const primary = new Primary({
    config,
    loggers,
    pool,
    counters,
    inherited,
    reloads: (stopping) => {
      reloads.stopping = stopping;
      return { requested: () => void reloads.requested++, startupDone: () => void reloads.startupDone++, get reloading() { return reloads.reloading; } };
    },
    exit: (code) => void exits.push(code),
    stderr: (text) => void stderr.push(text),
    schedule: timers.schedule,
    networkInterfaces: () => ({}),
  });
  const clusterEvents = new EventEmitter();
  const processEvents = new EventEmitter();
  listenTo(primary, clusterEvents, processEvents);
  const w = (i: number): FakeWorker => forked[i]!;
  /** `fd`: node:cluster names it for a listen on an inherited fd. */
  const listen = (i: number, port = 40_000, fd?: number) => {
    const address = fd === undefined ? { port } : { port, fd };
    w(i).emit('listening', address);
    clusterEvents.emit('listening', w(i), address);
  };
  const exit = (i: number, code: number | null, signal: string | null = null) => {
    w(i).dead = true;
    clusterEvents.emit('exit', w(i), code, signal);
  };
  const message = (i: number, m: unknown) => clusterEvents.emit('message', w(i), m);
  /** Starts and lets every worker of the start listen. */
  const started = () => {
    primary.start();
    listen(0);
    listen(1);
  };
  return { primary, pool, config, forked, w, listen, exit, message, started, lines, msgs: () => messages(lines), exits, stderr, timers, counters, reloads, reopens, processEvents };
}

t.test('the start: the workers are forked, one listening line once all listen, then SIGHUPs may reload', async (t) => {
  const s = setup(t);
  s.primary.start();
  t.equal(s.forked.length, 2, 'workers: 2');
  s.listen(0, 40_123);
  t.equal(s.msgs().filter((m) => m.startsWith('listening')).length, 0, 'not before the last one listens');
  t.equal(s.reloads.startupDone, 0);
  s.listen(1, 40_123);
  const line = s.lines.find((l) => l.msg.startsWith('listening'));
  t.equal(line?.msg, 'listening on http://127.0.0.1:40123/ with 2 workers');
  t.same([line?.port, line?.scheduling, line?.root], [40_123, 'none', s.config.root]);
  t.equal(s.pool.currentPort, 40_123, 'the port in use, for reloads with port 0');
  t.equal(s.reloads.startupDone, 1, 'the reload is told the start is done');
  s.listen(0, 40_123); // listening again after an accept pause
  t.equal(s.msgs().filter((m) => m.startsWith('listening')).length, 1, 'announced once');
  t.equal(s.reloads.startupDone, 1);
  t.same(s.pool.list('listening'), [s.w(0), s.w(1)].map((x) => x.asWorker));
});

t.test('on an inherited socket the line names the fd', async (t) => {
  const s = setup(t, { inherited: SOCKET });
  s.started();
  t.same(s.msgs().slice(-1), ['listening on port 40000 from the inherited socket fd 3 (web) with 2 workers (host and port settings ignored)']);
  t.equal(s.lines.at(-1)?.scheduling, 'none');
});

t.test('on two inherited sockets the main one (by its fd, whatever httpPort says) makes a worker listen; the line names both', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  // httpPort 40443 is the main socket's own port: only the fd tells the two apart.
  const inherited: InheritedSockets = { main: { fd: 3, name: 'https' }, httpPort: { fd: 4, name: 'http' } };
  const s = setup(t, { args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, '--http-port', '40443'], inherited });
  s.primary.start();
  s.listen(0, 40_080, 4);
  s.listen(1, 40_080, 4);
  t.equal(s.msgs().filter((m) => m.startsWith('listening')).length, 0, 'not on the httpPort socket alone');
  t.same(s.pool.list('listening'), []);
  s.listen(0, 40_443, 3);
  s.listen(1, 40_443, 3);
  t.same(s.msgs().slice(-1), [
    'listening on port 40443 from the inherited socket fd 3 (https) and httpPort 40080 from the inherited socket fd 4 (http) with 2 workers (host, port and httpPort settings ignored)',
  ]);
  t.match(s.lines.at(-1), { fd: 3, fdName: 'https', port: 40_443, httpFd: 4, httpFdName: 'http', httpPort: 40_080 });
  t.equal(s.pool.currentPort, 40_443);
});

t.test('an accept pause is granted while another worker listens, never while stopping', async (t) => {
  const s = setup(t);
  s.started();
  s.message(0, { type: 'accept-pause' });
  t.same(s.w(0).sent, [{ cmd: 'accept-pause', granted: true }]);
  s.message(1, { type: 'accept-pause' });
  t.same(s.w(1).sent, [{ cmd: 'accept-pause', granted: false }], 'the last listener is refused');
  s.listen(0);
  s.processEvents.emit('SIGTERM', 'SIGTERM');
  s.message(0, { type: 'accept-pause' });
  t.same(s.w(0).sent.at(-1), { cmd: 'accept-pause', granted: false }, 'refused while stopping');
  t.same(s.pool.list('listening').length, 2, 'and nothing booked');
  s.message(0, { type: 'metrics-ready' });
  t.equal(s.w(0).sent.length, 3, 'other messages (metrics) are not the primary\'s');
});

t.test('a worker that cannot listen or start stops everything: one stderr line, exit 1', async (t) => {
  for (const [type, what] of [
    ['listen-error', 'cannot listen'],
    ['start-error', 'cannot start'],
  ] as const) {
    const s = setup(t);
    s.primary.start();
    s.message(0, { type, message: 'port 80: permission denied' });
    t.same(s.stderr, ['fleetserve: port 80: permission denied\n'], type);
    t.has(s.lines.at(-1), { level: 60, msg: what, reason: 'port 80: permission denied' });
    t.same([s.w(0).signals, s.w(1).signals], [['SIGKILL'], ['SIGKILL']], 'every worker killed');
    t.same(s.exits, [1]);
    t.equal(s.primary.phase.kind, 'exiting');
    s.message(1, { type, message: 'again' });
    t.same(s.exits, [1], 'once');
  }
  const pretty = setup(t, { pretty: true });
  pretty.primary.start();
  pretty.message(0, { type: 'listen-error', message: 'in use' });
  t.same(pretty.stderr, ['fleetserve: in use\n']);
  t.notOk(pretty.lines.some((l) => l.level === 60), 'on a terminal the stderr line says it all');
});

t.test('a reload\'s new worker that cannot listen fails that reload, not the server', async (t) => {
  const s = setup(t);
  s.started();
  s.pool.fork(s.pool.current, 'starting');
  s.message(2, { type: 'listen-error', message: 'EADDRINUSE' });
  s.exit(2, 1);
  t.same(s.exits, []);
  t.same(s.stderr, []);
  t.equal(s.timers.pending.length, 0, 'not replaced: the reload reports it');
  t.equal(s.counters.workerRestarts, 0);
});

t.test('a crash is replaced after the back-off, unless the gap was filled or a stop came', async (t) => {
  const s = setup(t);
  s.started();
  s.exit(0, null, 'SIGSEGV');
  t.equal(s.msgs().at(-1), `worker ${s.w(0).id} died (signal SIGSEGV); replacing it`);
  t.equal(s.lines.at(-1)?.level, 40);
  t.equal(s.counters.workerRestarts, 1);
  t.same(s.timers.pending.map((p) => [p.ms, p.keepAlive]), [[200, true]], 'a young death: 200 ms');
  s.timers.pending[0]!.fire();
  t.equal(s.forked.length, 3, 'replaced');
  t.equal(s.w(2).config().port, 0, 'a respawn asks for the port as the others did');
  s.exit(1, 2);
  t.equal(s.msgs().at(-1), `worker ${s.w(1).id} died (exit code 2); replacing it`);
  t.equal(s.timers.pending[0]!.ms, 400, 'the next one doubles');
  s.pool.fork(s.pool.current, 'starting'); // a reload fills the gap meanwhile
  s.timers.pending[0]!.fire();
  t.equal(s.forked.length, 4, 'no respawn beyond the count: the starting worker counts');
  s.exit(3, 1);
  s.exit(2, 1);
  s.processEvents.emit('SIGTERM', 'SIGTERM');
  for (const p of [...s.timers.pending].filter((p) => p.keepAlive)) p.fire();
  t.equal(s.forked.length, 4, 'none after a stop');
});

t.test('Ctrl+C: a worker that drained on its own SIGINT before the primary handled its own still counts in the stop line', async (t) => {
  const s = setup(t, { args: ['--drain-timeout-ms', '7000'] });
  s.started();
  s.exit(0, 0); // the group's SIGINT reached the idle worker first: it drained and exited
  s.processEvents.emit('SIGINT', 'SIGINT');
  t.equal(s.msgs().at(-1), 'SIGINT: draining 2 workers, up to 7000 ms; Ctrl+C again to stop at once', 'both were serving when the signal came');
  t.has(s.lines.at(-1), { signal: 'SIGINT', workers: 2 });
  t.same(s.w(1).sent, [{ cmd: 'drain' }], 'the one left is asked to drain');
  for (const p of [...s.timers.pending].filter((p) => p.keepAlive)) p.fire();
  t.equal(s.forked.length, 2, 'not replaced during the stop');
  s.exit(1, 0);
  t.same(s.exits, [0]);

  const later = setup(t, { args: ['--drain-timeout-ms', '7000'] });
  later.started();
  later.exit(0, 0); // a SIGINT to that worker alone: replaced, and then no longer counted
  later.timers.pending[0]!.fire();
  t.equal(later.forked.length, 3, 'replaced');
  later.exit(1, 1); // a crash is not a drain: not counted while its replacement waits
  later.processEvents.emit('SIGINT', 'SIGINT');
  t.equal(later.msgs().at(-1), 'SIGINT: draining 1 worker, up to 7000 ms; Ctrl+C again to stop at once', 'the replacement only');
});

t.test('a retired worker\'s exit is expected: info when its drain was clean, warn when not', async (t) => {
  const s = setup(t);
  s.started();
  s.pool.retire(s.w(0).asWorker);
  s.pool.retire(s.w(1).asWorker);
  s.exit(0, 0);
  s.exit(1, 1);
  t.same(s.msgs().slice(-2), [`worker ${s.w(0).id} retired after its drain`, `worker ${s.w(1).id} retired with exit code 1: its drain did not end cleanly`]);
  t.same(s.lines.slice(-2).map((l) => l.level), [30, 40]);
  t.equal(s.timers.pending.length, 0, 'not replaced');
});

t.test('SIGTERM: one announcement, drain to every worker that listens, exit 0 after the last', async (t) => {
  const s = setup(t, { args: ['--drain-timeout-ms', '3000', '--pre-drain-delay-ms', '500'] });
  s.primary.start();
  s.listen(0);
  s.processEvents.emit('SIGTERM', 'SIGTERM');
  t.equal(s.msgs().at(-1), 'SIGTERM: draining 2 workers after a 500 ms pre-drain, then up to 3000 ms; a second SIGTERM stops at once');
  t.has(s.lines.at(-1), { signal: 'SIGTERM', workers: 2, drainTimeoutMs: 3000, preDrainDelayMs: 500, reloading: false });
  t.same(s.w(0).sent, [{ cmd: 'drain' }]);
  t.same(s.w(1).sent, [], 'one still starting is asked when it listens');
  t.same(s.timers.pending.map((p) => [p.ms, p.keepAlive]), [[5500, false]], 'the backstop: pre-drain + deadline + 2 s, not keeping the process alive');
  t.ok(s.reloads.stopping(), 'the reload sees the stop');
  s.listen(1);
  t.same(s.w(1).sent, [{ cmd: 'drain' }], 'asked now');
  s.exit(0, 0);
  t.equal(s.msgs().at(-1), `worker ${s.w(0).id} exited (0)`);
  t.same(s.exits, []);
  s.exit(1, 0);
  t.same(s.msgs().at(-1), 'all workers drained; exiting');
  t.same(s.exits, [0]);
  s.processEvents.emit('SIGHUP');
  t.equal(s.reloads.requested, 1, 'SIGHUP goes to the reload, which ignores it while stopping');
});

t.test('exit codes of a stop: 1 when a worker did not drain cleanly, 130 after a second signal', async (t) => {
  const s = setup(t);
  s.started();
  s.processEvents.emit('SIGINT', 'SIGINT');
  t.match(s.msgs().at(-1), /; Ctrl\+C again to stop at once$/);
  s.exit(0, 1);
  t.equal(s.primary.phase.kind === 'stopping' && s.primary.phase.exitCode, 1);
  s.processEvents.emit('SIGINT', 'SIGINT');
  t.equal(s.msgs().at(-1), 'second SIGINT: stopping now');
  t.same(s.w(1).sent.at(-1), { cmd: 'force' }, 'the one left cuts its connections itself');
  const grace = s.timers.pending.find((p) => p.keepAlive);
  t.equal(grace?.ms, 1000, 'then a second of grace');
  s.exit(1, 0);
  t.equal(s.msgs().at(-1), 'workers stopped; exiting with errors');
  t.same(s.exits, [130], 'forced: 130 whatever the workers exit with');

  const stuck = setup(t);
  stuck.started();
  stuck.processEvents.emit('SIGTERM', 'SIGTERM');
  stuck.processEvents.emit('SIGTERM', 'SIGTERM');
  stuck.timers.pending.find((p) => p.keepAlive)!.fire();
  t.same([stuck.w(0).signals, stuck.w(1).signals], [['SIGKILL'], ['SIGKILL']], 'after the grace, killed');
  t.same(stuck.exits, [130]);
});

t.test('the backstop kills workers that outlive the drain deadline', async (t) => {
  const s = setup(t);
  s.started();
  s.processEvents.emit('SIGTERM', 'SIGTERM');
  s.exit(0, 0);
  s.timers.pending[0]!.fire();
  t.equal(s.msgs().at(-1), 'workers did not exit after the drain deadline; killing them');
  t.equal(s.lines.at(-1)?.left, 1);
  t.same(s.w(1).signals, ['SIGKILL']);
  t.same(s.exits, [1]);
});

t.test('a stop with no worker alive exits 0 at once', async (t) => {
  const s = setup(t);
  s.processEvents.emit('SIGTERM', 'SIGTERM');
  t.equal(s.msgs().at(-1), 'SIGTERM: draining 0 workers, up to 10000 ms; a second SIGTERM stops at once');
  t.same(s.exits, [0]);
});

t.test('SIGUSR1 reopens the primary\'s logs and tells every worker', async (t) => {
  const s = setup(t);
  s.started();
  s.processEvents.emit('SIGUSR1');
  t.equal(s.reopens(), 1);
  t.equal(s.msgs().at(-1), 'SIGUSR1: log files reopened');
  t.same([s.w(0).sent, s.w(1).sent], [[{ cmd: 'reopen' }], [{ cmd: 'reopen' }]]);
});

t.test('a fault: one error line with the stack, every worker drained, exit 1; another one exits at once', async (t) => {
  const s = setup(t);
  s.started();
  const err = new Error('boom');
  s.processEvents.emit('uncaughtException', err, 'uncaughtException');
  const line = s.lines.at(-1)!;
  t.equal(line.msg, 'uncaught exception in the primary: boom; draining 2 workers, then exiting with code 1');
  t.equal(line.level, 50);
  t.equal((line.err as { stack: string }).stack, err.stack, 'with its stack');
  t.same([s.w(0).sent, s.w(1).sent], [[{ cmd: 'drain' }], [{ cmd: 'drain' }]], 'drained as on SIGTERM');
  t.equal(s.timers.pending.length, 1, 'with the backstop');
  s.processEvents.emit('SIGTERM', 'SIGTERM');
  t.match(s.msgs().at(-1), /^SIGTERM: draining 2 workers/, 'a stop signal meanwhile is told the drain is under way');
  t.same(s.w(0).sent, [{ cmd: 'drain' }], 'and asks nothing more');
  s.exit(0, 0);
  s.exit(1, 0);
  t.equal(s.msgs().at(-1), 'workers stopped; exiting with errors');
  t.same(s.exits, [1], 'exit 1 though every worker drained');

  const twice = setup(t);
  twice.started();
  twice.processEvents.emit('unhandledRejection', 'not an Error', Promise.resolve());
  t.equal(twice.msgs().at(-1), "unhandled rejection in the primary: 'not an Error'; draining 2 workers, then exiting with code 1");
  t.equal(twice.lines.at(-1)?.thrown, "'not an Error'");
  twice.processEvents.emit('uncaughtException', new Error('again'), 'uncaughtException');
  t.equal(twice.msgs().at(-1), 'uncaught exception in the primary: again; exiting now (while stopping)');
  t.same([twice.w(0).signals, twice.w(1).signals], [['SIGKILL'], ['SIGKILL']]);
  t.same(twice.exits, [1]);
});

t.test('a fault during a signal\'s drain exits at once too', async (t) => {
  const s = setup(t);
  s.started();
  s.processEvents.emit('SIGTERM', 'SIGTERM');
  s.processEvents.emit('uncaughtException', new Error('in an exit handler'), 'uncaughtException');
  t.equal(s.msgs().at(-1), 'uncaught exception in the primary: in an exit handler; exiting now (while stopping)');
  t.same(s.exits, [1]);
  s.exit(0, 0);
  s.exit(1, 0);
  t.same(s.exits, [1], 'exits after that change nothing');
});

t.test('the last worker serving an inherited socket: exit 1 for a restart; not while another serves it', async (t) => {
  const s = setup(t, { inherited: SOCKET });
  s.started();
  s.exit(0, 1);
  t.equal(s.msgs().at(-1), `worker ${s.w(0).id} died (exit code 1); replacing it`, 'another still serves the socket');
  s.exit(1, null, 'SIGKILL');
  t.equal(s.msgs().at(-1), `worker ${s.w(1).id} died and was the last one serving the inherited socket fd 3 (web); exiting for a restart`);
  t.equal(s.lines.at(-1)?.level, 60);
  t.same(s.exits, [1]);
  s.timers.pending[0]!.fire();
  t.equal(s.forked.length, 2, 'the first one\'s respawn never comes');
});

t.test('with httpPort, a worker listens once its main listener does: the plain port\'s listening does not count', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const s = setup(t, { args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, '--http-port', '40080'] });
  s.primary.start();
  s.listen(0, 40_080);
  s.listen(1, 40_080);
  t.equal(s.msgs().filter((m) => m.startsWith('listening')).length, 0, 'not on the plain port alone');
  t.same(s.pool.list('listening'), []);
  s.listen(0, 40_443);
  s.listen(1, 40_443);
  t.equal(s.lines.find((l) => l.msg.startsWith('listening'))?.port, 40_443, 'announced with the main port');
  t.equal(s.pool.currentPort, 40_443);
});
