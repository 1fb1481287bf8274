// acme/storage.ts's parts for hosts sharing one directory: the HTTP-01 answers an order
// stores for the other hosts (challenges/TOKEN, 0600 in a 0700 folder, read back bounded and
// only as an answer, removed after), and the ordering lock (one holder; a stale one taken over).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AcmeStorageError } from '../../../src/errors';
import { AcmeStorage, LOCK_STALE_MS, readStoredAnswer, STORED_ANSWER_MAX_BYTES } from '../../../src/acme/storage';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const ANSWER = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

function storage(t: Test): AcmeStorage {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-acme-unit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = new AcmeStorage(path.join(dir, 'store'), ['acme.test']);
  s.prepare();
  return s;
}

t.test('a stored answer: written 0600 under challenges/ (0700), read back by any host, removed after', async (t) => {
  const s = storage(t);
  t.equal(await readStoredAnswer(s.dir, TOKEN), undefined, 'none before');
  s.publishAnswer(TOKEN, ANSWER);
  const file = path.join(s.dir, 'challenges', TOKEN);
  t.equal(fs.readFileSync(file, 'utf8'), ANSWER);
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'the file 0600');
  t.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700, 'the folder 0700');
  t.same(fs.readdirSync(path.dirname(file)), [TOKEN], 'no temporary file left');
  t.equal(await readStoredAnswer(s.dir, TOKEN), ANSWER, 'read back');
  t.equal(await readStoredAnswer(s.dir, 'other'), undefined, 'another token has none');
  s.withdrawAnswer(TOKEN);
  t.notOk(fs.existsSync(file), 'removed');
  t.equal(await readStoredAnswer(s.dir, TOKEN), undefined, 'gone');
  t.doesNotThrow(() => s.withdrawAnswer(TOKEN), 'removing it twice is nothing');
});

t.test('tokens that are no token are neither stored nor looked up', async (t) => {
  const s = storage(t);
  fs.writeFileSync(path.join(s.dir, 'secret'), `...${ANSWER}`);
  for (const bad of ['../secret', '..', '', 'a/b', 'a.b', 'x'.repeat(257)]) {
    t.throws(() => s.publishAnswer(bad, ANSWER), AcmeStorageError, `not stored: ${JSON.stringify(bad.slice(0, 12))}`);
    t.equal(await readStoredAnswer(s.dir, bad), undefined, `not read: ${JSON.stringify(bad.slice(0, 12))}`);
  }
});

t.test('a stored file that is not an answer, or too large, is not served', async (t) => {
  const s = storage(t);
  const file = path.join(s.dir, 'challenges', TOKEN);
  s.publishAnswer(TOKEN, ANSWER);
  fs.writeFileSync(file, `other.${ANSWER.split('.')[1]}`);
  t.equal(await readStoredAnswer(s.dir, TOKEN), undefined, 'another token\'s answer');
  fs.writeFileSync(file, `${ANSWER}\n<script>`);
  t.equal(await readStoredAnswer(s.dir, TOKEN), undefined, 'more than a key authorization');
  fs.writeFileSync(file, `${TOKEN}.${'a'.repeat(STORED_ANSWER_MAX_BYTES)}`);
  t.equal(await readStoredAnswer(s.dir, TOKEN), undefined, 'larger than the bound');
  fs.rmSync(file);
  fs.mkdirSync(file);
  t.equal(await readStoredAnswer(s.dir, TOKEN), undefined, 'a folder in its place');
});

t.test('an answer cannot be stored in a storage that cannot be written: AcmeStorageError, nothing thrown else', async (t) => {
  const s = storage(t);
  fs.writeFileSync(path.join(s.dir, 'challenges'), 'a file where the folder goes');
  t.throws(() => s.publishAnswer(TOKEN, ANSWER), AcmeStorageError);
});

t.test('the lock: one holder at a time, free again once released', async (t) => {
  const s = storage(t);
  const release = s.lock();
  t.type(release, 'function', 'taken');
  const lockFile = path.join(s.dir, 'acme.test.lock');
  t.match(JSON.parse(fs.readFileSync(lockFile, 'utf8')), { host: os.hostname(), pid: process.pid });
  t.equal(fs.statSync(lockFile).mode & 0o777, 0o600, 'the lock file 0600');
  t.equal(s.lock(), null, 'held: a second taker (another host) waits');
  release!();
  t.notOk(fs.existsSync(lockFile), 'released');
  const again = s.lock();
  t.type(again, 'function', 'free again');
  again!();
});

t.test('a lock older than the stale timeout (its host died while ordering) is taken over; a younger one is not', async (t) => {
  const s = storage(t);
  const lockFile = path.join(s.dir, 'acme.test.lock');
  fs.writeFileSync(lockFile, '{"host":"gone","pid":1}\n', { mode: 0o600 });
  const mtime = fs.statSync(lockFile).mtimeMs;
  t.equal(s.lock(LOCK_STALE_MS, mtime + LOCK_STALE_MS - 1000), null, 'not yet stale');
  t.equal(fs.readFileSync(lockFile, 'utf8'), '{"host":"gone","pid":1}\n', 'left as it was');
  const release = s.lock(LOCK_STALE_MS, mtime + LOCK_STALE_MS + 1000);
  t.type(release, 'function', 'stale: taken over');
  t.match(JSON.parse(fs.readFileSync(lockFile, 'utf8')), { host: os.hostname(), pid: process.pid }, 'now ours');
  release!();
  // The default timeout, with the clock: an old mtime is what a dead host leaves.
  fs.writeFileSync(lockFile, '{"host":"gone","pid":1}\n', { mode: 0o600 });
  const old = (Date.now() - LOCK_STALE_MS - 60_000) / 1000;
  fs.utimesSync(lockFile, old, old);
  const taken = s.lock();
  t.type(taken, 'function', 'a lock file last written before the timeout is taken over');
  taken!();
});

t.test('taking the lock removes the answers a host that died while ordering left, and only those', async (t) => {
  const s = storage(t);
  const old = 'oldTokenLeftByADeadHost';
  s.publishAnswer(old, `${old}.thumb`);
  s.publishAnswer(TOKEN, ANSWER);
  const dir = path.join(s.dir, 'challenges');
  const before = (Date.now() - LOCK_STALE_MS - 60_000) / 1000;
  fs.utimesSync(path.join(dir, old), before, before);
  const release = s.lock();
  t.type(release, 'function');
  t.same(fs.readdirSync(dir), [TOKEN], 'the stale answer is gone, the fresh one stays');
  release!();
});
