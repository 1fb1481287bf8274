// `-a localhost` listens on every loopback address the name stands for (127.0.0.1, and ::1
// where the machine has an IPv6 loopback), on one port, as a browser resolves it; an address
// of the name that cannot be bound is the usual one-line error naming it.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import t from 'tap';
import type { Test } from 'tap';
import { makeSite, spawnServer, type LogLine, type Server } from '../fixtures/server';
import { freePort, poll, tryRequest } from '../fixtures/wire';

const hasIpv6Loopback = Object.values(os.networkInterfaces()).some((list) => list?.some((a) => a.internal && a.family === 'IPv6' && a.address === '::1'));
const noIpv6 = hasIpv6Loopback ? false : 'this machine has no IPv6 loopback (::1)';

let root: string;
t.before(() => {
  root = makeSite(t, { 'index.html': 'hello\n' });
});

const isListening = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('listening on');

async function launch(t: Test, workers: number, port = 0, extra: string[] = []): Promise<Server> {
  const s = spawnServer({ args: ['-a', 'localhost', '-p', String(port), '--workers', String(workers), '--log-pretty', 'false', '--root', root, ...extra] });
  t.teardown(() => s.kill());
  const line = await s.waitForLog(isListening);
  return { ...s, port: line.port as number };
}

t.test('single process: answers on 127.0.0.1 and ::1, and the start-up line lists both', async (t) => {
  const s = await launch(t, 0);
  const line = s.logs.find(isListening)!;
  const p = s.port;
  t.equal((await tryRequest(p, '127.0.0.1')).outcome, 'answered', '127.0.0.1');
  if (noIpv6) {
    t.comment(`::1 not checked: ${noIpv6}`);
    t.same(line.urls, [`http://localhost:${p}/`]);
  } else {
    t.equal((await tryRequest(p, '::1')).outcome, 'answered', '::1, on the same port');
    t.same(line.urls, [`http://localhost:${p}/`, `http://127.0.0.1:${p}/`, `http://[::1]:${p}/`]);
    t.equal(line.msg, `listening on http://localhost:${p}/, http://127.0.0.1:${p}/ and http://[::1]:${p}/ (single process)`);
  }
  process.kill(s.pid, 'SIGTERM');
  t.equal((await s.exited()).code, 0);
});

/** Inodes of the LISTEN sockets on `address` (as /proc/net/tcp{,6} spells it) and `port`. */
function listeningInodes(table: string, address: string, port: number): string[] {
  const local = `${address}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return fs
    .readFileSync(table, 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[1] === local && cols[3] === '0A')
    .map((cols) => cols[9]!);
}

/** The socket inodes a process holds. */
function socketInodes(pid: number): Set<string> {
  const found = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    if (m) found.add(m[1]!);
  }
  return found;
}

t.test('cluster: every worker holds a listening socket on each address, and answers on both', { skip: noIpv6 }, async (t) => {
  const s = await launch(t, 2, 0, ['--scheduling', 'none']);
  const workers = fs.readFileSync(`/proc/${s.pid}/task/${s.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  t.equal(workers.length, 2);
  const v4 = listeningInodes('/proc/net/tcp', '0100007F', s.port);
  // The primary may announce before the second address listens (its listen goes through the
  // primary once per address): wait until it does, or the count below fails.
  await poll(async () => listeningInodes('/proc/net/tcp6', '00000000000000000000000001000000', s.port).length > 0, 50, 100);
  const v6 = listeningInodes('/proc/net/tcp6', '00000000000000000000000001000000', s.port);
  t.equal(v4.length, 1, 'one socket on 127.0.0.1, shared');
  t.equal(v6.length, 1, 'one socket on ::1, shared');
  for (const pid of workers) {
    // The primary may announce before the last worker's second listener is up: wait for it.
    const both = await poll(async () => {
      const held = socketInodes(pid);
      return held.has(v4[0]!) && held.has(v6[0]!);
    }, 50, 100);
    t.ok(both, `worker ${pid} accepts on both`);
  }
  for (const host of ['127.0.0.1', '::1']) t.equal((await tryRequest(s.port, host)).outcome, 'answered', host);
  process.kill(s.pid, 'SIGTERM');
  t.equal((await s.exited()).code, 0);
});

t.test('::1 taken on the port: the one-line error names it, exit 1', { skip: noIpv6 }, async (t) => {
  const port = await freePort();
  const squatter = net.createServer();
  await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen({ host: '::1', port, ipv6Only: true }, resolve));
  t.teardown(() => squatter.close());
  for (const workers of [0, 1]) {
    const s = spawnServer({ args: ['-a', 'localhost', '-p', String(port), '--workers', String(workers), '--log-pretty', 'false', '--root', root] });
    t.teardown(() => s.kill());
    t.equal((await s.exited()).code, 1, `workers ${workers}: exit 1`);
    t.equal(s.stderr(), `fleetserve: port ${port} on ::1 is already in use\n`, `workers ${workers}: the address named`);
  }
});
