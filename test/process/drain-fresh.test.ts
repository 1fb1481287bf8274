// A connection accepted just before a drain has usually not been read yet, but its request is
// on the way: it may send it within 250 ms of being accepted and is answered with
// Connection: close instead of being reset. One that stays silent is closed when the 250 ms
// are up. (Restarts under socket activation and behind a load balancer rely on this.)
import t from 'tap';
import { hasResponses, makeSite, parseResponses, req, startServer } from '../fixtures/server';
import fs from 'node:fs';
import { Client, poll } from '../fixtures/wire';

/**
 * Connections completed by the kernel but not yet accepted by the server on 127.0.0.1:port
 * (a listening socket's rx_queue in /proc/net/tcp). Closing the listening socket resets
 * those, so the test waits until the server has accepted both of its connections.
 */
function acceptQueue(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[3] === '0A' && cols[1]?.endsWith(`:${hexPort}`)) return parseInt(cols[4]!.split(':')[1]!, 16);
  }
  return -1;
}

t.test('drain: a just-accepted connection may still send its first request', async (t) => {
  const root = makeSite(t, { 'a.txt': 'A body\n' });
  const s = await startServer(t, { root, workers: 0, args: ['--keep-alive-timeout-ms', '30000'] });
  const late = await Client.connect(s.port);
  const silent = await Client.connect(s.port);
  const connectedAt = performance.now();
  t.teardown(() => (late.destroy(), silent.destroy()));
  t.ok(await poll(async () => acceptQueue(s.port) === 0, 50, 5), 'both accepted by the server');
  const acceptedBy = performance.now(); // the server accepted both between connectedAt and now
  process.kill(s.pid, 'SIGTERM');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining:'));
  const drainingBy = performance.now(); // the drain began before this
  late.write(req('/a.txt'));
  await late.waitFor(hasResponses(1), 3000, 'the answer');
  const [r] = parseResponses(late.data());
  t.equal(r!.status, 200, 'answered');
  t.equal(r!.body.toString(), 'A body\n');
  t.equal(r!.headers.connection, 'close', 'with Connection: close');
  t.ok(await late.waitClosed(1000), 'then closed');

  t.ok(await silent.waitClosed(1000), 'the silent connection is closed');
  // Not before 250 ms after it was accepted (accepted after connectedAt), and not much later
  // than the later of 250 ms after it was accepted (by acceptedBy) and the drain (by
  // drainingBy): a slow machine moves both points, a broken grace misses one of the bounds.
  const waited = silent.closedAt - connectedAt;
  t.ok(waited >= 245, `not before 250 ms after it was accepted (${Math.round(waited)} ms)`);
  const due = Math.max(acceptedBy + 250, drainingBy);
  const late_ = silent.closedAt - due;
  t.ok(late_ < 250, `closed when its 250 ms were up, or at the drain if they were already (${Math.round(late_)} ms after)`);
  t.equal(silent.received, 0, 'without a byte');
  t.equal((await s.exited(5000)).code, 0, 'clean drain');
});
