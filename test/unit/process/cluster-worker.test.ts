// The cluster worker's role with a fake process: a failed start goes to the primary (and
// the exit waits for the message to be written), the primary announces for it, SIGHUP is
// ignored, SIGUSR1 and the primary's messages reach the right parts.
import t from 'tap';
import type { AcceptGate } from '../../../src/process/accept-gate';
import { ClusterWorker } from '../../../src/process/cluster-worker';
import type { ServingMetrics } from '../../../src/metrics/serving-metrics';
import type { Drainer } from '../../../src/process/shutdown';
import type { WorkerParts } from '../../../src/process/worker-role';
import { FakeHost, recordingLoggers } from '../../fixtures/process-fakes';

function setup() {
  const host = new FakeHost();
  const l = recordingLoggers();
  const role = new ClusterWorker(3, l.loggers, host);
  const calls: string[] = [];
  const parts = {
    drainer: { stop: (r: string) => calls.push(`stop ${r}`), begin: (r: string) => calls.push(`begin ${r}`), force: (r: string) => calls.push(`force ${r}`) } as unknown as Drainer,
    gate: { answer: (g: boolean) => calls.push(`answer ${g}`) } as unknown as AcceptGate,
  } as WorkerParts;
  return { host, role, calls, parts, ...l };
}

t.test('a failed start is the primary\'s to print; the exit waits until the message is written', async (t) => {
  for (const [kind, type] of [
    ['listen', 'listen-error'],
    ['config', 'start-error'],
  ] as const) {
    const o = setup();
    o.role.failStart({ kind, message: 'port 80 on ::1 is already in use' });
    t.same(o.host.sent, [{ type, message: 'port 80 on ::1 is already in use' }], kind);
    t.same(o.host.errors, [], 'nothing on its own stderr');
    t.same(o.host.exits, [], 'not before it is written');
    o.host.deliver();
    t.same(o.host.exits, [1], 'then exit 1: the primary stops everything');
    t.equal(o.flushes(), 1, 'logs flushed first');
  }
});

t.test('asking to pause is a message to the primary; the metrics label is the worker id', async (t) => {
  const o = setup();
  o.role.askPause();
  t.same(o.host.sent, [{ type: 'accept-pause' }]);
  t.equal(o.role.metricsLabel, '3');
});

t.test('no announcement of its own: the primary speaks for the cluster', async (t) => {
  const o = setup();
  o.role.announce();
  o.role.announceStop();
  t.same(o.lines, []);
});

t.test('SIGHUP is ignored (a debug line), SIGUSR1 reopens the logs quietly', async (t) => {
  const o = setup();
  o.role.install(o.parts);
  o.host.emit('SIGHUP');
  t.same(o.calls, [], 'no reload, no drain');
  t.same(o.lines.map((l) => [l.level, l.msg]), [['debug', 'SIGHUP ignored by a worker: the primary reloads']]);
  o.host.emit('SIGUSR1');
  t.equal(o.reopens(), 1);
  t.same(o.lines.at(-1), { level: 'debug', fields: {}, msg: 'log files reopened' });
});

t.test("the primary's messages reach the drain, the gate and the logs", async (t) => {
  const o = setup();
  o.role.install(o.parts);
  for (const m of [{ cmd: 'drain' }, { cmd: 'retire' }, { cmd: 'force' }, { cmd: 'accept-pause', granted: true }, { cmd: 'metrics', id: 1 }]) o.host.emit('message', m);
  t.same(o.calls, ['stop primary', 'begin replaced by a reload', "force the primary's second stop signal", 'answer true']);
  o.host.emit('message', { cmd: 'reopen' });
  t.equal(o.reopens(), 1);
});

t.test('metrics: it answers the primary, and hands over its final counts before it exits', async (t) => {
  const o = setup();
  const done: string[] = [];
  const metrics = {
    answerPrimary: () => done.push('answerPrimary'),
    finalCounts: async () => (done.push('finalCounts'), []),
  } as unknown as ServingMetrics;
  o.role.startMetrics(metrics, {} as never, () => done.push('listen'));
  t.same(done, ['answerPrimary', 'listen']);
  o.role.exit(0);
  t.same(o.host.exits, [], 'the exit waits for the final counts');
  await new Promise((r) => setTimeout(r, 1500)); // no primary here: the send gives up after 1 s
  t.same(done, ['answerPrimary', 'listen', 'finalCounts']);
  t.same(o.host.exits, [0]);
});
