// http/send-watch.ts: the send timeout measured on write progress — a fake socket whose write
// counters the test moves (completed writes, Node's buffer, libuv's queue of the write in
// progress), then a real socket pair on 127.0.0.1 with a client that reads and one that does not.
import net from 'node:net';
import t, { type Test } from 'tap';
import { SendWatch } from '../../../src/http/send-watch';

/**
 * What SendWatch reads of a socket: the write counters, and libuv's handle with its queue. It
 * starts with one response of 1000 bytes waiting in Node's buffer (handed, not yet taken).
 */
class FakeSocket {
  bytesWritten = 1000;
  writableLength = 1000;
  _handle: { writeQueueSize: number } | null = { writeQueueSize: 0 };
}

interface Watched {
  watch: SendWatch;
  /** performance.now() at each onStall. */
  stalls: number[];
  /** Resolves with performance.now() at the `nth` onStall (1: the first); rejects if it did not come within `ms`. */
  stalled: (ms: number, nth?: number) => Promise<number>;
  /** How often `sending` was asked. */
  asked: () => number;
}

function watched(t: Test, socket: FakeSocket | net.Socket, timeoutMs: number, sending: () => boolean = () => true): Watched {
  const stalls: number[] = [];
  const waiters: { nth: number; resolve: (at: number) => void }[] = [];
  let asked = 0;
  const watch = new SendWatch(
    socket as net.Socket,
    timeoutMs,
    () => {
      asked++;
      return sending();
    },
    () => {
      const at = performance.now();
      stalls.push(at);
      for (const w of waiters.filter((w) => w.nth === stalls.length)) w.resolve(at);
    },
  );
  t.teardown(() => watch.stop());
  const stalled = (ms: number, nth = 1) =>
    new Promise<number>((resolve, reject) => {
      if (stalls.length >= nth) return resolve(stalls[nth - 1]!);
      const timer = setTimeout(() => reject(new Error(`no stall #${nth} within ${ms} ms`)), ms);
      waiters.push({
        nth,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      });
    });
  return { watch, stalls, stalled, asked: () => asked };
}

/** Waits `ms` (only to see that something does NOT happen: there is no event to wait for). */
const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `p`, or a rejection naming `what` after `ms`: a broken watch fails the test, never hangs it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Resolves once `what()` holds (checked every 5 ms); rejects after `ms`. */
async function until(what: () => boolean, ms: number, name: string): Promise<void> {
  const end = performance.now() + ms;
  while (!what()) {
    if (performance.now() > end) throw new Error(`${name}: not within ${ms} ms`);
    await quiet(5);
  }
}

/** Calls `step` every `everyMs`, `times` times; resolves with performance.now() after the last call. */
function drive(times: number, everyMs: number, step: () => void): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const timer = setInterval(() => {
      step();
      if (++n === times) {
        clearInterval(timer);
        resolve(performance.now());
      }
    }, everyMs);
  });
}

const TIMEOUT = 40;

t.test('no progress at all: onStall once, after the timeout and before twice it', async (t) => {
  const sock = new FakeSocket();
  sock.bytesWritten = 5000; // taken before the watch started (and 1000 waiting): not progress, not a stall either
  const w = watched(t, sock, TIMEOUT);
  const started = performance.now();
  w.watch.start();
  const at = await w.stalled(TIMEOUT * 4);
  t.ok(at - started >= TIMEOUT, `not before the timeout (${(at - started).toFixed(1)} ms)`);
  t.ok(at - started < TIMEOUT * 2, `well before twice the timeout (${(at - started).toFixed(1)} ms)`);
  await quiet(TIMEOUT * 2);
  t.equal(w.stalls.length, 1, 'once: the watch stops itself when it fires');
});

t.test('time the process could not look is not the client\'s: a held-up event loop does not make a stall', async (t) => {
  const sock = new FakeSocket(); // nothing moves: a stall is due one timeout of looking after start
  const timeoutMs = 100;
  const w = watched(t, sock, timeoutMs);
  const started = performance.now();
  w.watch.start();
  await quiet(20);
  const blockedUntil = performance.now() + 300;
  while (performance.now() < blockedUntil); // the loop held up three timeouts: no tick, no I/O
  const at = await w.stalled(timeoutMs * 8);
  t.ok(at - blockedUntil >= timeoutMs / 2, `the stall comes a timeout of looking later, not at once after the hold-up (${(at - blockedUntil).toFixed(1)} ms after it, ${(at - started).toFixed(1)} ms after start)`);
});

t.test('completed writes are progress: the count restarts from the last one', async (t) => {
  const sock = new FakeSocket();
  const w = watched(t, sock, TIMEOUT);
  w.watch.start();
  // 8 × 10 ms = 80 ms of a slow reader, twice the timeout: a watch blind to progress fires meanwhile.
  const last = await drive(8, 10, () => (sock.bytesWritten += 1000));
  t.equal(w.stalls.length, 0, 'no stall while bytes are taken');
  const at = await w.stalled(TIMEOUT * 4);
  t.ok(at - last >= TIMEOUT - 1, `the timeout counts from the last progress (${(at - last).toFixed(1)} ms)`);
  t.ok(at - last < TIMEOUT * 2, `and fires before twice it (${(at - last).toFixed(1)} ms)`);
});

t.test("libuv's queue of the write in progress shrinking is progress (one large write taken in parts)", async (t) => {
  const sock = new FakeSocket();
  // One 1 MB write libuv holds: Node counts it written and still buffered, so done stays 0.
  sock.bytesWritten = 1 << 20;
  sock.writableLength = 1 << 20;
  sock._handle!.writeQueueSize = 1 << 20;
  const w = watched(t, sock, TIMEOUT);
  w.watch.start();
  const last = await drive(8, 10, () => (sock._handle!.writeQueueSize -= 65536));
  t.equal(w.stalls.length, 0, 'no stall while the queue shrinks');
  const at = await w.stalled(TIMEOUT * 4);
  t.ok(at - last >= TIMEOUT - 1 && at - last < TIMEOUT * 2, `then the timeout from the last part (${(at - last).toFixed(1)} ms)`);
});

t.test("bytes that only wait in Node's buffer are no progress; a socket without a handle reads as an empty queue", async (t) => {
  const sock = new FakeSocket();
  sock._handle = null;
  const w = watched(t, sock, TIMEOUT);
  const started = performance.now();
  w.watch.start();
  // The response keeps being written, but the kernel takes none of it: written and buffered grow alike.
  void drive(8, 10, () => {
    sock.bytesWritten += 1000;
    sock.writableLength += 1000;
  });
  const at = await w.stalled(TIMEOUT * 4);
  t.ok(at - started >= TIMEOUT && at - started < TIMEOUT * 2, `stalled on time (${(at - started).toFixed(1)} ms)`);
});

t.test('nothing waits to be taken (the reply is still being made, a file read is slow): never a stall, and the count starts when bytes wait', async (t) => {
  const sock = new FakeSocket();
  sock.bytesWritten = 0;
  sock.writableLength = 0;
  const w = watched(t, sock, TIMEOUT);
  w.watch.start();
  await quiet(TIMEOUT * 3);
  t.equal(w.stalls.length, 0, 'three timeouts with nothing queued: no stall');
  const handed = performance.now();
  sock.bytesWritten = 1000;
  sock.writableLength = 1000;
  const at = await w.stalled(TIMEOUT * 4);
  // From the last tick that saw nothing queued: at most one tick (5 ms) before the hand-over.
  t.ok(at - handed >= TIMEOUT - 6, `counted from when the bytes were handed over (${(at - handed).toFixed(1)} ms)`);
  t.ok(at - handed < TIMEOUT * 2, `(${(at - handed).toFixed(1)} ms)`);
});

t.test('nothing left to send: the watch stops itself and never fires', async (t) => {
  let sending = true;
  let told!: () => void;
  const wasTold = new Promise<void>((r) => (told = r));
  const w = watched(t, new FakeSocket(), TIMEOUT, () => {
    if (!sending) told();
    return sending;
  });
  w.watch.start();
  await drive(2, 10, () => {});
  sending = false;
  await within(wasTold, TIMEOUT * 4, 'the watch asked whether to go on');
  const askedWhenDone = w.asked();
  await quiet(TIMEOUT * 2);
  t.equal(w.stalls.length, 0, 'no stall');
  t.equal(w.asked(), askedWhenDone, 'and no more ticks once it was told (the timer is cleared)');
});

t.test('stop() before the timeout: no stall', async (t) => {
  const w = watched(t, new FakeSocket(), TIMEOUT);
  w.watch.start();
  await quiet(TIMEOUT / 2);
  w.watch.stop();
  const asked = w.asked();
  await quiet(TIMEOUT * 2);
  t.equal(w.stalls.length, 0);
  t.equal(w.asked(), asked, 'no tick after stop');
});

t.test('start() again restarts the count, with one timer: one stall, the timeout after the restart', async (t) => {
  const w = watched(t, new FakeSocket(), TIMEOUT);
  w.watch.start();
  await quiet(TIMEOUT / 2);
  const restarted = performance.now();
  w.watch.start();
  const at = await w.stalled(TIMEOUT * 4);
  t.ok(at - restarted >= TIMEOUT, `counted from the restart (${(at - restarted).toFixed(1)} ms)`);
  t.ok(at - restarted < TIMEOUT * 2, `(${(at - restarted).toFixed(1)} ms)`);
  await quiet(TIMEOUT * 2);
  t.equal(w.stalls.length, 1, 'a second start() made no second timer');
  // A watch that fired can be started again (the next response on the connection).
  const again = performance.now();
  w.watch.start();
  const second = await w.stalled(TIMEOUT * 4, 2);
  t.ok(second - again >= TIMEOUT && second - again < TIMEOUT * 2, `started again, fired again on time (${(second - again).toFixed(1)} ms)`);
});

t.test('the tick is 1/40 of the timeout: a long timeout is not checked every 5 ms', async (t) => {
  const timeoutMs = 2000; // tick 50 ms
  // When each check came, taken in the check itself (not by polling for it).
  const checks: number[] = [];
  const w = watched(t, new FakeSocket(), timeoutMs, () => {
    checks.push(performance.now());
    return true;
  });
  const started = performance.now();
  w.watch.start();
  await until(() => checks.length > 0, 1000, 'a first check');
  await quiet(300);
  w.watch.stop();
  const first = checks[0]! - started;
  // A timer never fires early, so these two hold however loaded the machine is: the first
  // check waits a whole tick, and 300 ms hold at most 6 ticks of 50 ms (a 5 ms tick: 60).
  t.ok(first >= 45, `first check after one tick of 50 ms (${first.toFixed(1)} ms)`);
  const inWindow = checks.filter((at) => at - checks[0]! <= 300).length - 1;
  t.ok(inWindow <= 6, `${inWindow} checks in the 300 ms after the first: one every 50 ms`);
  // A late timer only delays: a tick twice as long would put the first check past 100 ms on
  // a quiet machine; 150 ms leaves room for a loaded one.
  t.ok(first < 150, `and no later than a loaded machine delays a 50 ms timer (${first.toFixed(1)} ms)`);
});

/** A server socket and a client socket on 127.0.0.1, port 0; both destroyed at teardown. */
async function socketPair(t: Test): Promise<{ server: net.Socket; client: net.Socket }> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => listener.once('connection', r));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  const server = await accepted;
  server.on('error', () => {});
  await new Promise<void>((r) => (client.connecting ? client.once('connect', () => r()) : r()));
  t.teardown(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { server, client };
}

t.test('a real socket: a client that reads nothing is stalled on time', async (t) => {
  const { server, client } = await socketPair(t);
  client.pause();
  const timeoutMs = 60;
  const w = watched(t, server, timeoutMs);
  // More than the kernel's buffers hold: most of it stays queued.
  server.write(Buffer.alloc(8 << 20, 1));
  const started = performance.now();
  w.watch.start();
  const at = await w.stalled(timeoutMs * 4);
  t.ok(at - started >= timeoutMs && at - started < timeoutMs * 2, `stalled after ${(at - started).toFixed(1)} ms`);
  t.ok(server.writableLength > 0, 'with the response still queued');
});

t.test('a real socket: a client that reads it all is never stalled, and the watch stops when the write is done', async (t) => {
  const { server, client } = await socketPair(t);
  let received = 0;
  client.on('data', (c: Buffer) => (received += c.length));
  let written = false;
  let stopped!: () => void;
  const sawDone = new Promise<void>((r) => (stopped = r));
  const w = watched(t, server, 60, () => {
    if (written) stopped();
    return !written;
  });
  const size = 16 << 20;
  const done = new Promise<void>((r) => server.write(Buffer.alloc(size, 2), () => r()));
  w.watch.start();
  await within(done, 5000, 'the write completed');
  written = true;
  // A bound for an event on a loaded machine, not a timing under test: generous.
  await within(sawDone, 5000, 'the watch asked whether to go on');
  t.equal(w.stalls.length, 0, 'no stall');
  await until(() => received === size, 5000, 'every byte arrived');
  t.equal(received, size, 'every byte arrived');
});

t.test("a real socket: a slow reader of one large write is not stalled (libuv's queue of it shrinks)", async (t) => {
  const { server, client } = await socketPair(t);
  // About 1 MiB every 10 ms: 32 MiB take some 300 ms, in steps of 20–30 ms, against a 100 ms
  // timeout. The write is one write: Node counts none of it done until the end, so only
  // libuv's queue of it shows the progress.
  client.pause();
  let burst = 0;
  let received = 0;
  client.on('data', (c: Buffer) => {
    received += c.length;
    burst += c.length;
    if (burst >= 1 << 20) client.pause();
  });
  const reader = setInterval(() => {
    burst = 0;
    client.resume();
  }, 10);
  t.teardown(() => clearInterval(reader));
  let written = false;
  let told!: () => void;
  const sawDone = new Promise<void>((r) => (told = r));
  const w = watched(t, server, 100, () => {
    if (written) told();
    return !written;
  });
  const size = 32 << 20;
  const bytes = Buffer.alloc(size, 3);
  const started = performance.now();
  const done = new Promise<void>((r) => server.write(bytes, () => r()));
  w.watch.start();
  await within(done, 5000, 'the write completed');
  const took = performance.now() - started;
  written = true;
  // A bound for an event on a loaded machine, not a timing under test: generous.
  await within(sawDone, 5000, 'the watch asked whether to go on');
  t.equal(w.stalls.length, 0, 'no stall');
  t.ok(took > 200, `the send outlasted twice the timeout (${took.toFixed(0)} ms), so a watch blind to the queue would have fired`);
  await until(() => received === size, 5000, 'every byte arrived');
  t.equal(received, size, 'every byte arrived');
});
