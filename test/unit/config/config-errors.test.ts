// Configuration errors that help (loadConfig, with explicit argv, env and cwd): each mistake is
// one line in our words naming the key, with the nearest known name for a typo, where the value
// came from, and paths in a JSON file resolved against that file's directory.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { helpText } from '../../../src/config/config';
import { aPath, aPathInEachRule, PATH_KEYS, resolvePaths } from '../../../src/config/config-paths';
import { editDistance, nearestName } from '../../../src/config/nearest-name';
import { errorOf, run, sandbox } from '../../fixtures/config';

/** The shared sandbox, with conf/ for config files: write(name, value) writes conf/name as JSON (a string as is). */
function confSandbox(t: Test): { cwd: string; conf: string; write(name: string, value: unknown): string } {
  const box = sandbox(t);
  const conf = path.join(box.cwd, 'conf');
  fs.mkdirSync(conf);
  return { cwd: box.cwd, conf, write: (name, value) => box.write(path.join('conf', name), typeof value === 'string' ? value : JSON.stringify(value)) };
}

/** Every key with its flag and env var, as --help lists them. */
const KEYS = [...helpText().matchAll(/^ {2}--([\w-]+)(?:, --no-[\w-]+)?(?:, -\w)? {2}\(env (\w+), key "(\w+)"/gm)].map(([, flag, env, key]) => ({ flag: flag!, env: env!, key: key! }));

t.test('an unknown key in the file: named with the file, and the nearest key when one is close', async (t) => {
  const { cwd, write } = confSandbox(t);
  const cases: [data: Record<string, unknown>, line: (file: string) => string][] = [
    [{ lisitng: true }, (f) => `lisitng: unknown key in ${f} (did you mean listing?)`],
    [{ port: 1, prot: 2 }, (f) => `prot: unknown key in ${f} (did you mean port?)`],
    [{ Listing: true }, (f) => `Listing: unknown key in ${f} (did you mean listing?)`],
    [{ 'drain-timeout-ms': 5 }, (f) => `drain-timeout-ms: unknown key in ${f} (did you mean drainTimeoutMs?)`],
    [{ headres: [] }, (f) => `headres: unknown key in ${f} (did you mean headers?)`],
    [{ bogus: 1 }, (f) => `bogus: unknown key in ${f} (fleetserve --help lists the keys)`],
    [{ '': 1 }, (f) => `"": unknown key in ${f} (fleetserve --help lists the keys)`],
    [{ 'port.x': 1 }, (f) => `port.x: unknown key in ${f} (fleetserve --help lists the keys)`],
    [{ toString: 1 }, (f) => `toString: unknown key in ${f} (fleetserve --help lists the keys)`],
    [{ constructor: 1 }, (f) => `constructor: unknown key in ${f} (fleetserve --help lists the keys)`],
  ];
  for (const [data, line] of cases) {
    const f = write('c.json', data);
    t.equal(errorOf(['--config', 'conf/c.json'], {}, cwd), line(f), JSON.stringify(data));
  }
  const f = write('proto.json', '{"__proto__": {"port": 1}}');
  t.equal(errorOf(['--config', f], {}, cwd), `__proto__: unknown key in ${f} (fleetserve --help lists the keys)`);
  t.equal(run([], { FLEETSERVE_LISITNG: 'true', NODE_ENV: 'x' }, cwd).listing, false, 'env vars outside the schema are not ours: ignored');
});

t.test('an unknown flag: the nearest flag, or a pointer to --help (never the whole list)', async (t) => {
  const { cwd } = confSandbox(t);
  const cases: [string[], string][] = [
    [['--prot', '80'], 'unknown option --prot (did you mean --port?)'],
    [['--port=80', '--wrokers=2'], 'unknown option --wrokers (did you mean --workers?)'],
    [['--lisitng'], 'unknown option --lisitng (did you mean --listing?)'],
    [['--no-lisitng'], 'unknown option --no-lisitng (did you mean --no-listing?)'],
    [['--drain-timeout', '5'], 'unknown option --drain-timeout (did you mean --drain-timeout-ms?)'],
    [['--accessLogFile', 'x'], 'unknown option --accessLogFile (did you mean --access-log-file?)'],
    [['--chek-config'], 'unknown option --chek-config (did you mean --check-config?)'],
    [['--frobnicate'], 'unknown option --frobnicate (see --help)'],
    [['-x'], 'unknown option -x (see --help)'],
    [['-A', '::1'], 'unknown option -A (did you mean -a?)'],
  ];
  for (const [argv, line] of cases) t.equal(errorOf(argv, {}, cwd), line, argv.join(' '));
});

t.test('an object where the key takes none: the key, its expected shape, where it came from', async (t) => {
  const { cwd, write } = confSandbox(t);
  const shape = 'must be an array of {"glob": "...", "headers": {"Name": "value"}}';
  const f = write('h.json', { headers: { '/assets/**': { 'Cache-Control': 'no-store' } } });
  t.equal(errorOf(['--config', f], {}, cwd), `headers: ${shape}: value was {"/assets/**":{"Cache-Control":"no-store"}} (from ${f})`);
  const g = write('g.json', { headers: { glob: '/**', headers: { 'X-A': '1' } } });
  t.equal(errorOf(['--config', g], {}, cwd), `headers: ${shape}: value was {"glob":"/**","headers":{"X-A":"1"}} (from ${g})`, 'one rule without its array');
  t.equal(errorOf([], { FLEETSERVE_HEADERS: '{"a":"b"}' }, cwd), `headers: ${shape}: value was "{\\"a\\":\\"b\\"}" (from FLEETSERVE_HEADERS)`);
  t.equal(errorOf(['--headers', '{"a":"b"}'], {}, cwd), `headers: ${shape}: value was "{\\"a\\":\\"b\\"}"`);
  t.equal(errorOf(['--config', write('s.json', { headers: 'x' })], {}, cwd), `headers: ${shape}: value was "x" (from ${path.join(path.dirname(f), 's.json')})`, 'a string where an array is expected');
  const p = write('p.json', { port: { value: 80 } });
  t.equal(errorOf(['--config', p], {}, cwd), `port: must be a port number from 0 to 65535: value was {"value":80} (from ${p})`);
  const r = write('r.json', { root: {} });
  t.equal(errorOf(['--config', r], {}, cwd), `root: must be a string: value was {} (from ${r})`);
  const d = write('d.json', { dotfiles: { allow: true } });
  t.equal(errorOf(['--config', d], {}, cwd), `dotfiles: must be one of the possible values: ["ignore","allow","deny"]: value was {"allow":true} (from ${d})`);
  t.equal(errorOf(['--port', '99999'], { PORT: '1' }, cwd), 'port: must be a port number from 0 to 65535: value was 99999', 'a flag value: no source needed');
  t.equal(errorOf([], { PORT: '99999' }, cwd), 'port: must be a port number from 0 to 65535: value was 99999 (from PORT)');
  const n = write('n.json', { root: null });
  t.equal(errorOf(['--config', n], {}, cwd), `root: must be a string (from ${n})`);
});

t.test('fuzz: every key × JSON values of every type, from the file, env and a flag: a ConfigError naming the key, or a good config', async (t) => {
  const { cwd, write } = confSandbox(t);
  t.ok(KEYS.length >= 38, `${KEYS.length} keys from --help`);
  const values: unknown[] = [
    null, true, false, 0, 1, -1, 1.5, 1e21, '', ' ', 'x', 'true', '/', '[', '{',
    [], [1], ['x'], [null], [{}], [[]], {}, { a: 1 }, { a: { b: [1] } }, { glob: '/**', headers: {} },
    [{ glob: '/**', headers: { a: { b: 1 } } }], [{ glob: '/**', headers: [] }], [{ glob: 5, headers: {} }],
    [{ glob: '/**', headers: { 'X-A': null } }], [{ glob: '[', headers: { 'X-A': '1' } }], [{ glob: '/**' }],
  ];
  const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  let runs = 0;
  for (const { key, flag, env } of KEYS) {
    for (const v of values) {
      const file = write('fuzz.json', { [key]: v });
      const sources: [string, string[], NodeJS.ProcessEnv][] = [
        [`file {"${key}": ${JSON.stringify(v)}}`, ['--config', file], {}],
        [`${env}=${text(v)}`, [], { [env]: text(v) }],
        [`--${flag}=${text(v)}`, [`--${flag}=${text(v)}`], {}],
      ];
      for (const [name, argv, environment] of sources) {
        const e = errorOf(argv, environment, cwd);
        runs++;
        if (e !== '(loaded without error)' && !e.startsWith(`${key}: `)) t.fail(`${name}: ${e}`);
      }
    }
  }
  t.equal(runs, KEYS.length * values.length * 3, `${runs} configurations, none threw anything but a one-line ConfigError naming its key`);
});

t.test('paths in a file are resolved against its directory; from env and flags against the working directory', async (t) => {
  const { cwd, conf, write } = confSandbox(t);
  fs.mkdirSync(path.join(conf, 'public'));
  fs.mkdirSync(path.join(conf, 'logs'));
  fs.mkdirSync(path.join(cwd, 'public'));
  fs.mkdirSync(path.join(cwd, 'logs'));
  const f = write('site.json', { root: 'public', accessLogFile: 'logs/access.log', logFile: './logs/fleetserve.log' });
  const c = run(['--config', 'conf/site.json'], {}, cwd);
  t.same([c.root, c.accessLogFile, c.logFile], [path.join(conf, 'public'), path.join(conf, 'logs/access.log'), path.join(conf, 'logs/fleetserve.log')], 'relative to conf/, not to the working directory');
  t.equal(run([], { FLEETSERVE_CONFIG: f }, path.join(cwd, 'site')).root, path.join(conf, 'public'), 'from any working directory');
  const e = run(['--config', f], { FLEETSERVE_ROOT: 'public', FLEETSERVE_ACCESS_LOG_FILE: 'logs/a.log' }, cwd);
  t.same([e.root, e.accessLogFile], [path.join(cwd, 'public'), path.join(cwd, 'logs/a.log')], 'env: against the working directory');
  const g = run(['--config', f, 'public', '--log-file', 'logs/f.log'], {}, cwd);
  t.same([g.root, g.logFile], [path.join(cwd, 'public'), path.join(cwd, 'logs/f.log')], 'flags: against the working directory');
  t.equal(run(['--config', write('abs.json', { root: path.join(cwd, 'public') })], {}, cwd).root, path.join(cwd, 'public'), 'an absolute path stays');
  t.equal(run(['--config', write('empty.json', { root: '', logFile: '' })], {}, cwd).root, path.join(cwd, 'site'), '"" stays the default');
});

t.test('a bad root or log path says where it came from', async (t) => {
  const { cwd, conf, write } = confSandbox(t);
  const f = write('c.json', { root: 'nope' });
  t.equal(errorOf(['--config', f], {}, cwd), `root: ${path.join(conf, 'nope')} does not exist (from ${f})`, 'not "pass a directory": it came from the file');
  t.equal(errorOf([], { FLEETSERVE_ROOT: 'nope' }, cwd), `root: ${path.join(cwd, 'nope')} does not exist (from FLEETSERVE_ROOT)`);
  t.equal(errorOf(['nope'], {}, cwd), `root: ${path.join(cwd, 'nope')} does not exist (pass a directory: fleetserve ./public)`, 'from the command line: how to pass one');
  const file = write('plain.txt', 'x');
  t.equal(errorOf(['--config', write('d.json', { root: 'plain.txt' })], {}, cwd), `root: ${file} is not a directory (from ${path.join(conf, 'd.json')})`);
  const l = write('l.json', { accessLogFile: 'missing/a.log' });
  t.equal(errorOf(['--config', l], {}, cwd), `accessLogFile: directory ${path.join(conf, 'missing')} does not exist (from ${l})`);
  t.equal(errorOf([], { FLEETSERVE_LOG_FILE: 'site' }, cwd), `logFile: ${path.join(cwd, 'site')} is a directory (from FLEETSERVE_LOG_FILE)`);
  t.equal(errorOf(['--log-file', 'site'], {}, cwd), `logFile: ${path.join(cwd, 'site')} is a directory`);
});

t.test('the path hooks other keys use', async (t) => {
  t.same(Object.keys(PATH_KEYS).sort(), ['accessLogFile', 'acmeCaFile', 'acmeStorage', 'basicAuth', 'logFile', 'pidFile', 'root', 'tlsCert', 'tlsCertificates', 'tlsKey']);
  const resolve = (p: string) => path.resolve('/etc/fs', p);
  t.equal(aPath('site', resolve), '/etc/fs/site');
  t.equal(aPath('', resolve), '', '"" means off or the default');
  t.equal(aPath(5, resolve), 5, 'a value of the wrong type is left for validation');
  const rules = aPathInEachRule('htpasswd');
  t.same(rules([{ glob: '/a/**', htpasswd: 'users' }, { glob: '/b/**' }, null, 'x', { htpasswd: '/abs' }], resolve), [{ glob: '/a/**', htpasswd: '/etc/fs/users' }, { glob: '/b/**' }, null, 'x', { htpasswd: '/abs' }]);
  t.same(rules({ htpasswd: 'users' }, resolve), { htpasswd: 'users' }, 'not an array: unchanged');
  const given = { root: 'public', port: 1 };
  t.same(resolvePaths(given, '/srv'), { root: '/srv/public', port: 1 });
  t.same(given, { root: 'public', port: 1 }, 'a copy: the input is not changed');
});

t.test('nearest names', async (t) => {
  t.equal(editDistance('prot', 'port'), 1, 'a swap is one edit');
  t.equal(editDistance('', 'abc'), 3);
  t.equal(editDistance('kitten', 'sitting'), 3);
  t.equal(nearestName('PORT', ['host', 'port']), 'port', 'case does not count');
  t.equal(nearestName('log_file', ['logFile', 'logLevel']), 'logFile', 'nor separators');
  t.equal(nearestName('bogus', ['host', 'port', 'root']), undefined, 'nothing within reach');
  t.equal(nearestName('', ['a']), undefined);
  t.equal(nearestName('wrkrs', ['workers']), undefined, 'two edits are too many for a short name');
  t.equal(nearestName('cachemaxbyte', ['cacheMaxBytes', 'cacheMaxFileBytes']), 'cacheMaxBytes');
});
