// Unit tests of loadConfig (src/config/config.ts), always with explicit argv, env and cwd: the test
// runner's own process.argv / process.env must never reach the configuration.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/config';
import { errorOf, run, sandbox } from '../../fixtures/config';

/** The resolved root, or the error message (so a failure shows what happened). */
function rootOrError(argv: string[], cwd: string): string {
  try {
    return run(argv, {}, cwd).root;
  } catch (err) {
    return `threw: ${(err as Error).message}`;
  }
}

const keyRe = (key: string) => new RegExp(`(^|[^A-Za-z])${key}([^A-Za-z]|$)`);

t.test('defaults', async (t) => {
  const { cwd, site } = sandbox(t);
  const c = run([], {}, cwd);
  t.equal(c.host, '0.0.0.0');
  t.equal(c.port, 6789);
  t.equal(c.root, site, 'root ./site resolved against cwd');
  t.equal(c.workers, os.availableParallelism());
  t.equal(c.drainTimeoutMs, 10000);
  t.equal(c.keepAliveTimeoutMs, 5000);
  t.equal(c.logLevel, 'info');
  t.equal(c.accessLog, true);
  t.equal(c.logPretty, 'auto');
  t.equal(c.config, '', 'no config file');
  t.ok(Object.isFrozen(c), 'the config object is frozen');
});

t.test('the runner’s own argv/env do not leak in', async (t) => {
  const { cwd } = sandbox(t);
  const saved = { PORT: process.env.PORT, FLEETSERVE_WORKERS: process.env.FLEETSERVE_WORKERS };
  process.env.PORT = '4321';
  process.env.FLEETSERVE_WORKERS = '7';
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const c = run([], {}, cwd);
  t.equal(c.port, 6789);
  t.equal(c.workers, os.availableParallelism());
});

t.test('precedence: defaults < JSON file < env < flags', async (t) => {
  const { cwd, write } = sandbox(t);
  const other = path.join(cwd, 'other');
  fs.mkdirSync(other);
  const file = write('conf/fleet.json', JSON.stringify({ port: 1111, workers: 3, drainTimeoutMs: 111, logLevel: 'warn', host: '127.0.0.1' }));

  let c = run(['--config', 'conf/fleet.json'], {}, cwd);
  t.equal(c.config, file, 'config path resolved against cwd');
  t.equal(c.port, 1111, 'file beats default');
  t.equal(c.workers, 3);
  t.equal(c.drainTimeoutMs, 111);
  t.equal(c.logLevel, 'warn');
  t.equal(c.host, '127.0.0.1');
  t.equal(c.keepAliveTimeoutMs, 5000, 'keys absent from the file keep their default');

  c = run([], { FLEETSERVE_CONFIG: 'conf/fleet.json' }, cwd);
  t.equal(c.port, 1111, 'FLEETSERVE_CONFIG names the file too');
  t.equal(c.config, file);

  const env = { PORT: '2222', FLEETSERVE_WORKERS: '4', FLEETSERVE_DRAIN_TIMEOUT_MS: '222', HOST: '127.0.0.2' };
  c = run(['--config', 'conf/fleet.json'], env, cwd);
  t.equal(c.port, 2222, 'env beats file');
  t.equal(c.workers, 4);
  t.equal(c.drainTimeoutMs, 222);
  t.equal(c.host, '127.0.0.2');
  t.equal(c.logLevel, 'warn', 'file value kept where env says nothing');

  c = run(['--config', 'conf/fleet.json', '--port', '3333', '--workers=5', '--host', '::1'], env, cwd);
  t.equal(c.port, 3333, 'flag beats env');
  t.equal(c.workers, 5, '--key=value form');
  t.equal(c.host, '::1');
  t.equal(c.drainTimeoutMs, 222, 'env value kept where flags say nothing');

  c = run(['--root', 'other'], { FLEETSERVE_ROOT: 'site' }, cwd);
  t.equal(c.root, other, '--root beats FLEETSERVE_ROOT');
  c = run([], { FLEETSERVE_ROOT: 'other' }, cwd);
  t.equal(c.root, other, 'FLEETSERVE_ROOT resolved against cwd');
});

t.test('every env var named by the issue is read', async (t) => {
  const { cwd } = sandbox(t);
  const c = run([], {
    HOST: '127.0.0.1',
    PORT: '8081',
    FLEETSERVE_WORKERS: '0',
    FLEETSERVE_DRAIN_TIMEOUT_MS: '1234',
    FLEETSERVE_KEEP_ALIVE_TIMEOUT_MS: '2345',
    FLEETSERVE_LOG_LEVEL: 'debug',
    FLEETSERVE_ACCESS_LOG: 'false',
    FLEETSERVE_LOG_PRETTY: 'true',
  }, cwd);
  t.equal(c.host, '127.0.0.1');
  t.equal(c.port, 8081);
  t.equal(c.workers, 0);
  t.equal(c.drainTimeoutMs, 1234);
  t.equal(c.keepAliveTimeoutMs, 2345);
  t.equal(c.logLevel, 'debug');
  t.equal(c.accessLog, false);
  t.equal(c.logPretty, 'true');
});

t.test('flags for the lifecycle keys', async (t) => {
  const { cwd } = sandbox(t);
  const c = run(
    ['--drain-timeout-ms', '500', '--keep-alive-timeout-ms', '300', '--headers-timeout-ms', '400', '--log-level', 'error', '--access-log', 'false', '--log-pretty', 'false'],
    {},
    cwd,
  );
  t.equal(c.drainTimeoutMs, 500);
  t.equal(c.keepAliveTimeoutMs, 300);
  t.equal(c.headersTimeoutMs, 400);
  t.equal(c.logLevel, 'error');
  t.equal(c.accessLog, false);
  t.equal(c.logPretty, 'false');
});

t.test('a positional directory sets the root', async (t) => {
  const { cwd } = sandbox(t);
  fs.mkdirSync(path.join(cwd, 'public'));
  const c = run(['./public', '--port', '8080'], {}, cwd);
  t.equal(c.root, path.join(cwd, 'public'));
  t.equal(c.port, 8080);
  const c2 = run(['--port', '8080', 'public'], { FLEETSERVE_ROOT: 'site' }, cwd);
  t.equal(c2.root, path.join(cwd, 'public'), 'after the flags too, and over FLEETSERVE_ROOT');
});

t.test('a directory name that looks like a number stays as written', async (t) => {
  // e.g. versioned docs: `fleetserve 1.10` or `--root 1.10` must serve ./1.10, not ./1.1
  const { cwd } = sandbox(t);
  for (const name of ['1.10', '1e3']) {
    fs.mkdirSync(path.join(cwd, name));
    t.equal(rootOrError([name], cwd), path.join(cwd, name), `positional ${name}`);
    t.equal(rootOrError(['--root', name], cwd), path.join(cwd, name), `--root ${name}`);
  }
});

t.test('a flag given twice: the last one wins, or it is refused — never silently the first', async (t) => {
  const { cwd } = sandbox(t);
  let got: string;
  try {
    got = `port ${run(['--port', '1111', '--port', '2222'], {}, cwd).port}`;
  } catch (err) {
    got = `error: ${(err as Error).message}`;
  }
  t.match(got, /^(port 2222|error: .*\bport\b.*)$/);
});

t.test('positional directory and --root together are refused', async (t) => {
  const { cwd } = sandbox(t);
  fs.mkdirSync(path.join(cwd, 'public'));
  const e = errorOf(['public', '--root', 'site'], {}, cwd);
  t.match(e, /root/);
  const e2 = errorOf(['--root=site', 'public'], {}, cwd);
  t.match(e2, /root/);
  const e3 = errorOf(['public', 'site'], {}, cwd);
  t.match(e3, /public.*site|site.*public/, 'two directories are refused, both named');
});

t.test('an unknown key in the JSON file is refused by name', async (t) => {
  const { cwd, write } = sandbox(t);
  write('c.json', JSON.stringify({ port: 1234, prot: 1 }));
  t.equal(errorOf(['--config', 'c.json'], {}, cwd), `prot: unknown key in ${path.join(cwd, 'c.json')} (did you mean port?)`);
  write('d.json', JSON.stringify({ drainTimeout: 5 }));
  t.equal(errorOf([], { FLEETSERVE_CONFIG: 'd.json' }, cwd), `drainTimeout: unknown key in ${path.join(cwd, 'd.json')} (did you mean drainTimeoutMs?)`);
});

t.test('bad values name their key (flag, env and file)', async (t) => {
  const { cwd, write } = sandbox(t);
  const cases: { key: string; flag: string; env: string; values: string[]; fileValues: unknown[]; inline?: boolean }[] = [
    { key: 'port', flag: '--port', env: 'PORT', values: ['99999', 'abc', '-1', '65536'], fileValues: [99999, 'abc', -1, 1.5] },
    { key: 'workers', flag: '--workers', env: 'FLEETSERVE_WORKERS', values: ['-1', 'two', '1.5'], fileValues: [-1, 'two', 1.5] },
    { key: 'logLevel', flag: '--log-level', env: 'FLEETSERVE_LOG_LEVEL', values: ['loud'], fileValues: ['loud'] },
    // A true/false flag takes a non-boolean word only after "=" ("--access-log maybe" serves ./maybe).
    { key: 'accessLog', flag: '--access-log', env: 'FLEETSERVE_ACCESS_LOG', values: ['maybe'], fileValues: ['maybe', 2], inline: true },
    { key: 'drainTimeoutMs', flag: '--drain-timeout-ms', env: 'FLEETSERVE_DRAIN_TIMEOUT_MS', values: ['0', 'soon', '-5'], fileValues: [0, 'soon'] },
    { key: 'keepAliveTimeoutMs', flag: '--keep-alive-timeout-ms', env: 'FLEETSERVE_KEEP_ALIVE_TIMEOUT_MS', values: ['0', 'x'], fileValues: [0] },
    { key: 'logPretty', flag: '--log-pretty', env: 'FLEETSERVE_LOG_PRETTY', values: ['sometimes'], fileValues: ['sometimes'] },
    { key: 'host', flag: '--host', env: 'HOST', values: ['not a host!', ''], fileValues: ['a b', 5] },
  ];
  let n = 0;
  for (const c of cases) {
    for (const v of c.values) {
      t.match(errorOf(c.inline ? [`${c.flag}=${v}`] : [c.flag, v], {}, cwd), keyRe(c.key), `${c.flag} ${JSON.stringify(v)} names ${c.key}`);
      t.match(errorOf([], { [c.env]: v }, cwd), keyRe(c.key), `${c.env}=${JSON.stringify(v)} names ${c.key}`);
    }
    for (const v of c.fileValues) {
      const f = `bad-${n++}.json`;
      write(f, JSON.stringify({ [c.key]: v }));
      t.match(errorOf(['--config', f], {}, cwd), keyRe(c.key), `file {${c.key}: ${JSON.stringify(v)}} names ${c.key}`);
    }
  }
});

t.test('a port with trailing garbage or a fraction is refused, not truncated', async (t) => {
  const { cwd } = sandbox(t);
  for (const v of ['8080abc', '80.5', '1e3', '0x50']) {
    t.match(errorOf(['--port', v], {}, cwd), keyRe('port'), `--port ${v}`);
    t.match(errorOf([], { PORT: v }, cwd), keyRe('port'), `PORT=${v}`);
  }
});

t.test('workers 0 (single process) is accepted', async (t) => {
  const { cwd } = sandbox(t);
  t.equal(run(['--workers', '0'], {}, cwd).workers, 0);
  t.equal(run([], { FLEETSERVE_WORKERS: '0' }, cwd).workers, 0);
  t.equal(run(['--port', '0'], {}, cwd).port, 0, 'port 0 (any free port) too');
});

t.test('boolean spellings', async (t) => {
  const { cwd } = sandbox(t);
  for (const v of ['false', 'FALSE', '0', 'no', 'off']) t.equal(run(['--access-log', v], {}, cwd).accessLog, false, v);
  for (const v of ['true', '1', 'yes', 'on']) t.equal(run([], { FLEETSERVE_ACCESS_LOG: v }, cwd).accessLog, true, v);
});

t.test('boolean flags: alone true, --no-KEY false, a next word only when it is a boolean word', async (t) => {
  const { cwd } = sandbox(t);
  const mysite = path.join(cwd, 'mysite');
  fs.mkdirSync(mysite);
  let c = run(['mysite', '--listing', '-a', '127.0.0.1'], {}, cwd);
  t.same([c.root, c.listing, c.host], [mysite, true, '127.0.0.1'], 'fleetserve mysite --listing -a 127.0.0.1');
  c = run(['--listing', '--spa'], {}, cwd);
  t.same([c.listing, c.spa], [true, true], '--listing --spa');
  t.equal(run(['--no-listing'], { FLEETSERVE_LISTING: 'true' }, cwd).listing, false, '--no-listing beats env');
  t.equal(run(['--listing', 'true'], {}, cwd).listing, true, '--listing true');
  t.equal(run(['--listing=false'], {}, cwd).listing, false, '--listing=false');
  t.equal(run(['--listing', '0'], {}, cwd).listing, false, '--listing 0');
  t.equal(run(['--listing', '--no-listing'], {}, cwd).listing, false, 'the last one wins');
  c = run(['--no-access-log', '--no-compress', '--precompressed', 'off', '--clean-urls', 'mysite'], {}, cwd);
  t.same([c.accessLog, c.compress, c.precompressed, c.cleanUrls, c.root], [false, false, false, true, mysite], 'every strict-boolean key, before a directory');
  t.equal(run(['--log-pretty', 'false'], {}, cwd).logPretty, 'false', 'logPretty (auto/true/false) still takes its value');
  t.equal(errorOf(['--log-pretty'], {}, cwd), 'option --log-pretty needs a value');
  t.equal(run(['-p', '8080'], {}, cwd).port, 8080, 'value flags unchanged');
  // A directory named "true" next to a boolean flag: the word is the value; ./true is the directory.
  fs.mkdirSync(path.join(cwd, 'true'));
  c = run(['--listing', 'true'], {}, cwd);
  t.same([c.listing, c.root], [true, path.join(cwd, 'site')], '--listing true: the value, not the directory');
  c = run(['--listing', './true'], {}, cwd);
  t.same([c.listing, c.root], [true, path.join(cwd, 'true')], '--listing ./true: the directory');
  t.equal(
    errorOf(['--access-log', 'maybe'], {}, cwd),
    `root: ${path.join(cwd, 'maybe')} does not exist (after --access-log, "maybe" is read as the directory: --access-log takes only true/false, 1/0, yes/no or on/off as its next word)`,
  );
  t.equal(errorOf(['--access-log=maybe'], {}, cwd), 'accessLog: must be true or false (or 1/0, yes/no, on/off): value was "maybe"');
  t.equal(errorOf(['--no-listing=yes'], {}, cwd), 'option --no-listing takes no value');
});

t.test('booleans in the JSON file: true/false, 1/0 and the words, as the README says', async (t) => {
  const { cwd, write } = sandbox(t);
  const cases: [unknown, boolean][] = [[true, true], [false, false], [1, true], [0, false], ['yes', true], ['no', false], ['on', true], ['OFF', false], ['1', true]];
  for (const [value, expected] of cases) {
    write('b.json', JSON.stringify({ listing: value, accessLog: !expected }));
    const c = run(['--config', 'b.json'], {}, cwd);
    t.same([c.listing, c.accessLog], [expected, !expected], `"listing": ${JSON.stringify(value)}`);
  }
  for (const [value, expected] of [[true, 'true'], [false, 'false'], [0, 'false'], ['auto', 'auto']] as const) {
    write('p.json', JSON.stringify({ logPretty: value }));
    t.equal(run(['--config', 'p.json'], {}, cwd).logPretty, expected, `"logPretty": ${JSON.stringify(value)}`);
  }
  for (const value of [2, -1, 0.5, 'maybe', '', null]) {
    write('bad.json', JSON.stringify({ spa: value }));
    t.match(errorOf(['--config', 'bad.json'], {}, cwd), /^spa: must be true or false \(or 1\/0, yes\/no, on\/off\)/, `"spa": ${JSON.stringify(value)} is refused`);
  }
});

t.test('root must be an existing directory', async (t) => {
  const { cwd, write } = sandbox(t);
  const missing = path.join(cwd, 'nope');
  const file = write('afile.txt', 'x');
  const e2 = errorOf([file], {}, cwd);
  t.equal(e2, `root: ${file} is not a directory (pass a directory: fleetserve ./public)`);
  const e = errorOf(['--root', 'nope'], {}, cwd);
  t.equal(e, `root: ${missing} does not exist (pass a directory: fleetserve ./public)`);
});

t.test('without a directory: ./site when the working directory has one, else the working directory', async (t) => {
  const { cwd, site } = sandbox(t);
  const withSite = loadConfig([], {}, cwd);
  t.equal(withSite.kind === 'run' && withSite.config.root, site);
  t.equal(withSite.kind === 'run' && withSite.rootChoice, 'no directory given: serving ./site');
  fs.rmSync(site, { recursive: true });
  const without = loadConfig([], {}, cwd);
  t.equal(without.kind === 'run' && without.config.root, cwd, 'the working directory itself');
  t.equal(without.kind === 'run' && without.rootChoice, 'no ./site here: serving the current directory');
  fs.writeFileSync(path.join(cwd, 'site'), 'a file, not a directory');
  t.equal(run([], {}, cwd).root, cwd, 'a file called site is not a site');
  t.equal(run([], { FLEETSERVE_ROOT: '' }, cwd).root, cwd, 'an empty FLEETSERVE_ROOT is the default');
  const given = loadConfig(['.'], {}, cwd);
  t.equal(given.kind === 'run' && given.rootChoice, undefined, 'a given directory needs no note');
  t.equal(errorOf(['--root', 'site'], {}, cwd), `root: ${path.join(cwd, 'site')} is not a directory (pass a directory: fleetserve ./public)`);
});

t.test('short flags: -p PORT and -a HOST as http-server has them; -V version; -v refused with a hint', async (t) => {
  const { cwd } = sandbox(t);
  const c = run(['-p', '8080', '-a', '127.0.0.1'], {}, cwd);
  t.equal(c.port, 8080);
  t.equal(c.host, '127.0.0.1');
  t.equal(run(['-p8081'], {}, cwd).port, 8081, '-p8081');
  t.equal(run(['-p=8082'], {}, cwd).port, 8082, '-p=8082');
  t.equal(run(['--port', '1', '-p', '8083'], {}, cwd).port, 8083, 'the last of --port and -p wins');
  t.equal(run(['-p', '8083', '--port', '1'], { PORT: '9' }, cwd).port, 1, 'and the other way round');
  t.equal(errorOf(['-p'], {}, cwd), 'option -p needs a value');
  t.match(errorOf(['-p', 'eighty'], {}, cwd), keyRe('port'));
  t.equal(loadConfig(['-V'], {}, cwd).kind, 'version');
  t.equal(loadConfig(['--version'], {}, cwd).kind, 'version');
  t.equal(loadConfig(['-h'], {}, cwd).kind, 'help');
  t.equal(errorOf(['-v'], {}, cwd), 'unknown option -v (the version is -V; more logs: --log-level debug)');
  t.equal(errorOf(['-x'], {}, cwd), 'unknown option -x (see --help)');
  t.equal(errorOf(['-P', '80'], {}, cwd), 'unknown option -P (did you mean -p?)', 'a letter in the wrong case');
});

t.test('config file problems', async (t) => {
  const { cwd, write } = sandbox(t);
  const bad = write('bad.json', '{"port": 1,}');
  const e = errorOf(['--config', 'bad.json'], {}, cwd);
  t.match(e, /config/);
  t.match(e, bad, 'names the file');
  t.match(e, /JSON/);
  const e2 = errorOf(['--config', 'missing.json'], {}, cwd);
  t.match(e2, path.join(cwd, 'missing.json'));
  write('arr.json', '[1, 2]');
  t.match(errorOf(['--config', 'arr.json'], {}, cwd), /object/);
});

t.test('unknown flags and flags without a value', async (t) => {
  const { cwd } = sandbox(t);
  t.match(errorOf(['--prot', '80'], {}, cwd), /--prot/);
  t.match(errorOf(['--port=80', '--wrokers=2'], {}, cwd), /--wrokers/);
  t.match(errorOf(['--port'], {}, cwd), /--port/);
});

t.test('--help lists every key with its flag, env var and default', async (t) => {
  const { cwd } = sandbox(t);
  const r = loadConfig(['--help'], {}, cwd);
  t.equal(r.kind, 'help');
  if (r.kind !== 'help') return;
  const lines = r.text.split('\n');
  const keys = Object.keys(run([], {}, cwd));
  t.ok(keys.length >= 10, 'the config has its keys');
  const specialEnv: Record<string, string> = { host: 'HOST', port: 'PORT' };
  // The defaults the issue names, as they would be written in the help text.
  const defaults: Record<string, RegExp> = {
    host: /0\.0\.0\.0/,
    port: /\b6789\b/,
    root: /\.\/site/,
    workers: new RegExp(`\\b${os.availableParallelism()}\\b`),
    drainTimeoutMs: /\b10000\b/,
    keepAliveTimeoutMs: /\b5000\b/,
    logLevel: /\binfo\b/,
    accessLog: /\btrue\b/,
    logPretty: /\bauto\b/,
  };
  for (const key of keys) {
    const flag = '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    const env = specialEnv[key] ?? 'FLEETSERVE_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
    const line = lines.find((l) => new RegExp(`^\\s*${flag}(?![-\\w])`).test(l));
    t.ok(line, `${key}: a line for ${flag}`);
    if (!line) continue;
    t.match(line, new RegExp(`\\b${env}\\b`), `${key}: env ${env}`);
    t.match(line, /default/i, `${key}: default shown`);
    if (defaults[key]) t.match(line, defaults[key]!, `${key}: default value`);
  }
  t.match(r.text, /--help/);
  t.match(r.text, /^ {2}--listing, --no-listing {2}\(env FLEETSERVE_LISTING, /m, 'a boolean key with its --no- form');
  t.match(r.text, /^ {2}--access-log, --no-access-log {2}/m);
  t.match(r.text, /^ {2}--port, -p {2}/m, 'a value key without one');
  t.notMatch(r.text, /--no-(port|log-pretty|root)\b/);
});

t.test('maxConnections: default, env, flag, and refused values', async (t) => {
  const { cwd } = sandbox(t);
  t.equal(run([], {}, cwd).maxConnections, 4096, 'default 4096');
  t.equal(run([], { FLEETSERVE_MAX_CONNECTIONS: '100' }, cwd).maxConnections, 100, 'FLEETSERVE_MAX_CONNECTIONS');
  t.equal(run(['--max-connections', '7'], { FLEETSERVE_MAX_CONNECTIONS: '100' }, cwd).maxConnections, 7, '--max-connections wins over env');
  for (const bad of ['0', '-1', '1.5', 'abc', '']) {
    t.throws(() => run(['--max-connections', bad], {}, cwd), /maxConnections/, `--max-connections ${JSON.stringify(bad)} is refused`);
  }
});
