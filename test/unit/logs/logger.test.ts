import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { accessBatchBytes, accessLineWriter, LineBatcher } from '../../../src/logs/logger';

const record = {
  method: 'GET',
  path: '/a "quoted"\\path?x=1',
  protocol: 'HTTP/1.1',
  listener: 'http' as const,
  status: 200,
  bytes: 455,
  completed: true,
  reason: null,
  ms: 0.25,
  remote: '127.0.0.1',
  referer: 'http://example.com/a"b\\c',
  userAgent: 'curl/8.5.0 "quoted" \\ and \u00e9 (obs-text)',
};

t.test('an access line is one JSON object with the fields pino would write, in order', (t) => {
  const out: string[] = [];
  accessLineWriter({ write: (s: string) => out.push(s) }, 3)(record);
  t.equal(out.length, 1);
  t.ok(out[0]!.endsWith('\n'));
  const obj = JSON.parse(out[0]!);
  t.same(Object.keys(obj), ['level', 'time', 'pid', 'worker', 'kind', 'method', 'path', 'protocol', 'listener', 'status', 'bytes', 'completed', 'ms', 'remote', 'referer', 'userAgent']);
  const { reason: _none, ...written } = record;
  t.strictSame(obj, { level: 30, time: obj.time, pid: process.pid, worker: 3, kind: 'access', ...written }, 'a complete response has no reason field');
  t.ok(/^[\x20-\x7e]*\n$/.test(out[0]!), 'the line is printable ASCII: obs-text is \\u-escaped');
  t.ok(!Number.isNaN(Date.parse(obj.time)), 'ISO time');
  t.end();
});

t.test('behind a proxy, the line ends with the peer (when it is not the client) and the scheme a trusted proxy reported', (t) => {
  const lines: string[] = [];
  const write = accessLineWriter({ write: (s: string) => lines.push(s) }, 1);
  write({ ...record, remote: '203.0.113.9', peer: '10.0.0.2', proto: 'https' });
  write({ ...record, remote: '2001:db8::7', peer: '10.0.0.2', proto: undefined });
  write({ ...record, peer: undefined, proto: undefined });
  const [both, peerOnly, neither] = lines.map((l) => JSON.parse(l));
  t.same(Object.keys(both).slice(-5), ['remote', 'referer', 'userAgent', 'peer', 'proto']);
  t.match(both, { remote: '203.0.113.9', peer: '10.0.0.2', proto: 'https' });
  t.same(Object.keys(peerOnly).slice(-4), ['remote', 'referer', 'userAgent', 'peer'], 'no proto field when none was reported');
  t.match(peerOnly, { remote: '2001:db8::7', peer: '10.0.0.2' });
  t.same(Object.keys(neither).slice(-3), ['remote', 'referer', 'userAgent'], 'without a proxy the line is as before');
  t.end();
});

t.test('every line names its listener; an HTTPS line also its TLS version, right after', (t) => {
  const out: string[] = [];
  const write = accessLineWriter({ write: (s: string) => out.push(s) }, 2);
  write({ ...record, listener: 'https', tls: 'TLSv1.3' });
  write({ ...record, listener: 'https', tls: 'TLSv1.2' });
  write({ ...record, listener: 'http', tls: undefined });
  const [v13, v12, plain] = out.map((l) => JSON.parse(l));
  t.same(Object.keys(v13).slice(7, 11), ['protocol', 'listener', 'tls', 'status']);
  const { reason: _none, ...written } = record;
  t.strictSame(v13, { level: 30, time: v13.time, pid: process.pid, worker: 2, kind: 'access', ...written, listener: 'https', tls: 'TLSv1.3' });
  t.match(v12, { listener: 'https', tls: 'TLSv1.2' });
  t.same(Object.keys(plain).slice(7, 10), ['protocol', 'listener', 'status'], 'plain HTTP: no tls field');
  t.equal(plain.listener, 'http');
  t.end();
});

t.test('a cut response: completed false and its reason, right after bytes', (t) => {
  const out: string[] = [];
  const write = accessLineWriter({ write: (s: string) => out.push(s) }, 1);
  for (const reason of ['client-closed', 'send-timeout', 'drain-deadline', 'forced', 'file-error'] as const) write({ ...record, bytes: 1234, completed: false, reason });
  t.equal(out.length, 5);
  for (const line of out) {
    const obj = JSON.parse(line);
    t.same(Object.keys(obj).slice(9, 14), ['status', 'bytes', 'completed', 'reason', 'ms'], 'reason follows completed');
    t.match(obj, { bytes: 1234, completed: false });
  }
  t.same(out.map((l) => JSON.parse(l).reason), ['client-closed', 'send-timeout', 'drain-deadline', 'forced', 'file-error']);
  t.end();
});

t.test('ms is written as a JSON number with its three decimals, whatever its size', (t) => {
  for (const ms of [0, 0.001, 0.25, 1.5, 999.999, 1000, 1234.567, 90_061_001.5]) {
    const out: string[] = [];
    accessLineWriter({ write: (s: string) => out.push(s) }, 1)({ ...record, ms });
    t.equal(JSON.parse(out[0]!).ms, ms, `${ms}`);
    t.match(out[0]!, /"ms":\d+\.\d{3},/, `${ms}: integer part and three digits`);
  }
  t.end();
});

t.test('batches hold whole lines and never exceed the batch size', (t) => {
  const writes: string[] = [];
  const batch = new LineBatcher((bytes) => writes.push(bytes.toString('latin1')), 4096);
  const log = accessLineWriter(batch, 1);
  for (let i = 0; i < 1000; i++) log({ ...record, path: `/file-${i}.html` });
  batch.push();
  t.ok(writes.length > 1000 / 40 && writes.length < 1000 / 10, `${writes.length} writes for 1000 lines`);
  let n = 0;
  for (const w of writes) {
    t.ok(Buffer.byteLength(w) <= 4096, 'at most PIPE_BUF');
    t.ok(w.endsWith('\n'), 'ends at a line end');
    for (const line of w.split('\n').slice(0, -1)) t.equal(JSON.parse(line).path, `/file-${n++}.html`);
  }
  t.equal(n, 1000, 'every line, in order');
  const count = writes.length;
  batch.push();
  t.equal(writes.length, count, 'an empty push writes nothing');
  t.end();
});

t.test('a line longer than a batch goes out whole, after what was gathered before it', (t) => {
  const writes: string[] = [];
  const batch = new LineBatcher((bytes) => writes.push(bytes.toString('latin1')), 32);
  batch.write('short line\n');
  const long = `${'x'.repeat(40)}\n`;
  batch.write(long);
  batch.write('after\n');
  batch.push();
  t.same(writes, ['short line\n', long, 'after\n']);
  t.end();
});

t.test('batch size: 64 KiB into a regular file, PIPE_BUF into anything else', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-log-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fd = fs.openSync(path.join(dir, 'out.log'), 'w');
  t.equal(accessBatchBytes(fd), 65536);
  fs.closeSync(fd);
  const devnull = fs.openSync('/dev/null', 'w');
  t.equal(accessBatchBytes(devnull), 4096);
  fs.closeSync(devnull);
  t.equal(accessBatchBytes(987654), 4096, 'a bad descriptor falls back to the safe size');
  t.end();
});
