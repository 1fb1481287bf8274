// Faults nobody caught, with fakes: the first uncaught exception or unhandled rejection is
// one handler, every later one the other; the line says what it was; a drain begun by a fault
// skips the pre-drain and exits 1 however it ends.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { logFault, onFaults } from '../../../src/process/faults';
import { Drainer, EXIT_FORCED, type Drainable } from '../../../src/process/shutdown';
import { recordingLog } from '../../fixtures/process-fakes';

t.test('onFaults: every uncaught exception and unhandled rejection reaches the handler, with its origin', async (t) => {
  const source = new EventEmitter();
  const calls: string[] = [];
  onFaults((err, origin) => calls.push(`${origin} ${String(err)}`), source);
  source.emit('unhandledRejection', new Error('a'));
  source.emit('uncaughtException', new Error('b'));
  source.emit('unhandledRejection', 'c');
  t.same(calls, ['unhandledRejection Error: a', 'uncaughtException Error: b', 'unhandledRejection c']);
});

t.test('the fault line: what, the message, what happens next; the error itself for its stack', async (t) => {
  const { log, lines } = recordingLog();
  const err = new Error('boom');
  logFault(log, err, 'uncaughtException', 'draining, then exiting with code 1');
  logFault(log, 'just a string', 'unhandledRejection', 'next');
  t.same(lines, [
    { level: 'error', fields: { err, origin: 'uncaughtException' }, msg: 'uncaught exception: boom; draining, then exiting with code 1' },
    { level: 'error', fields: { thrown: "'just a string'", origin: 'unhandledRejection' }, msg: "unhandled rejection: 'just a string'; next" },
  ]);
});

class Busy implements Drainable {
  idle = false;
  constructor(private readonly set: Set<Drainable>, private readonly onClose: () => void) {}
  drain(): void {}
  cut(): void {
    this.close();
  }
  close(): void {
    if (this.set.delete(this)) this.onClose();
  }
}

function drainer(preDrainMs: number) {
  const { log, lines } = recordingLog();
  const connections = new Set<Drainable>();
  const exits: number[] = [];
  let closes = 0;
  const d: Drainer = new Drainer({ server: { close: () => void closes++ }, connections, timeoutMs: 60_000, preDrainMs, log, exit: (code) => exits.push(code) });
  const busy = () => {
    const c = new Busy(connections, () => d.check());
    connections.add(c);
    return c;
  };
  return { d, lines, exits, busy, closes: () => closes };
}

t.test('Drainer.fail: the drain at once (no pre-drain), exit 1 even when it ends cleanly', async (t) => {
  const o = drainer(60_000);
  const c = o.busy();
  o.d.fail('uncaughtException');
  t.ok(o.d.draining, 'draining now, not after the 60 s pre-drain');
  t.equal(o.closes(), 1, 'stopped accepting');
  t.notOk(o.lines.some((l) => l.msg.startsWith('pre-drain')));
  t.same(o.exits, []);
  c.close();
  t.same(o.exits, [1]);
});

t.test('a fault during a drain that began for a signal: that drain goes on and ends with 1', async (t) => {
  const o = drainer(0);
  const c = o.busy();
  o.d.stop('SIGTERM');
  o.d.fail('unhandledRejection');
  t.equal(o.lines.filter((l) => l.msg.startsWith('draining:')).length, 1, 'one drain');
  c.close();
  t.same(o.exits, [1]);
});

t.test('a fault during the pre-drain begins the drain at once', async (t) => {
  const o = drainer(60_000);
  o.busy();
  o.d.stop('SIGTERM');
  t.notOk(o.d.draining, 'pre-drain');
  o.d.fail('uncaughtException');
  t.ok(o.d.draining);
  o.d.force('second fault', 1);
  t.same(o.exits, [1], 'a second fault stops at once with 1');
});

t.test('without a fault a clean drain is 0 and a forced stop 130, as before', async (t) => {
  const a = drainer(0);
  a.d.begin('SIGTERM');
  t.same(a.exits, [0]);
  const b = drainer(0);
  b.busy();
  b.d.begin('SIGTERM');
  b.d.force('second SIGTERM');
  t.same(b.exits, [EXIT_FORCED]);
});
