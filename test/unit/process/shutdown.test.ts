// The drain protocol with fakes (no sockets, no processes): what Drainer closes, when it
// exits and with which code, the pre-drain, and the second-signal swap of onStopSignals.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { Drainer, EXIT_FORCED, onStopSignals, stopAnnouncement, type Drainable, type DrainOptions } from '../../../src/process/shutdown';
import type { Logger } from '../../../src/logs/logger';

class FakeConnection implements Drainable {
  drained = 0;
  destroyed = 0;
  /** The reasons it was cut with (a real one logs its responses with them). */
  cuts: string[] = [];
  constructor(
    public idle: boolean,
    private readonly set: Set<Drainable>,
    private readonly onClose: () => void,
  ) {}
  cut(reason: 'drain-deadline' | 'forced'): void {
    this.cuts.push(reason);
    this.close();
  }
  drain(): void {
    this.drained++;
    if (this.idle) this.close();
  }
  /** The connection ends: it leaves the set and tells the drainer, as worker.ts wires it. */
  close(): void {
    this.destroyed++;
    if (this.set.delete(this)) this.onClose();
  }
}

function setup(opts: Partial<Pick<DrainOptions, 'timeoutMs' | 'preDrainMs'>> = {}) {
  const lines: { level: string; msg: string }[] = [];
  const log = {
    info: (_o: unknown, msg: string) => lines.push({ level: 'info', msg }),
    warn: (_o: unknown, msg: string) => lines.push({ level: 'warn', msg }),
  } as unknown as Logger;
  const connections = new Set<Drainable>();
  let serverClosed = 0;
  const exits: { code: number; at: number }[] = [];
  const drainer: Drainer = new Drainer({
    server: { close: () => serverClosed++ } as unknown as DrainOptions['server'],
    connections,
    timeoutMs: opts.timeoutMs ?? 1000,
    preDrainMs: opts.preDrainMs ?? 0,
    log,
    exit: (code) => exits.push({ code, at: performance.now() }),
  });
  const add = (idle: boolean) => {
    const c = new FakeConnection(idle, connections, () => drainer.check());
    connections.add(c);
    return c;
  };
  return { drainer, add, lines, exits, connections, serverClosed: () => serverClosed };
}

t.test('idle connections close at once, busy ones are asked to finish, exit 0 when the last goes', async (t) => {
  const d = setup();
  const idle = d.add(true);
  const busy = d.add(false);
  d.drainer.begin('test');
  t.equal(d.serverClosed(), 1, 'stops accepting');
  t.ok(d.drainer.draining);
  t.equal(idle.destroyed, 1, 'the idle one is gone');
  t.equal(busy.drained, 1, 'the busy one was told');
  t.equal(busy.destroyed, 0, 'and is left to finish');
  t.same(d.exits, [], 'no exit while one is open');
  t.match(d.lines[0]!.msg, /^draining: 2 open connections, 1 idle closed now$/);
  busy.close();
  t.same(d.exits.map((e) => e.code), [0]);
  t.match(d.lines.at(-1)!.msg, /^drained 2 connections in \d+ ms$/);
});

t.test('no connection at all: exit 0 at once', async (t) => {
  const d = setup();
  d.drainer.begin('test');
  t.same(d.exits.map((e) => e.code), [0]);
  d.drainer.begin('again');
  t.equal(d.exits.length, 1, 'a second begin changes nothing');
});

t.test('the deadline cuts what is left and exits 1, within its value', async (t) => {
  const d = setup({ timeoutMs: 200 });
  const busy = d.add(false);
  const t0 = performance.now();
  d.drainer.begin('test');
  await new Promise((r) => setTimeout(r, 400));
  t.same(d.exits.map((e) => e.code), [1], 'exit code 1 on the drain deadline');
  const took = d.exits[0]!.at - t0;
  t.ok(took >= 195 && took < 300, `fired after ${Math.round(took)} ms (deadline 200 ms)`);
  t.equal(busy.destroyed, 1, 'the busy connection was cut');
  t.same(busy.cuts, ['drain-deadline'], 'for the drain deadline (its responses are logged with that reason)');
  t.ok(d.lines.some((l) => l.level === 'warn' && l.msg === 'drain timeout after 200 ms: cutting 1 connection'));
});

t.test('force cuts everything and exits 130; nothing exits twice', async (t) => {
  const d = setup({ timeoutMs: 100 });
  const a = d.add(false);
  const b = d.add(false);
  d.drainer.begin('test');
  d.drainer.force('second SIGINT');
  t.same(d.exits.map((e) => e.code), [EXIT_FORCED]);
  t.equal(EXIT_FORCED, 130);
  t.equal(a.destroyed + b.destroyed, 2);
  t.same([...a.cuts, ...b.cuts], ['forced', 'forced'], 'both cut as forced');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(d.exits.length, 1, 'the deadline timer was cleared');
});

t.test('stop with a pre-drain: stopping at once, draining only after the delay', async (t) => {
  const d = setup({ preDrainMs: 150 });
  const busy = d.add(false);
  const t0 = performance.now();
  d.drainer.stop('SIGTERM');
  t.ok(d.drainer.stopping, 'the health check fails from now on');
  t.notOk(d.drainer.draining, 'but connections are still accepted');
  t.equal(d.serverClosed(), 0);
  t.equal(busy.drained, 0);
  d.drainer.stop('SIGTERM again');
  t.equal(d.lines.filter((l) => l.msg.startsWith('pre-drain')).length, 1, 'a second stop changes nothing');
  while (!d.drainer.draining && performance.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 5));
  const took = performance.now() - t0;
  t.ok(took >= 145 && took < 225, `the drain began after ${Math.round(took)} ms (pre-drain 150 ms)`);
  t.equal(d.serverClosed(), 1);
  t.equal(busy.drained, 1);
  busy.close();
  t.same(d.exits.map((e) => e.code), [0]);
});

t.test('stop without a pre-drain drains at once; force during a pre-drain exits 130', async (t) => {
  const now = setup();
  now.drainer.stop('SIGTERM');
  t.same(now.exits.map((e) => e.code), [0]);

  const pre = setup({ preDrainMs: 10_000 });
  pre.add(false);
  pre.drainer.stop('SIGINT');
  pre.drainer.force('second SIGINT');
  t.same(pre.exits.map((e) => e.code), [EXIT_FORCED]);
});

t.test('onStopSignals: the first signal calls first, every later one second', async (t) => {
  const signals = new EventEmitter();
  const calls: string[] = [];
  onStopSignals((s) => calls.push(`first ${s}`), (s) => calls.push(`second ${s}`), signals);
  signals.emit('SIGTERM', 'SIGTERM');
  signals.emit('SIGINT', 'SIGINT');
  signals.emit('SIGTERM', 'SIGTERM');
  t.same(calls, ['first SIGTERM', 'second SIGINT', 'second SIGTERM']);
  t.equal(signals.listenerCount('SIGINT'), 1, 'one listener each, swapped, not added');
  t.equal(signals.listenerCount('SIGTERM'), 1);
});

t.test('a stop announces how long it may take and that a second signal stops at once', async (t) => {
  const plain = { drainTimeoutMs: 10_000, preDrainDelayMs: 0 };
  t.equal(stopAnnouncement('SIGINT', '2 workers', plain), 'SIGINT: draining 2 workers, up to 10000 ms; Ctrl+C again to stop at once');
  t.equal(stopAnnouncement('SIGTERM', '1 worker', plain), 'SIGTERM: draining 1 worker, up to 10000 ms; a second SIGTERM stops at once');
  t.equal(stopAnnouncement('SIGINT', '', plain), 'SIGINT: draining, up to 10000 ms; Ctrl+C again to stop at once', 'the single process');
  t.equal(
    stopAnnouncement('SIGTERM', '2 workers', { drainTimeoutMs: 8000, preDrainDelayMs: 3000 }),
    'SIGTERM: draining 2 workers after a 3000 ms pre-drain, then up to 8000 ms; a second SIGTERM stops at once',
  );
  t.equal(stopAnnouncement('SIGTERM', '3 workers', plain, true), 'SIGTERM: draining 3 workers (reload aborted), up to 10000 ms; a second SIGTERM stops at once');
});
