// A log file in-process: appended, written whole, reopened by name after a rotation (old
// lines in the old file, new ones in the new), a reopen that fails keeps the old file, and a
// write that fails says so once on stderr, never throws.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { LogFile } from '../../../src/logs/log-file';

function dir(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-logfile-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Runs `fn` with process.stderr.write captured. */
function stderrOf(fn: () => void): string {
  const write = process.stderr.write;
  let out = '';
  process.stderr.write = ((s: string) => ((out += s), true)) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return out;
}

t.test('created when missing, appended to when there', async (t) => {
  const file = path.join(dir(t), 'a.log');
  new LogFile(file).write('one\n');
  t.equal(fs.readFileSync(file, 'utf8'), 'one\n');
  const again = new LogFile(file);
  again.write('two\n');
  const big = Buffer.alloc(1024 * 1024, 'x');
  again.writeBytes(big);
  t.equal(fs.readFileSync(file, 'utf8'), `one\ntwo\n${big.toString()}`, 'whole, at the end');
  t.equal(again.path, file);
});

t.test('a file that cannot be opened throws the open error', async (t) => {
  t.throws(() => new LogFile(path.join(dir(t), 'missing', 'a.log')), { code: 'ENOENT' });
});

t.test('reopen after a rotation: what came before is in the old file, what comes after in the new', async (t) => {
  const d = dir(t);
  const file = path.join(d, 'a.log');
  const log = new LogFile(file);
  log.write('before\n');
  fs.renameSync(file, `${file}.1`);
  log.write('still old\n');
  log.reopen();
  log.write('after\n');
  t.equal(fs.readFileSync(`${file}.1`, 'utf8'), 'before\nstill old\n');
  t.equal(fs.readFileSync(file, 'utf8'), 'after\n');
});

t.test('a reopen that fails throws and keeps writing to the old file', async (t) => {
  const d = dir(t);
  const sub = path.join(d, 'logs');
  fs.mkdirSync(sub);
  const file = path.join(sub, 'a.log');
  const log = new LogFile(file);
  fs.renameSync(sub, path.join(d, 'moved'));
  t.throws(() => log.reopen(), { code: 'ENOENT' });
  log.write('kept\n');
  t.equal(fs.readFileSync(path.join(d, 'moved', 'a.log'), 'utf8'), 'kept\n');
});

t.test('a write that fails is said once on stderr, and again only after one succeeded', async (t) => {
  // The path is a symbolic link: to /dev/full (every write fails with ENOSPC), or to a file.
  const d = dir(t);
  const link = path.join(d, 'a.log');
  const file = path.join(d, 'real.log');
  const pointTo = (target: string) => {
    fs.rmSync(link, { force: true });
    fs.symlinkSync(target, link);
  };
  pointTo('/dev/full');
  const log = new LogFile(link);
  let err = stderrOf(() => {
    log.write('a\n');
    log.write('b\n');
    log.writeBytes(Buffer.from('c\n'));
  });
  t.equal(err, `fleetserve: cannot write to ${link}: ENOSPC; log lines are being lost\n`, 'one line, not one per write');
  pointTo(file);
  log.reopen();
  pointTo('/dev/full');
  err = stderrOf(() => {
    log.write('written\n');
    log.reopen();
    log.write('lost again\n');
    log.write('and again\n');
  });
  t.equal(err, `fleetserve: cannot write to ${link}: ENOSPC; log lines are being lost\n`, 'a failure after a success is said again, once');
  t.equal(fs.readFileSync(file, 'utf8'), 'written\n');
});
