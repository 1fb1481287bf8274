// A connection accepted just before a drain has usually not been read yet, but its request is
// on the way: it gets FRESH_DRAIN_GRACE_MS (250 ms) to send it and is answered with
// Connection: close instead of being reset. One that stays silent is closed after the grace.
import t from 'tap';
import { hasResponses, makeSite, parseResponses, req, startServer } from './fixtures/server';
import { Client, sleep } from './fixtures/wire';

t.test('drain: a new connection may still send its first request within 250 ms', async (t) => {
  const root = makeSite(t, { 'a.txt': 'A body\n' });
  const s = await startServer(t, { root, workers: 0, args: ['--keep-alive-timeout-ms', '30000'] });
  const late = await Client.connect(s.port);
  const silent = await Client.connect(s.port);
  t.teardown(() => (late.destroy(), silent.destroy()));
  await sleep(100); // both accepted by the server
  const signalledAt = performance.now();
  process.kill(s.pid, 'SIGTERM');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining:'));
  await sleep(50);
  late.write(req('/a.txt'));
  await late.waitFor(hasResponses(1), 3000, 'the answer');
  const [r] = parseResponses(late.data());
  t.equal(r!.status, 200, 'answered');
  t.equal(r!.body.toString(), 'A body\n');
  t.equal(r!.headers.connection, 'close', 'with Connection: close');
  t.ok(await late.waitClosed(1000), 'then closed');

  t.ok(await silent.waitClosed(1000), 'the silent connection is closed');
  const waited = silent.closedAt - signalledAt;
  t.ok(waited >= 200 && waited < 500, `after the 250 ms grace (${Math.round(waited)} ms)`);
  t.equal(silent.received, 0, 'without a byte');
  t.equal((await s.exited(5000)).code, 0, 'clean drain');
});
