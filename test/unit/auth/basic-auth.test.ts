// Basic auth, the parts without a server: htpasswd files (bcrypt only, every other format
// refused with its line and user), the rules, which paths a rule covers, the Authorization
// field, the challenge, the private Cache-Control, the per-client failure book and the
// bcrypt check with its memory of successes.
import { hashSync } from 'bcryptjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  authCandidates,
  BasicAuthRuleError,
  challengeLine,
  checkBasicAuthRules,
  compileBasicAuthGlobs,
  parseBasicCredentials,
  privateCacheControl,
  privateHeaderLines,
} from '../../../src/auth/basic-auth';
import { clientOf, FailureBook } from '../../../src/auth/failures';
import { describeProblem, HtpasswdError, parseHtpasswd, readHtpasswdFile } from '../../../src/auth/htpasswd';
import { PasswordCheck } from '../../../src/auth/password-check';

// What `htpasswd -nbB alice secret` printed (cost 5), and the weak formats of the same tool.
const ALICE = '$2y$05$x4Hki62aAddyKvT1kgUM6OpNbyHt3/Wm2V4dJc3SfbXSOnmr.Iq6e';
const BOB_2B = hashSync('hunter2', 4); // "$2b$04$...", as bcryptjs writes it
const CAROL_2A = BOB_2B.replace('$2b$', '$2a$');

function tmpDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-auth-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('htpasswd: bcrypt users are read; comments, blank lines, CRLF and trailing spaces are fine', async (t) => {
  const text = `# staff\r\nalice:${ALICE}\r\n\r\n   \nbob:${BOB_2B}   \ncarol:${CAROL_2A}\n`;
  const r = parseHtpasswd(text);
  t.ok('users' in r, 'parsed');
  if (!('users' in r)) return;
  t.same([...r.users.entries()], [['alice', ALICE], ['bob', BOB_2B], ['carol', CAROL_2A]]);
});

t.test('htpasswd: every other format is refused with its line and user', async (t) => {
  const cases: [string, { line: number; user: string; problem: string }][] = [
    ['carol:$apr1$c7OLr6oP$JSBbFU2UVkN2zRploeHnS1', { line: 2, user: 'carol', problem: 'an MD5 hash ($apr1$, htpasswd -m), which is weak: only bcrypt is accepted (htpasswd -B)' }],
    ['dave:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=', { line: 2, user: 'dave', problem: 'a SHA-1 hash ({SHA}, htpasswd -s), which is weak: only bcrypt is accepted (htpasswd -B)' }],
    ['eve:WnBp2c3aeM0/E', { line: 2, user: 'eve', problem: 'a DES crypt hash (htpasswd -d), which is weak: only bcrypt is accepted (htpasswd -B)' }],
    ['frank:pw', { line: 2, user: 'frank', problem: 'a plain-text password or an unknown format: only bcrypt is accepted (htpasswd -B)' }],
    ['gina:$1$abcdefgh$0123456789abcdefghijkl', { line: 2, user: 'gina', problem: 'an MD5-crypt hash ($1$), which is weak: only bcrypt is accepted (htpasswd -B)' }],
    ['hal:$5$.Ym5Iynp8vnkeyzS$ABkP7/QBeEL/aE9N1uoEwvVliq8YuMB6UJqBcyWSl24', { line: 2, user: 'hal', problem: 'a SHA-256-crypt hash ($5$, htpasswd -2), which is not supported: only bcrypt is accepted (htpasswd -B)' }],
    ['ida:$6$cP9tVOejx7UYRDM7$Z2pWQv7', { line: 2, user: 'ida', problem: 'a SHA-512-crypt hash ($6$, htpasswd -5), which is not supported: only bcrypt is accepted (htpasswd -B)' }],
    ['jo:$2y$05$tooshort', { line: 2, user: 'jo', problem: 'a malformed bcrypt hash: only bcrypt is accepted (htpasswd -B)' }],
    [`kim:${ALICE.replace('$05$', '$03$')}`, { line: 2, user: 'kim', problem: 'bcrypt cost 3 is outside 4 to 17' }],
    [`kim:${ALICE.replace('$05$', '$18$')}`, { line: 2, user: 'kim', problem: 'bcrypt cost 18 is outside 4 to 17' }],
    [`alice:${BOB_2B}`, { line: 2, user: 'alice', problem: 'the user is given twice (first on line 1)' }],
    ['no colon here', { line: 2, user: '', problem: 'not of the form user:hash' }],
    [`:${BOB_2B}`, { line: 2, user: '', problem: 'the user name is empty' }],
    [`tab\there:${BOB_2B}`, { line: 2, user: 'tab\there', problem: 'the user name holds a control character' }],
  ];
  for (const [line, want] of cases) t.same(parseHtpasswd(`alice:${ALICE}\n${line}\nzed:${BOB_2B}\n`), want, line);
  t.same(parseHtpasswd('# nobody yet\n\n'), { line: 0, user: '', problem: 'no users (add one with htpasswd -B)' });
  t.equal(describeProblem('/etc/x.htpasswd', { line: 3, user: 'carol', problem: 'p' }), '/etc/x.htpasswd line 3 (user "carol"): p');
  t.equal(describeProblem('/etc/x.htpasswd', { line: 3, user: '', problem: 'p' }), '/etc/x.htpasswd line 3: p');
  t.equal(describeProblem('/etc/x.htpasswd', { line: 0, user: '', problem: 'no users' }), '/etc/x.htpasswd has no users');
});

t.test('htpasswd files: read, versioned by content; missing or unusable ones name the file', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'users');
  fs.writeFileSync(file, `alice:${ALICE}\nbob:${BOB_2B}\n`);
  const a = readHtpasswdFile(file);
  t.equal(a.users.size, 2);
  t.equal(a.dummyHash, ALICE, 'the dummy hash is a real hash of the file');
  t.equal(readHtpasswdFile(file).version, a.version, 'same bytes, same version');
  fs.writeFileSync(file, `alice:${BOB_2B}\n`);
  t.not(readHtpasswdFile(file).version, a.version, 'new bytes, new version');
  const error = (f: string) => {
    try {
      readHtpasswdFile(f);
      return '(read)';
    } catch (err) {
      return err instanceof HtpasswdError ? err.message : String(err);
    }
  };
  t.equal(error(path.join(dir, 'missing')), `cannot read ${path.join(dir, 'missing')}: ENOENT`);
  t.equal(error(dir), `${dir} is a directory`);
  fs.writeFileSync(file, `alice:${ALICE}\ncarol:$apr1$c7OLr6oP$JSBbFU2UVkN2zRploeHnS1\n`);
  t.equal(error(file), `${file} line 2 (user "carol"): an MD5 hash ($apr1$, htpasswd -m), which is weak: only bcrypt is accepted (htpasswd -B)`);
});

t.test('rules: checked one by one, htpasswd paths made absolute against the base directory', async (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'users'), `alice:${ALICE}\n`);
  fs.writeFileSync(path.join(dir, 'weak'), `alice:${ALICE}\n\n# old\ndave:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n`);
  t.same(checkBasicAuthRules([{ glob: '/private/**', realm: 'Staff', htpasswd: 'users' }, { glob: '/x', htpasswd: path.join(dir, 'users') }], dir), [
    { glob: '/private/**', realm: 'Staff', htpasswd: path.join(dir, 'users') },
    { glob: '/x', htpasswd: path.join(dir, 'users') },
  ]);
  const error = (rules: unknown[]) => {
    try {
      checkBasicAuthRules(rules, dir);
      return '(accepted)';
    } catch (err) {
      return err instanceof BasicAuthRuleError ? err.message : String(err);
    }
  };
  const cases: [unknown[], string][] = [
    [[{ htpasswd: 'users' }], 'rule #1: "glob" must be a path glob starting with "/" ("/private/**")'],
    [[{ glob: 'private/**', htpasswd: 'users' }], 'rule #1 (glob "private/**"): "glob" must be a path glob starting with "/" ("/private/**")'],
    [[{ glob: '/p/**', realm: '', htpasswd: 'users' }], 'rule #1 (glob "/p/**"): "realm" must be 1 to 200 visible ASCII characters or spaces'],
    [[{ glob: '/p/**', realm: 'Bü', htpasswd: 'users' }], 'rule #1 (glob "/p/**"): "realm" must be 1 to 200 visible ASCII characters or spaces'],
    [[{ glob: '/p/**', realm: 'a\nb', htpasswd: 'users' }], 'rule #1 (glob "/p/**"): "realm" must be 1 to 200 visible ASCII characters or spaces'],
    [[{ glob: '/p/**' }], 'rule #1 (glob "/p/**"): "htpasswd" is missing (an htpasswd file made with htpasswd -B)'],
    [[{ glob: '/p/**', htpasswd: 'users', relm: 'x' }], 'rule #1 (glob "/p/**"): unknown field "relm" (a rule has "glob", "realm" and "htpasswd")'],
    [['/p/**'], 'rule #1: must be {"glob": "/private/**", "realm": "Staff", "htpasswd": "FILE"}'],
    [[{ glob: '/a/**', htpasswd: 'users' }, { glob: '/p/**', htpasswd: 'nope' }], `rule #2 (glob "/p/**"): cannot read ${path.join(dir, 'nope')}: ENOENT`],
    [[{ glob: '/p/**', htpasswd: 'weak' }], `rule #1 (glob "/p/**"): ${path.join(dir, 'weak')} line 4 (user "dave"): a SHA-1 hash ({SHA}, htpasswd -s), which is weak: only bcrypt is accepted (htpasswd -B)`],
  ];
  for (const [rules, want] of cases) t.equal(error(rules), want, JSON.stringify(rules));
});

t.test('which paths a rule covers: the path and the URLs that serve the same file; the first rule wins', async (t) => {
  t.same(authCandidates([], true, false), ['/', '/index.html']);
  t.same(authCandidates(['docs'], true, false), ['/docs', '/docs/', '/docs/index.html']);
  t.same(authCandidates(['docs', 'a.html'], false, false), ['/docs/a.html']);
  t.same(authCandidates(['docs', 'a'], false, true), ['/docs/a', '/docs/a.html']);
  const match = compileBasicAuthGlobs([
    { glob: '/private/**', htpasswd: '/a' },
    { glob: '/team/index.html', htpasswd: '/b' },
    { glob: '/docs/*.html', htpasswd: '/c' },
    { glob: '/**/*.pdf', htpasswd: '/d' },
    { glob: '/private/x', htpasswd: '/e' },
  ]);
  const cases: [string[], boolean, boolean, number][] = [
    [['private'], false, false, 0], // "/private/**" covers "/private" itself
    [['private'], true, false, 0],
    [['private', 'x'], false, false, 0], // the first rule wins over rule #5
    [['private', '.env'], false, false, 0], // dotfiles too
    [['privatex'], false, false, -1],
    [['team'], true, false, 1], // "/team/" serves /team/index.html
    [['team'], false, false, -1], // "/team" is a redirect to "/team/"
    [['docs', 'page'], false, true, 2], // clean URLs: "/docs/page" serves /docs/page.html
    [['docs', 'page'], false, false, -1],
    [['a', 'b', 'c.pdf'], false, false, 3],
    [[], true, false, -1],
  ];
  for (const [segments, slash, clean, want] of cases) t.equal(match(authCandidates(segments, slash, clean)), want, `${segments.join('/')}${slash ? '/' : ''} clean=${clean}`);
});

t.test('the Authorization field: only well-formed Basic credentials', async (t) => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  t.same(parseBasicCredentials(`Basic ${b64('alice:secret')}`), { user: 'alice', password: 'secret' });
  t.same(parseBasicCredentials(`basic ${b64('alice:secret')}`), { user: 'alice', password: 'secret' }, 'the scheme in any case');
  t.same(parseBasicCredentials(`BASIC   ${b64('alice:secret')}`), { user: 'alice', password: 'secret' }, 'several spaces');
  t.same(parseBasicCredentials(`Basic ${b64('alice:pa:ss:word')}`), { user: 'alice', password: 'pa:ss:word' }, 'the user ends at the first colon');
  t.same(parseBasicCredentials(`Basic ${b64('zoë:mot de passe é')}`), { user: 'zoë', password: 'mot de passe é' }, 'UTF-8');
  t.same(parseBasicCredentials(`Basic ${b64('alice:')}`), { user: 'alice', password: '' });
  const malformed = [
    '',
    'Basic',
    'Basic ',
    `Bearer ${b64('alice:secret')}`,
    `Basic${b64('alice:secret')}`,
    `Basic ${b64('alice:secret').replace(/=+$/, '')}x`, // length not a multiple of 4
    `Basic ${b64('alicesecret')}`, // no colon
    `Basic ${b64('alice:secret')}, Basic ${b64('bob:x')}`, // two fields joined
    `Basic ${b64('ali\u0001ce:secret')}`,
    `Basic ${b64('alice:sec\nret')}`,
    `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`, // not UTF-8
    'Basic !!!!',
    `Basic ${b64('alice:secret')} extra`,
  ];
  for (const v of malformed) t.equal(parseBasicCredentials(v), null, JSON.stringify(v));
});

t.test('the challenge quotes and escapes the realm', async (t) => {
  t.equal(challengeLine('Staff'), 'WWW-Authenticate: Basic realm="Staff", charset="UTF-8"\r\n');
  t.equal(challengeLine('say "hi" \\ bye'), 'WWW-Authenticate: Basic realm="say \\"hi\\" \\\\ bye", charset="UTF-8"\r\n');
});

t.test('an authenticated response is private: no shared cache may store it', async (t) => {
  t.equal(privateCacheControl('public, max-age=0, must-revalidate'), 'private, max-age=0, must-revalidate');
  t.equal(privateCacheControl('public, max-age=31536000, immutable'), 'private, max-age=31536000, immutable');
  t.equal(privateCacheControl('max-age=60, s-maxage=600, proxy-revalidate, PUBLIC'), 'private, max-age=60');
  t.equal(privateCacheControl('private="Set-Cookie", no-cache'), 'private, no-cache');
  t.equal(privateCacheControl('no-store'), 'private, no-store');
  t.equal(privateCacheControl(''), 'private');
  t.equal(privateHeaderLines('Content-Type: text/html\r\nCache-Control: public, max-age=0\r\nVary: Accept-Encoding\r\n'), 'Content-Type: text/html\r\nCache-Control: private, max-age=0\r\nVary: Accept-Encoding\r\n');
  t.equal(privateHeaderLines('Cache-Control: public\r\nX: y\r\n'), 'Cache-Control: private\r\nX: y\r\n');
  t.equal(privateHeaderLines('Location: /x/\r\nContent-Length: 3\r\n'), 'Cache-Control: private\r\nLocation: /x/\r\nContent-Length: 3\r\n', 'one is added when there is none');
  t.equal(privateHeaderLines(''), 'Cache-Control: private\r\n');
});

t.test('clients: IPv4 as is, IPv6 by its /64', async (t) => {
  const cases: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['', ''],
  ];
  for (const [remote, client] of cases) t.equal(clientOf(remote), client, remote);
});

function book(over: Partial<ConstructorParameters<typeof FailureBook>[0]> = {}) {
  let now = 1000;
  const lines: { fields: Record<string, unknown>; msg: string; at: number }[] = [];
  const b = new FailureBook({ maxFailures: 3, windowMs: 60_000, logEveryMs: 10_000, maxClients: 100, now: () => now, warn: (fields, msg) => lines.push({ fields, msg, at: now }), ...over });
  return { b, lines, advance: (ms: number) => (now += ms), now: () => now };
}

const WRONG = { user: 'alice', reason: 'wrong password', path: '/private/x' };

t.test('failures: a client over the limit waits for the end of its window', async (t) => {
  const { b, advance } = book({ logEveryMs: 1e9 });
  t.equal(b.retryAfterMs('a'), 0);
  b.failed('a', WRONG);
  b.failed('a', WRONG);
  t.equal(b.retryAfterMs('a'), 0, 'two of three');
  b.checkStarted('a');
  t.equal(b.retryAfterMs('a'), 60_000, 'a check still running counts: parallel attempts cannot pass the limit');
  b.checkEnded('a', null);
  t.equal(b.retryAfterMs('a'), 0, 'a check that passed does not');
  b.failed('a', WRONG);
  t.equal(b.retryAfterMs('a'), 60_000, 'three failures');
  t.equal(b.retryAfterMs('b'), 0, 'another client is not concerned');
  advance(59_000);
  t.equal(b.retryAfterMs('a'), 1000);
  advance(1000);
  t.equal(b.retryAfterMs('a'), 0, 'the window is over');
  b.failed('a', WRONG);
  t.equal(b.retryAfterMs('a'), 0, 'a new window starts with one failure');
});

t.test('failures: at most one line per client per period, with the count since the last', async (t) => {
  const { b, lines, advance } = book({ maxFailures: 1000 });
  b.failed('a', WRONG);
  t.equal(lines.length, 1, 'the first failure is told at once');
  t.match(lines[0]!, { fields: { remote: 'a', failures: 1, user: 'alice', reason: 'wrong password', path: '/private/x' }, msg: 'basic auth: 1 failed sign-in from a (last: user "alice", wrong password, /private/x)' });
  for (let i = 0; i < 4; i++) b.failed('a', WRONG);
  b.failed('b', { user: 'x', reason: 'unknown user', path: '/p' });
  t.equal(lines.length, 2, 'the others of the period wait; another client has its own line');
  advance(10_000);
  b.failed('a', { user: '', reason: 'malformed Authorization', path: '/private/y' });
  t.equal(lines.length, 3);
  t.equal(lines[2]!.msg, 'basic auth: 5 failed sign-ins from a (last: user "", malformed Authorization, /private/y)', 'the count since the last line');
  b.checkStarted('a');
  b.checkEnded('a', WRONG);
  t.equal(lines.length, 3, 'within the period again');
});

t.test('failures: the ones after a line are told by a timer once the period is over', async (t) => {
  const start = performance.now();
  const lines: { msg: string; at: number }[] = [];
  const b = new FailureBook({ maxFailures: 1000, windowMs: 60_000, logEveryMs: 200, maxClients: 100, now: () => performance.now(), warn: (_f, msg) => lines.push({ msg, at: performance.now() - start }) });
  b.failed('a', WRONG);
  b.failed('a', WRONG);
  b.failed('a', WRONG);
  t.equal(lines.length, 1);
  await new Promise<void>((resolve) => {
    const iv = setInterval(() => lines.length >= 2 && (clearInterval(iv), resolve()), 10);
  });
  t.equal(lines[1]!.msg, 'basic auth: 2 failed sign-ins from a (last: user "alice", wrong password, /private/x)');
  t.ok(lines[1]!.at >= 195 && lines[1]!.at < 400, `told after the period (${lines[1]!.at.toFixed(0)} ms), not at twice it`);
});

t.test('failures: the book forgets its oldest client when full', async (t) => {
  const { b } = book({ maxClients: 2, logEveryMs: 1e9, maxFailures: 1 });
  b.failed('a', WRONG);
  b.failed('b', WRONG);
  t.ok(b.retryAfterMs('a') > 0 && b.retryAfterMs('b') > 0);
  b.failed('c', WRONG);
  t.equal(b.retryAfterMs('a'), 0, 'a forgotten');
  t.ok(b.retryAfterMs('b') > 0 && b.retryAfterMs('c') > 0);
});

t.test('the bcrypt check: right, wrong, unknown; successes remembered by an HMAC, failures never', async (t) => {
  const file = { users: new Map([['alice', ALICE], ['bob', BOB_2B]]), version: 'v1', dummyHash: ALICE };
  const compared: string[] = [];
  const check = new PasswordCheck(file, async (password, hash) => {
    compared.push(hash);
    const { compare } = await import('bcryptjs');
    return compare(password, hash);
  });
  const field = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
  const key = check.keyOf(field);
  t.notMatch(key, /secret|YWxpY2U6c2VjcmV0/, 'the key holds neither the password nor the field');
  t.equal(key, check.keyOf(field), 'the same field, the same key');
  t.not(new PasswordCheck({ ...file, version: 'v2' }).keyOf(field), key, 'another version (or process), another key');
  t.equal(check.passedBefore(key), undefined);
  t.equal(await check.verify(key, { user: 'alice', password: 'secret' }), 'alice');
  t.equal(check.passedBefore(key), 'alice', 'remembered');

  const wrongKey = check.keyOf('Basic wrong');
  t.equal(await check.verify(wrongKey, { user: 'alice', password: 'Secret' }), null);
  t.equal(check.passedBefore(wrongKey), undefined, 'a failure is not remembered');

  compared.length = 0;
  const unknownKey = check.keyOf('Basic unknown');
  t.equal(await check.verify(unknownKey, { user: 'mallory', password: 'secret' }), null, 'an unknown user fails, even with a password of the dummy hash');
  t.same(compared, [ALICE], 'an unknown user still costs one bcrypt compare, against the dummy hash');
  t.equal(check.passedBefore(unknownKey), undefined);
  t.ok(check.hasUser('bob') && !check.hasUser('mallory'));

  compared.length = 0;
  const k = check.keyOf('Basic bob');
  const both = await Promise.all([check.verify(k, { user: 'bob', password: 'hunter2' }), check.verify(k, { user: 'bob', password: 'hunter2' })]);
  t.same(both, ['bob', 'bob']);
  t.equal(compared.length, 1, 'requests sent at once with one field cost one compare');
});

t.test('the bcrypt check remembers a bounded number of successes', async (t) => {
  const file = { users: new Map([['alice', ALICE]]), version: 'v1', dummyHash: ALICE };
  const check = new PasswordCheck(file, async () => true, 2);
  const keys = ['a', 'b', 'c'].map((s) => check.keyOf(s));
  for (const k of keys) await check.verify(k, { user: 'alice', password: 'x' });
  t.same(keys.map((k) => check.passedBefore(k) ?? null), [null, 'alice', 'alice'], 'the oldest is forgotten');
});
