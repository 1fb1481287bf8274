// `redirects` and `basicAuth` in the configuration: from a JSON file, env or a flag; each bad
// rule is one line naming the key and the rule; htpasswd paths written in a JSON file are
// taken from that file's directory, those from env and flags from the working directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FailureBook } from '../../../src/auth/failures';
import { errorOf, run } from '../../fixtures/config';
import { manualText } from '../../fixtures/manual';

const ALICE = '$2y$05$x4Hki62aAddyKvT1kgUM6OpNbyHt3/Wm2V4dJc3SfbXSOnmr.Iq6e';

/** A working directory with a site, and a config directory elsewhere holding an htpasswd file. */
function layout(t: { teardown(fn: () => unknown): void }) {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-rules-')));
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  const cwd = path.join(base, 'cwd');
  const etc = path.join(base, 'etc');
  fs.mkdirSync(path.join(cwd, 'site'), { recursive: true });
  fs.mkdirSync(etc);
  fs.writeFileSync(path.join(etc, 'users'), `alice:${ALICE}\n`);
  fs.writeFileSync(path.join(cwd, 'users'), `alice:${ALICE}\n`);
  const write = (name: string, data: unknown) => {
    const file = path.join(etc, name);
    fs.writeFileSync(file, JSON.stringify(data));
    return file;
  };
  return { cwd, etc, write };
}

t.test('both keys default to no rules and are read from a file, env and a flag', async (t) => {
  const { cwd, etc, write } = layout(t);
  const none = run([], {}, cwd);
  t.same([none.redirects, none.basicAuth], [[], []]);
  const redirects = [{ from: '/old', to: '/new', status: 308 }];
  const fromFile = run(['--config', write('a.json', { redirects, basicAuth: [{ glob: '/p/**', realm: 'Staff', htpasswd: 'users' }] })], {}, cwd);
  t.same(fromFile.redirects, redirects);
  t.same(fromFile.basicAuth, [{ glob: '/p/**', realm: 'Staff', htpasswd: path.join(etc, 'users') }], 'relative to the JSON file that names it');
  const fromEnv = run([], { FLEETSERVE_REDIRECTS: JSON.stringify(redirects), FLEETSERVE_BASIC_AUTH: JSON.stringify([{ glob: '/p/**', htpasswd: 'users' }]) }, cwd);
  t.same(fromEnv.redirects, redirects);
  t.same(fromEnv.basicAuth, [{ glob: '/p/**', htpasswd: path.join(cwd, 'users') }], 'relative to the working directory from env');
  const fromFlag = run(['--redirects', JSON.stringify(redirects), '--basic-auth', JSON.stringify([{ glob: '/p/**', htpasswd: 'users' }])], {}, cwd);
  t.same(fromFlag.basicAuth, [{ glob: '/p/**', htpasswd: path.join(cwd, 'users') }], 'and from a flag');
  const overridden = run(['--config', write('b.json', { basicAuth: [{ glob: '/q/**', htpasswd: 'users' }] }), '--basic-auth', JSON.stringify([{ glob: '/p/**', htpasswd: 'users' }])], {}, cwd);
  t.same(overridden.basicAuth, [{ glob: '/p/**', htpasswd: path.join(cwd, 'users') }], 'a flag over a file: its path is the working directory\'s');
  const otherKeyInFile = run(['--config', write('c.json', { redirects }), '--basic-auth', JSON.stringify([{ glob: '/p/**', htpasswd: 'users' }])], {}, cwd);
  t.same(otherKeyInFile.basicAuth, [{ glob: '/p/**', htpasswd: path.join(cwd, 'users') }], 'a file without the key does not move the flag\'s path');
  t.same(run(['--basic-auth', JSON.stringify([{ glob: '/p/**', htpasswd: path.join(etc, 'users') }])], {}, cwd).basicAuth[0]!.htpasswd, path.join(etc, 'users'), 'an absolute path stays');
});

t.test('basicAuthLogPeriodMs: 10 s by default, from a file, env and a flag; a whole number', async (t) => {
  const { cwd, write } = layout(t);
  t.equal(run([], {}, cwd).basicAuthLogPeriodMs, 10_000);
  t.equal(run(['--config', write('p.json', { basicAuthLogPeriodMs: 2500 })], {}, cwd).basicAuthLogPeriodMs, 2500);
  t.equal(run([], { FLEETSERVE_BASIC_AUTH_LOG_PERIOD_MS: '0' }, cwd).basicAuthLogPeriodMs, 0, '0: every failure logged');
  t.equal(run(['--basic-auth-log-period-ms', '1000'], { FLEETSERVE_BASIC_AUTH_LOG_PERIOD_MS: '5' }, cwd).basicAuthLogPeriodMs, 1000, 'a flag over env');
  for (const bad of ['-1', '1.5', 'soon']) t.match(errorOf(['--basic-auth-log-period-ms', bad], {}, cwd), /^basicAuthLogPeriodMs: /, `${bad}: refused, naming the key`);
});

t.test('a bad rule: one line naming the key, the rule, and for a file its line and user', async (t) => {
  const { cwd, etc, write } = layout(t);
  fs.writeFileSync(path.join(etc, 'weak'), `alice:${ALICE}\ncarol:$apr1$c7OLr6oP$JSBbFU2UVkN2zRploeHnS1\n`);
  const cases: [string[], NodeJS.ProcessEnv, string][] = [
    [['--config', write('r1.json', { redirects: [{ from: '/a', to: '/b' }, { from: '/x' }] })], {}, 'redirects: rule #2 (from "/x"): "to" is missing (a path starting with "/" or an http(s) URL)'],
    [['--redirects', '[{"from": "x", "to": "/b"}]'], {}, 'redirects: rule #1 (from "x"): "from" must start with "/"'],
    [[], { FLEETSERVE_REDIRECTS: '[{"from": "/a/*.html", "to": "/b"}]' }, 'redirects: rule #1 (from "/a/*.html"): "from" may only end in "/**" (a prefix); no other glob is supported'],
    [['--redirects', '[{"from": "/a", "to": "/b", "status": 200}]'], {}, 'redirects: rule #1 (from "/a"): "status" must be 301, 302, 307 or 308: got 200'],
    [['--redirects', '[{"from": "/a", "to": "/b"}, {"from": "/a", "to": "/c"}]'], {}, 'redirects: rule #2 (from "/a"): the same "from" as rule #1'],
    [['--config', write('b1.json', { basicAuth: [{ glob: '/p/**', htpasswd: 'weak' }] })], {}, `basicAuth: rule #1 (glob "/p/**"): ${path.join(etc, 'weak')} line 2 (user "carol"): an MD5 hash ($apr1$, htpasswd -m), which is weak: only bcrypt is accepted (htpasswd -B)`],
    [['--config', write('b2.json', { basicAuth: [{ glob: '/p/**', htpasswd: 'missing' }] })], {}, `basicAuth: rule #1 (glob "/p/**"): cannot read ${path.join(etc, 'missing')}: ENOENT`],
    [['--basic-auth', '[{"glob": "/p/**"}]'], {}, 'basicAuth: rule #1 (glob "/p/**"): "htpasswd" is missing (an htpasswd file made with htpasswd -B)'],
  ];
  for (const [argv, env, want] of cases) t.equal(errorOf(argv, env, cwd), want, JSON.stringify([argv, env]));
  t.match(errorOf(['--redirects', '{"from": "/a"}'], {}, cwd), /^redirects: must be a JSON array of rules/, 'not an array');
  t.match(errorOf(['--basic-auth', 'not json'], {}, cwd), /^basicAuth: must be a JSON array of rules/, 'not JSON');
  const objectFile = write('o.json', { redirects: { from: '/a', to: '/b' } });
  t.equal(errorOf(['--config', objectFile], {}, cwd), `redirects: must be a JSON array of rules: value was {"from":"/a","to":"/b"} (from ${objectFile})`, 'an object in a file');
});

t.test('the manual (README and docs/) quotes these messages as they are printed', async (t) => {
  const readme = manualText();
  const quoted = (prefix: string) => new RegExp(`\`(${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^\`\n]*)\``).exec(readme)?.[1] ?? `(no quote of ${prefix})`;
  const { cwd, etc } = layout(t);
  t.equal(quoted('fleetserve: redirects: '), `fleetserve: ${errorOf(['--redirects', JSON.stringify([{ from: '/a', to: '/b' }, { from: '/x/*', to: '/y' }])], {}, cwd)}`);
  const file = path.join(etc, 'staff.htpasswd');
  fs.writeFileSync(file, `alice:${ALICE}\ncarol:$apr1$c7OLr6oP$JSBbFU2UVkN2zRploeHnS1\n`);
  const printed = `fleetserve: ${errorOf(['--basic-auth', JSON.stringify([{ glob: '/private/**', htpasswd: file }])], {}, cwd)}`;
  t.equal(quoted('fleetserve: basicAuth: '), printed.replace(file, '/etc/fleetserve/staff.htpasswd'));

  const shown = JSON.parse(readme.split('\n').find((l) => l.includes('"msg":"basic auth: '))!.trim()) as Record<string, unknown>;
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  let now = 0;
  const book = new FailureBook({ maxFailures: 100, windowMs: 60_000, logEveryMs: 10_000, maxClients: 10, now: () => now, warn: (fields, msg) => lines.push({ fields, msg }) });
  const wrong = { user: 'alice', reason: 'wrong password', path: '/private/report.pdf' };
  book.failed('203.0.113.9', { user: 'bob', reason: 'unknown user', path: '/private/' }); // told at once
  for (let i = 0; i < 3; i++) book.failed('203.0.113.9', wrong);
  now = 10_000;
  book.failed('203.0.113.9', wrong); // the period is over: these four in one line
  t.equal(lines.length, 2);
  const line = lines[1]!;
  t.same({ remote: shown.remote, failures: shown.failures, user: shown.user, reason: shown.reason, path: shown.path, msg: shown.msg }, { ...line.fields, msg: line.msg });
});
