// files/stream.ts: the one owner of body descriptors — open checked, send, close once (a temp file and a fake socket).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import t from 'tap';
import { FileChangedError, StreamAbortedError } from '../../../src/errors';
import { identityOf } from '../../../src/files/cache';
import { bodyLength, CHUNK_BYTES, discardBody, OpenFile, sendBody, type SendControl } from '../../../src/files/stream';

/** A socket that takes writes; `hold` keeps write callbacks until `release()`. */
function fakeSocket(hold = false) {
  const chunks: Buffer[] = [];
  const held: (() => void)[] = [];
  const sock = {
    write(buf: Buffer, cb?: (err?: Error | null) => void) {
      chunks.push(Buffer.from(buf));
      if (cb) (hold ? held.push(() => cb()) : queueMicrotask(() => cb()));
      return true;
    },
  };
  return { sock: sock as unknown as net.Socket, chunks, held, data: () => Buffer.concat(chunks) };
}

function control(alive = () => true): SendControl & { wakes: number; progressed: number } {
  const c = {
    wakes: 0,
    progressed: 0,
    alive,
    progress: () => {
      c.progressed++;
    },
    waitFor: (register: (wake: () => void) => void) =>
      new Promise<void>((resolve) => {
        c.wakes++;
        register(resolve);
      }),
  };
  return c;
}

/** Whether `fd` is still open in this process. */
function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** Whether `fd` is closed within a second (fs.close completes on the thread pool). */
async function closedSoon(fd: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!isOpen(fd)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-stream-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'big.bin');
const bytes = Buffer.alloc(CHUNK_BYTES * 3 + 123);
for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
fs.writeFileSync(file, bytes);
const described = () => ({ path: file, ...identityOf(fs.statSync(file)) });

t.test('a range is sent whole and the descriptor closed', async (t) => {
  const f = await OpenFile.open(described());
  const s = fakeSocket();
  const ctl = control();
  const body = { kind: 'file' as const, file: f, start: 10, end: bytes.length - 5 };
  const n = await sendBody(s.sock, body, ctl);
  t.equal(n, bytes.length - 15);
  t.equal(bodyLength(body), n, 'bodyLength says it beforehand');
  t.equal(ctl.progressed, 4, 'progress once per completed chunk write (3 whole chunks and a short one)');
  t.same(s.data(), bytes.subarray(10, bytes.length - 5));
  t.ok(await closedSoon(f.fd), 'closed after the body');
});

t.test('multipart: heads, parts, tail, in order', async (t) => {
  const f = await OpenFile.open(described());
  const s = fakeSocket();
  const head1 = Buffer.from('--B\r\n\r\n');
  const head2 = Buffer.from('\r\n--B\r\n\r\n');
  const tail = Buffer.from('\r\n--B--\r\n');
  const body = { kind: 'multipart' as const, file: f, parts: [{ head: head1, start: 0, end: 3 }, { head: head2, start: CHUNK_BYTES, end: CHUNK_BYTES + 2 }], tail };
  const n = await sendBody(s.sock, body, control());
  const want = Buffer.concat([head1, bytes.subarray(0, 3), head2, bytes.subarray(CHUNK_BYTES, CHUNK_BYTES + 2), tail]);
  t.same(s.data(), want);
  t.equal(n, want.length);
  t.equal(bodyLength(body), want.length, 'bodyLength says it beforehand');
  t.ok(await closedSoon(f.fd));
});

t.test('multipart: resolves once the kernel took the tail, not when it was handed over', async (t) => {
  const f = await OpenFile.open(described());
  const s = fakeSocket(true);
  const head = Buffer.from('--B\r\n\r\n');
  const tail = Buffer.from('\r\n--B--\r\n');
  let done = false;
  const sending = sendBody(s.sock, { kind: 'multipart', file: f, parts: [{ head, start: 0, end: 3 }], tail }, control()).then((n) => {
    done = true;
    return n;
  });
  while (!s.chunks.some((c) => c.equals(tail))) {
    s.held.shift()?.();
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(done, 'the tail is handed over but its write has not completed: still sending');
  while (s.held.length > 0) s.held.shift()!();
  t.equal(await sending, head.length + 3 + tail.length);
});

t.test('backpressure: at most two chunks in flight until the socket takes them', async (t) => {
  const f = await OpenFile.open(described());
  const s = fakeSocket(true);
  const ctl = control();
  const sending = sendBody(s.sock, { kind: 'file', file: f, start: 0, end: bytes.length }, ctl);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(s.chunks.length, 2, 'two chunks written, then it waits');
  t.equal(ctl.wakes, 1);
  while (s.held.length > 0 || s.chunks.length < 4) {
    s.held.shift()?.();
    await new Promise((r) => setTimeout(r, 5));
  }
  while (s.held.length > 0) s.held.shift()!();
  t.equal(await sending, bytes.length);
  t.same(s.data(), bytes);
});

t.test('a connection that goes away stops the body and still closes the file', async (t) => {
  const f = await OpenFile.open(described());
  let alive = true;
  const s = fakeSocket(true);
  const sending = sendBody(s.sock, { kind: 'file', file: f, start: 0, end: bytes.length }, control(() => alive));
  await new Promise((r) => setTimeout(r, 20));
  alive = false;
  s.held.shift()!();
  await t.rejects(sending, StreamAbortedError);
  t.ok(await closedSoon(f.fd));
});

t.test('a file that shrank after its length was sent: a short body, reported', async (t) => {
  const small = path.join(dir, 'shrinks.bin');
  fs.writeFileSync(small, Buffer.alloc(1000, 1));
  const f = await OpenFile.open({ path: small, ...identityOf(fs.statSync(small)) });
  fs.truncateSync(small, 100);
  const s = fakeSocket();
  await t.rejects(sendBody(s.sock, { kind: 'file', file: f, start: 0, end: 1000 }, control()), { code: 'FLEETSERVE_STREAM_ABORTED', message: /file ended at byte 100 of 1000/ });
  t.ok(await closedSoon(f.fd));
});

t.test('open refuses another version of the file; discard closes once', async (t) => {
  const d = described();
  await t.rejects(OpenFile.open({ ...d, size: d.size + 1 }), FileChangedError);
  await t.rejects(OpenFile.open({ ...d, path: path.join(dir, 'missing') }), { code: 'ENOENT' });
  const f = await OpenFile.open(d);
  t.ok(isOpen(f.fd));
  discardBody({ kind: 'file', file: f, start: 0, end: 1 });
  t.ok(await closedSoon(f.fd), 'closed');
  f.close(); // a second close is a no-op, never a close of a descriptor reused since
  discardBody(Buffer.from('x'));
  discardBody(null);
});
