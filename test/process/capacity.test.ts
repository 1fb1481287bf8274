// Connection capacity and file-descriptor exhaustion: a full worker stops accepting so another
// takes the connections; when none can, the client gets 503 + Retry-After, never a silent
// close; out of descriptors while opening a file is 503 + Retry-After, not 500. What happened
// is logged at most once a second per worker, with counts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { AcceptGate } from '../../src/process/accept-gate';
import { connectionCapacity, FD_RESERVE, parseNofileLimit } from '../../src/process/descriptors';
import type { Logger } from '../../src/logs/logger';
import { makeSite, parseResponses, startServer, type LogLine } from '../fixtures/server';
import { sleep } from '../fixtures/wire';

interface Outcome {
  status: number | null;
  headers: Record<string, string>;
  closed: boolean;
  sock: net.Socket;
}

/** Connects, sends one keep-alive GET, resolves with the response (status null: closed without one). */
function get(port: number, target: string, sock?: net.Socket): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = sock ?? net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      s.removeListener('data', onData);
      clearTimeout(timer);
      let res;
      try {
        res = parseResponses(data)[0];
      } catch {
        res = undefined;
      }
      resolve({ status: res?.status ?? null, headers: res?.headers ?? {}, closed, sock: s });
    };
    const onData = (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const end = data.indexOf('\r\n\r\n');
      const m = /\r\ncontent-length: (\d+)/i.exec(data.toString('latin1', 0, end === -1 ? data.length : end));
      if (end !== -1 && m && data.length >= end + 4 + Number(m[1])) finish(false);
    };
    const timer = setTimeout(() => finish(false), 3000);
    s.on('data', onData);
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    const send = () => s.write(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
    if (sock) send();
    else s.on('connect', send);
  });
}

const limited = (logs: LogLine[]) => logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('accept limited'));

/**
 * Until the "accept limited" lines count `refused` refusals in all: a worker writes its line at
 * once, then at most one a second with what came since, so within 2 s (the check after it says
 * whether the lines counted every refusal).
 */
async function refusalsLogged(s: { logs: LogLine[]; waitForLog(pred: (l: LogLine) => boolean, ms: number): Promise<LogLine> }, refused: number): Promise<void> {
  const sum = () => limited(s.logs).reduce((n, l) => n + (l.refused as number), 0);
  await s.waitForLog(() => sum() >= refused, 2000).catch(() => undefined);
}

t.test('maxConnections with 2 workers: a full worker pauses and the other takes the connections; then 503', async (t) => {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const s = await startServer(t, { root, workers: 2, args: ['--max-connections', '3', '--access-log', 'false'] });
  const open: net.Socket[] = [];
  t.teardown(() => open.forEach((x) => x.destroy()));
  for (let i = 0; i < 6; i++) {
    const r = await get(s.port, '/index.html');
    open.push(r.sock);
    t.equal(r.status, 200, `connection ${i + 1} of 6 (3 per worker) → 200`);
    await sleep(50); // a full worker's pause takes a round trip to the primary
  }
  const pause = await s.waitForLog((l) => l.msg?.startsWith('accept limited') && (l.pauses as number) >= 1, 2000);
  t.equal(pause.reason, 'maxConnections', 'a worker paused at its limit, and said so');
  // Both workers full: the one that may not pause (the other is paused) answers 503.
  const over = await get(s.port, '/index.html');
  t.equal(over.status, 503, 'the 7th connection → 503');
  t.equal(over.headers['retry-after'], '1', 'with Retry-After: 1');
  t.equal(over.headers.connection, 'close', 'and Connection: close');
  t.ok((await get(s.port, '/index.html')).status === 503 && over.closed === false, 'again 503, not a silent close');
  // Room again: the paused worker listens again within its pause (250 ms).
  open.splice(0).forEach((x) => x.destroy());
  await sleep(600);
  for (let i = 0; i < 4; i++) {
    const r = await get(s.port, '/index.html');
    open.push(r.sock);
    t.equal(r.status, 200, `after the clients left: connection ${i + 1} → 200`, { logs: s.logs.slice(-6) });
    await sleep(50);
  }
});

t.test('maxConnections in one process: 503 + Retry-After beyond the limit, logged once a second with a count', async (t) => {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const s = await startServer(t, { root, workers: 0, args: ['--max-connections', '2', '--access-log', 'false'] });
  const a = await get(s.port, '/index.html');
  const b = await get(s.port, '/index.html');
  t.teardown(() => (a.sock.destroy(), b.sock.destroy()));
  t.same([a.status, b.status], [200, 200], 'two connections served');
  const refused = await Promise.all(Array.from({ length: 10 }, () => get(s.port, '/index.html')));
  t.same(refused.map((r) => r.status), Array(10).fill(503), 'ten more → 503 each');
  t.ok(refused.every((r) => r.headers['retry-after'] === '1'), 'each with Retry-After: 1');
  await refusalsLogged(s, 10);
  const lines = limited(s.logs);
  t.ok(lines.length >= 1 && lines.length <= 2, `${lines.length} log lines for 10 refusals within a second`);
  t.equal(lines.reduce((n, l) => n + (l.refused as number), 0), 10, 'the lines count all 10 refusals');
  t.equal(lines[0]?.level, 40, 'as warnings');
  a.sock.destroy();
  await sleep(100);
  const again = await get(s.port, '/index.html');
  t.equal(again.status, 200, 'room again → 200');
  again.sock.destroy();
});

t.test('the file-descriptor limit lowers the capacity: no connection is dropped while another worker has room', async (t) => {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const s = await startServer(t, { root, workers: 2, wrap: ['prlimit', '--nofile=128:128'], args: ['--access-log', 'false'] });
  const lowered = await s.waitForLog((l) => l.msg?.startsWith('maxConnections 4096 lowered'), 2000);
  const capacity = lowered.capacity as number;
  t.ok(capacity > 10 && capacity < 64, `capacity per worker ${capacity} (limit 128, 2 descriptors per connection)`);
  const open: net.Socket[] = [];
  t.teardown(() => open.forEach((x) => x.destroy()));
  const statuses: (number | null)[] = [];
  // Up to three times what both workers hold: the first answers are 200s, then 503s, never a close without an answer.
  for (let i = 0; i < 3 * capacity && statuses.filter((x) => x === 503).length < 3; i++) {
    const r = await get(s.port, '/index.html');
    open.push(r.sock);
    statuses.push(r.status);
    await sleep(10); // room for the primary's answer when a worker asks to pause
  }
  const ok = statuses.filter((x) => x === 200).length;
  t.same(statuses.filter((x) => x !== 200 && x !== 503), [], 'every connection was answered (200 or 503)');
  t.ok(ok >= 2 * capacity - 2 * Math.floor(capacity / 16) - 2, `${ok} connections served: both workers filled (${capacity} each)`);
  t.ok(ok <= 2 * capacity, `${ok} served, no more than both workers hold`);
  t.ok(statuses.indexOf(503) >= ok, 'the 503s came once both were full');
  t.ok(limited(s.logs).some((l) => (l.pauses as number) >= 1), 'a full worker paused and logged it');
});

t.test('300 connections at once against 2 workers limited to 128 descriptors: each gets 200 or 503, none is dropped', async (t) => {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const s = await startServer(t, { root, workers: 2, wrap: ['prlimit', '--nofile=128:128'], args: ['--access-log', 'false'] });
  const capacity = (await s.waitForLog((l) => l.msg?.startsWith('maxConnections 4096 lowered'), 2000)).capacity as number;
  const outcomes = await Promise.all(Array.from({ length: 300 }, () => get(s.port, '/index.html')));
  t.teardown(() => outcomes.forEach((o) => o.sock.destroy()));
  const count = (st: number | null) => outcomes.filter((o) => o.status === st).length;
  t.equal(count(200) + count(503), 300, `every connection answered: ${count(200)} × 200, ${count(503)} × 503, ${300 - count(200) - count(503)} dropped`);
  t.ok(count(200) <= 2 * capacity, `no more than both workers hold (${2 * capacity})`);
  t.ok(count(200) >= capacity, 'at least one worker filled');
  t.ok(outcomes.filter((o) => o.status === 503).every((o) => o.headers['retry-after'] === '1'), 'every 503 with Retry-After: 1');
  await refusalsLogged(s, count(503));
  const refusedLogged = limited(s.logs).reduce((n, l) => n + (l.refused as number), 0);
  t.equal(refusedLogged, count(503), 'the log lines count every refusal');
  t.ok(limited(s.logs).length <= 8, `at most a line a second per worker (${limited(s.logs).length} lines)`);
});

t.test('out of descriptors while opening a file → 503 + Retry-After; the request after recovery → 200', async (t) => {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const fd = fs.openSync(path.join(root, 'big.bin'), 'w');
  fs.ftruncateSync(fd, 4 * 1024 * 1024);
  fs.closeSync(fd);
  const s = await startServer(t, { root, workers: 0, args: ['--cache-max-file-bytes', '1024', '--access-log', 'false'] });
  const first = await get(s.port, '/index.html');
  t.teardown(() => first.sock.destroy());
  t.equal(first.status, 200, 'served before');
  // Lower the process's limit to its lowest free descriptor number: the next open() fails with EMFILE.
  const used = new Set(fs.readdirSync(`/proc/${s.pid}/fd`).map(Number));
  let lowest = 0;
  while (used.has(lowest)) lowest++;
  const soft = /^Max open files\s+(\d+)/m.exec(fs.readFileSync(`/proc/${s.pid}/limits`, 'latin1'))![1];
  execFileSync('prlimit', ['--pid', String(s.pid), `--nofile=${lowest}:`]); // the soft limit only
  const r = await get(s.port, '/big.bin', first.sock);
  t.equal(r.status, 503, 'an uncached file → 503 (was 500)');
  t.equal(r.headers['retry-after'], '1', 'with Retry-After: 1');
  t.notOk(r.closed, 'the connection stays open');
  const line = await s.waitForLog((l) => l.msg?.startsWith('accept limited') && l.reason === 'descriptors', 2000);
  t.equal(line.outOfDescriptors, 1, 'the worker logs that it is out of descriptors, with a count');
  execFileSync('prlimit', ['--pid', String(s.pid), `--nofile=${soft}:`]);
  const after = await get(s.port, '/big.bin', first.sock);
  t.equal(after.status, 200, 'with descriptors again → 200');
  t.equal(s.logs.filter((l) => l.level >= 50).length, 0, 'no error lines');
});

t.test('capacity from the descriptor limit (pure)', async (t) => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 524288               files     \n';
  t.equal(parseNofileLimit(limits), 1024, 'the soft limit of /proc/self/limits');
  t.equal(parseNofileLimit(limits.replace('1024 ', 'unlimited ')), Number.POSITIVE_INFINITY, '"unlimited"');
  t.equal(parseNofileLimit('nothing here'), null, 'no such line → null');
  t.equal(connectionCapacity(4096, 1024, 20), Math.floor((1024 - 20 - FD_RESERVE) / 2), 'two descriptors per connection after the reserve');
  t.equal(connectionCapacity(100, 1024, 20), 100, 'maxConnections when it is lower');
  t.equal(connectionCapacity(4096, null, null), 4096, 'unknown limit → maxConnections');
  t.equal(connectionCapacity(4096, Number.POSITIVE_INFINITY, 20), 4096, 'unlimited → maxConnections');
  t.equal(connectionCapacity(4096, 40, 20), 1, 'never below 1');
});

t.test('the accept gate counts in words that agree with the numbers', async (t) => {
  const lines: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => lines.push(msg) } as unknown as Logger;
  let asked = 0;
  const gate = new AcceptGate({ capacity: 3, open: () => 3, close: () => {}, listen: () => {}, askPause: () => asked++, draining: () => false, log });
  t.teardown(() => gate.answer(false)); // nothing left waiting on a timer that matters
  gate.afterAdmit();
  t.equal(asked, 1, 'a full worker asks to pause');
  gate.answer(true);
  t.same(lines, ['accept limited: at 3 of 3 connections; 1 pause, 0 refused with 503, 0 times out of descriptors']);
  const d: string[] = [];
  const gate2 = new AcceptGate({ capacity: 3, open: () => 1, close: () => {}, listen: () => {}, askPause: null, draining: () => false, log: { warn: (_o: unknown, msg: string) => d.push(msg) } as unknown as Logger });
  gate2.outOfDescriptors();
  t.same(d, ['accept limited: out of file descriptors; 0 pauses, 0 refused with 503, 1 time out of descriptors']);
});
