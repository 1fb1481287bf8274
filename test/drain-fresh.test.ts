// A connection accepted just before a drain has usually not been read yet, but its request is
// on the way: it may send it within 250 ms of being accepted and is answered with
// Connection: close instead of being reset. One that stays silent is closed when the 250 ms
// are up. (Restarts under socket activation and behind a load balancer rely on this.)
import t from 'tap';
import { hasResponses, makeSite, parseResponses, req, startServer } from './fixtures/server';
import { Client } from './fixtures/wire';

t.test('drain: a just-accepted connection may still send its first request', async (t) => {
  const root = makeSite(t, { 'a.txt': 'A body\n' });
  const s = await startServer(t, { root, workers: 0, args: ['--keep-alive-timeout-ms', '30000'] });
  const late = await Client.connect(s.port);
  const silent = await Client.connect(s.port);
  const connectedAt = performance.now();
  t.teardown(() => (late.destroy(), silent.destroy()));
  process.kill(s.pid, 'SIGTERM');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining:'));
  late.write(req('/a.txt'));
  await late.waitFor(hasResponses(1), 3000, 'the answer');
  const [r] = parseResponses(late.data());
  t.equal(r!.status, 200, 'answered');
  t.equal(r!.body.toString(), 'A body\n');
  t.equal(r!.headers.connection, 'close', 'with Connection: close');
  t.ok(await late.waitClosed(1000), 'then closed');

  t.ok(await silent.waitClosed(1000), 'the silent connection is closed');
  const waited = silent.closedAt - connectedAt;
  t.ok(waited >= 200 && waited < 500, `250 ms after it was accepted (${Math.round(waited)} ms)`);
  t.equal(silent.received, 0, 'without a byte');
  t.equal((await s.exited(5000)).code, 0, 'clean drain');
});
