// The accept gate with fakes: what it admits, how it refuses (503 + Retry-After, then a
// short linger), when it asks the primary to pause, what a granted or refused pause does, and
// that nothing moves once the drain began or where pausing is impossible (single process).
import type net from 'node:net';
import t from 'tap';
import { AcceptGate, PAUSE_MS } from '../../../src/process/accept-gate';
import { connectionLimitResponse } from '../../../src/http/respond';
import { FakeSocket, recordingLog } from '../../fixtures/process-fakes';
import { sleep } from '../../fixtures/wire';

function setup(o: { capacity?: number; open?: number; single?: boolean } = {}) {
  const { log, lines } = recordingLog();
  const state = { open: o.open ?? 0, draining: false, asked: 0, closes: 0, listens: 0 };
  const gate = new AcceptGate({
    capacity: o.capacity ?? 32,
    open: () => state.open,
    close: () => void state.closes++,
    listen: () => void state.listens++,
    askPause: o.single ? null : () => void state.asked++,
    draining: () => state.draining,
    log,
  });
  return { gate, state, lines };
}

const socket = () => new FakeSocket() as FakeSocket & net.Socket;

t.test('below capacity: admitted, nothing asked, nothing logged', async (t) => {
  const { gate, state, lines } = setup({ capacity: 32, open: 29 });
  const s = socket();
  t.equal(gate.admit(s), true);
  t.same(s.written, [], 'nothing written to it');
  gate.afterAdmit(); // 29 < 32 - 2 = 30, the high-water mark
  t.equal(state.asked, 0);
  t.same(lines, []);
});

t.test('at the high-water mark (capacity - capacity/16) a worker asks once until answered', async (t) => {
  const { gate, state } = setup({ capacity: 32, open: 30 });
  gate.afterAdmit();
  gate.afterAdmit();
  t.equal(state.asked, 1, 'one question on its way at a time');
  gate.answer(false);
  t.equal(state.closes, 0, 'refused: keeps listening');
  gate.answer(false);
  // Refused: it asks again after PAUSE_MS while still full.
  await sleep(PAUSE_MS + 100);
  t.equal(state.asked, 2, 'asked again after the pause interval');
  state.draining = true; // no more timers acting after the test
  gate.answer(false);
});

t.test('full: refused with the 503 page, lingering to read the request, then closed', async (t) => {
  const { gate, state, lines } = setup({ capacity: 2, open: 2 });
  const s = socket();
  t.equal(gate.admit(s), false);
  t.same(Buffer.concat(s.written), connectionLimitResponse(), '503 + Retry-After, written whole');
  t.ok(s.ended, 'then the write side ends');
  t.equal(s.destroyed, false, 'but the socket lingers for the request');
  t.equal(s.timeoutMs, 1000, 'at most a second');
  s.emit('end');
  t.ok(s.destroyed, 'closed once the client ends');
  t.equal(state.asked, 1, 'and the gate asks to pause');
  t.equal(lines.length, 1);
  t.equal(lines[0]!.level, 'warn');
  t.equal(lines[0]!.msg, 'accept limited: at 2 of 2 connections; 0 pauses, 1 refused with 503, 0 times out of descriptors');
  state.draining = true;
});

t.test('more than 16 refused sockets lingering: the next is closed at once', async (t) => {
  const { gate, state } = setup({ capacity: 1, open: 1 });
  const lingering = Array.from({ length: 16 }, () => socket());
  for (const s of lingering) gate.admit(s);
  t.ok(lingering.every((s) => !s.destroyedSoon), 'sixteen linger');
  const seventeenth = socket();
  gate.admit(seventeenth);
  t.ok(seventeenth.destroyedSoon, 'the seventeenth is closed as soon as its 503 is out');
  t.same(Buffer.concat(seventeenth.written), connectionLimitResponse(), 'with its 503 all the same');
  lingering[0]!.emit('close');
  const next = socket();
  gate.admit(next);
  t.equal(next.destroyedSoon, false, 'one gone: room to linger again');
  state.draining = true;
});

t.test('a granted pause closes the listeners, and they listen again once there is room', async (t) => {
  const { gate, state, lines } = setup({ capacity: 32, open: 31 });
  gate.afterAdmit();
  gate.answer(true);
  t.equal(state.closes, 1, 'stopped listening');
  t.match(lines.at(-1)!.msg, /^accept limited: at 31 of 32 connections; 1 pause, 0 refused/);
  await sleep(PAUSE_MS + 100);
  t.equal(state.listens, 0, 'still above the high-water mark: stays paused');
  state.open = 10;
  await sleep(PAUSE_MS + 100);
  t.equal(state.listens, 1, 'listening again');
  gate.answer(true);
  t.equal(state.closes, 2, 'a later grant pauses again');
  state.draining = true;
});

t.test('the drain freezes the gate: no question, no pause, no listening again', async (t) => {
  const { gate, state } = setup({ capacity: 32, open: 31 });
  gate.afterAdmit();
  t.equal(state.asked, 1);
  state.draining = true;
  gate.answer(true);
  t.equal(state.closes, 0, 'a grant after the drain began is ignored');
  gate.afterAdmit();
  gate.outOfDescriptors();
  t.equal(state.asked, 1, 'nothing asked while draining');
});

t.test('a paused worker does not listen again once the drain began', async (t) => {
  const { gate, state } = setup({ capacity: 32, open: 31 });
  gate.afterAdmit();
  gate.answer(true);
  state.open = 0;
  state.draining = true;
  await sleep(PAUSE_MS + 100);
  t.equal(state.listens, 0);
});

t.test('single process (askPause null): never asks, keeps accepting, refuses what does not fit', async (t) => {
  const { gate, state, lines } = setup({ capacity: 2, open: 2, single: true });
  gate.afterAdmit();
  t.equal(gate.admit(socket()), false, 'refused with 503');
  gate.outOfDescriptors();
  t.equal(state.closes, 0, 'never stops listening');
  t.equal(lines.length, 1, 'one line at once; the rest waits for the next second');
});

t.test('out of descriptors: a pause is asked for, the line says why; accept failures are counted', async (t) => {
  const { gate, state, lines } = setup({ capacity: 32, open: 3 });
  gate.acceptFailed();
  t.equal(state.asked, 1);
  t.equal(lines[0]!.msg, 'accept limited: out of file descriptors; 0 pauses, 0 refused with 503, 1 time out of descriptors');
  t.equal(lines[0]!.fields.failedAccepts, 1);
  t.equal(lines[0]!.fields.reason, 'descriptors');
  gate.outOfDescriptors();
  gate.outOfDescriptors();
  t.equal(lines.length, 1, 'at most one line a second');
  await sleep(1100);
  t.equal(lines.length, 2, 'then the next one, with what happened meanwhile');
  t.equal(lines[1]!.msg, 'accept limited: out of file descriptors; 0 pauses, 0 refused with 503, 2 times out of descriptors');
  t.equal(lines[1]!.fields.failedAccepts, 0);
  state.draining = true;
  gate.answer(false);
});
