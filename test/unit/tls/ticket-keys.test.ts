// Session-ticket keys (src/tls/ticket-keys.ts): 48 random bytes, their text form for the hand-off
// to workers, and the rotation schedule.
import t from 'tap';
import { decodeTicketKeys, encodeTicketKeys, newTicketKeys, startTicketKeyRotation, TICKET_KEYS_BYTES } from '../../../src/tls/ticket-keys';

t.test('new keys: 48 bytes, different every time; the text form round-trips and is checked', (t) => {
  const a = newTicketKeys();
  const b = newTicketKeys();
  t.equal(a.length, TICKET_KEYS_BYTES);
  t.equal(TICKET_KEYS_BYTES, 48);
  t.not(a.toString('hex'), b.toString('hex'));
  t.same(decodeTicketKeys(encodeTicketKeys(a)), a);
  for (const bad of ['', encodeTicketKeys(a).slice(1), encodeTicketKeys(Buffer.alloc(47)), encodeTicketKeys(Buffer.alloc(49)), '!'.repeat(64), `${encodeTicketKeys(a)}\n`]) {
    t.throws(() => decodeTicketKeys(bad), { message: 'session ticket keys must be 48 bytes in base64 (64 characters)' }, JSON.stringify(bad));
  }
  t.end();
});

t.test('rotation: new keys every interval, handed to the callback, until stopped', async (t) => {
  const seen: string[] = [];
  let made = 0;
  // The schedule's timer does not keep a process alive (unref): this one keeps the test's.
  const keepAlive = setTimeout(() => {}, 5000);
  t.teardown(() => clearTimeout(keepAlive));
  const started = Date.now();
  const rotation = await new Promise<ReturnType<typeof startTicketKeyRotation>>((resolve) => {
    const r = startTicketKeyRotation(
      60,
      (keys) => {
        seen.push(keys.toString('hex'));
        t.equal(r.current().toString('hex'), keys.toString('hex'), 'current() is the set just handed out');
        if (seen.length === 2) resolve(r);
      },
      () => Buffer.alloc(48, ++made),
    );
    t.equal(r.current()[0], 1, 'keys exist from the start');
  });
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 110 && elapsed < 240, `two rotations 60 ms apart took ${elapsed} ms`);
  t.same(seen, [Buffer.alloc(48, 2).toString('hex'), Buffer.alloc(48, 3).toString('hex')]);
  rotation.stop();
  await new Promise((r) => setTimeout(r, 150));
  t.equal(seen.length, 2, 'no rotation after stop()');
  t.equal(rotation.current()[0], 3);
});
