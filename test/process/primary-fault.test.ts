// A fault in the primary (an uncaught exception, an unhandled rejection): one error line with
// the stack, every worker drained as on SIGTERM, exit 1; a second fault during that drain
// exits at once. The fault comes from a fixture loaded into the real server with
// NODE_OPTIONS=--require (test/fixtures/primary-fault.js), not from anything in src/.
import path from 'node:path';
import t, { type Test } from 'tap';
import { FIXTURES } from '../fixtures/lines';
import { spawnServer, type LogLine } from '../fixtures/server';

const FIXTURE = path.join(FIXTURES, 'primary-fault.js');

function start(t: Test, workers: number, env: Record<string, string>, args: string[] = []) {
  const s = spawnServer({
    args: ['--host', '127.0.0.1', '--port', '0', '--workers', String(workers), '--log-pretty', 'false', ...args],
    env: { NODE_OPTIONS: `--require ${FIXTURE}`, FAULT_WORKERS: String(workers), ...env },
  });
  t.teardown(() => s.kill());
  return s;
}

const faultLine = (kind: string) => (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith(`${kind} in the primary: test fault`);

t.test('an uncaught exception: logged once with its stack, every worker drained, exit 1', async (t) => {
  const s = start(t, 2, { FAULT: 'throw' });
  const { code, signal } = await s.exited();
  t.equal(code, 1, 'exit code 1');
  t.equal(signal, null);
  const errors = s.logs.filter(faultLine('uncaught exception'));
  t.equal(errors.length, 1, 'one error line');
  const line = errors[0]!;
  t.equal(line.level, 50, 'at error level');
  t.equal(line.worker, 'primary');
  t.equal(line.msg, 'uncaught exception in the primary: test fault (first); draining 2 workers, then exiting with code 1');
  const err = line.err as { message: string; stack: string };
  t.equal(err.message, 'test fault (first)');
  t.match(err.stack, /primary-fault\.js:\d+/, 'the stack names where it was thrown');
  for (const id of [1, 2]) {
    t.ok(s.logs.some((l) => l.worker === id && l.reason === 'primary' && String(l.msg).startsWith('draining: ')), `worker ${id} drained as on SIGTERM`);
    t.ok(s.logs.some((l) => l.worker === 'primary' && l.msg === `worker ${id} exited (0)`), `worker ${id} exited 0`);
  }
  t.equal(s.logs.at(-1)?.msg, 'workers stopped; exiting with errors', 'the last line says why the code is not 0');
  t.equal(s.stderr(), '', 'nothing on stderr: Node did not print the fault itself');
});

t.test('an unhandled rejection: the same', async (t) => {
  const s = start(t, 1, { FAULT: 'reject' });
  const { code } = await s.exited();
  t.equal(code, 1, 'exit code 1');
  const errors = s.logs.filter(faultLine('unhandled rejection'));
  t.equal(errors.length, 1, 'one error line');
  t.equal(errors[0]!.msg, 'unhandled rejection in the primary: test fault (first); draining 1 worker, then exiting with code 1');
  t.match((errors[0]!.err as { stack: string }).stack, /primary-fault\.js:\d+/);
  t.ok(s.logs.some((l) => l.worker === 1 && l.reason === 'primary' && String(l.msg).startsWith('draining: ')), 'the worker drained');
});

t.test('a second fault during that drain exits at once', async (t) => {
  // A pre-drain of 5 s keeps the drain going well past the second fault, 100 ms later.
  const s = start(t, 2, { FAULT: 'throw', FAULT_AGAIN_MS: '100' }, ['--pre-drain-delay-ms', '5000']);
  const first = await s.waitForLog(faultLine('uncaught exception'));
  const firstAt = Date.now();
  const { code } = await s.exited();
  const ms = Date.now() - firstAt;
  t.equal(code, 1, 'exit code 1');
  t.ok(ms < 2500, `exited ${ms} ms after the first fault, long before the 5 s pre-drain ended`);
  t.equal(first.msg, 'uncaught exception in the primary: test fault (first); draining 2 workers, then exiting with code 1');
  const second = s.logs.filter(faultLine('uncaught exception'))[1];
  t.equal(second?.msg, 'uncaught exception in the primary: test fault (second); exiting now (while stopping)');
  t.equal(second?.level, 50);
  t.notOk(s.logs.some((l) => String(l.msg).startsWith('drained ')), 'no worker got to finish its drain');
});
