// The package a user installs: a fresh clone of this repository (HEAD: what is committed),
// `npm pack` there (its prepack script builds dist/), the tarball installed with
// `npm install -g --prefix DIR` without a warning (it has no install script: npm 11 warns
// about any, `prepare` included), and both bins run from DIR/bin. In the clone, `npm start`
// builds dist/ itself.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT } from '../fixtures/server';
import { spawnLines, which } from '../fixtures/lines';
import { machineSkip } from '../fixtures/machine';
import { MANUAL_PAGES } from '../fixtures/manual';

// Two builds (npm pack, npm start) and an install: minutes on a busy machine, beyond the
// suite's 120 s per file.
t.setTimeout(300_000);

const npm = which('npm');
const git = which('git');
const isRepo = git !== null && spawnSync(git, ['rev-parse', '--git-dir'], { cwd: PROJECT }).status === 0;
const skip = machineSkip() || (!npm ? 'npm not found on PATH' : !git ? 'git not found on PATH' : !isRepo ? 'the project directory is not a git repository (nothing to clone)' : false);

/** An npm command's stdout and stderr, or an error with both when it fails. */
function run(cmd: string, args: string[], cwd: string, timeout = 60_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

t.test('npm pack from a fresh clone gives a package whose bins work when installed', { skip }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-pack-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const clone = path.join(tmp, 'clone');
  run(git!, ['clone', '--quiet', PROJECT, clone], tmp);
  t.notOk(fs.existsSync(path.join(clone, 'dist')), 'a fresh clone has no dist/');
  // The build tools are the project's devDependencies; link them instead of a second install.
  fs.symlinkSync(path.join(PROJECT, 'node_modules'), path.join(clone, 'node_modules'));

  const packed = run(npm!, ['pack', '--json', '--pack-destination', tmp], clone, 120_000);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path).sort();

  // What a user needs, and nothing else.
  for (const need of ['LICENSE', 'README.md', 'package.json', 'dist/main.js', 'dist/client.js', 'config/default.json', 'config/production.json', 'site/index.html', 'scripts/systemd/fleetserve.service', 'scripts/systemd/fleetserve.socket', 'scripts/systemd/fleetserve-http.socket', 'scripts/haproxy/haproxy-config.sh', 'scripts/haproxy/haproxy.cfg.template']) {
    t.ok(files.includes(need), `ships ${need}`);
  }
  t.ok(MANUAL_PAGES.length > 1, 'the manual has pages in docs/');
  for (const page of MANUAL_PAGES) t.ok(files.includes(page), `ships the manual's ${page}`);
  t.same(files.filter((f) => f.startsWith('docs/') && !MANUAL_PAGES.includes(f)), [], "from docs/ only the manual's pages (no -draft.md work note)");
  t.same(files.filter((f) => !/^(LICENSE|README\.md|package\.json|dist\/.+\.js|config\/[^/]+\.json|site\/.+|scripts\/(systemd|haproxy)\/.+|docs\/[^/]+\.md)$/.test(f)), [], 'nothing outside dist, config, site, the deployment recipes, the manual (README, docs/), LICENSE');
  t.same(files.filter((f) => f.endsWith('.map') || f.endsWith('.ts') || f.startsWith('test/')), [], 'no source maps, sources or tests');
  t.match(fs.readFileSync(path.join(clone, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} fleetserve contributors\n/);

  const manifest = JSON.parse(spawnSync('tar', ['-xOzf', path.join(tmp, info!.filename), 'package/package.json'], { encoding: 'utf8' }).stdout) as { scripts?: Record<string, string> };
  const installScripts = ['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare'];
  t.same(Object.keys(manifest.scripts ?? {}).filter((s) => installScripts.includes(s)), [], 'the packed package.json has no script that runs on install');

  const prefix = path.join(tmp, 'prefix');
  const installed = run(npm!, ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(tmp, info!.filename)], tmp, 120_000);
  t.same(installed.stderr.split('\n').filter((l) => /install-scripts|allow-scripts|prepare/i.test(l)), [], 'npm install -g says nothing about scripts (npm 11 warns about an install script such as prepare)');
  const bin = path.join(prefix, 'bin');
  const env = { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin` };

  const version = JSON.parse(fs.readFileSync(path.join(PROJECT, 'package.json'), 'utf8')).version as string;
  const v = spawnSync(path.join(bin, 'fleetserve'), ['--version'], { encoding: 'utf8', env });
  t.equal(v.status, 0, 'fleetserve --version exits 0');
  t.equal(v.stdout, `fleetserve ${version}\n`);
  const h = spawnSync(path.join(bin, 'fleetserve'), ['--help'], { encoding: 'utf8', env });
  t.equal(h.status, 0, 'fleetserve --help exits 0');
  t.match(h.stdout, /--port/, 'and lists the options');
  const cv = spawnSync(path.join(bin, 'fleetserve-client'), ['--version'], { encoding: 'utf8', env });
  t.equal(cv.status, 0, 'fleetserve-client --version exits 0');
  t.match(cv.stdout, version);

  const recipe = spawnSync(path.join(prefix, 'lib', 'node_modules', 'fleetserve', 'scripts', 'haproxy', 'haproxy-config.sh'), ['192.0.2.1:6789'], { encoding: 'utf8' });
  t.equal(recipe.status, 0, 'the installed haproxy-config.sh runs');
  t.match(recipe.stdout, /\n    server fleetserve1 192\.0\.2\.1:6789\n/, 'and writes the server line');

  // `fleetserve ./public` from some directory, as a user types it.
  const work = path.join(tmp, 'work');
  fs.mkdirSync(path.join(work, 'public'), { recursive: true });
  fs.writeFileSync(path.join(work, 'public', 'hello.txt'), 'hello from the package\n');
  const server = spawnLines(t, path.join(bin, 'fleetserve'), ['./public', '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--log-pretty', 'false'], env, work);
  const listening = await server.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'), 10_000, 'listening line');
  const port = listening.port as number;
  const got = spawnSync(path.join(bin, 'fleetserve-client'), ['-s', `http://127.0.0.1:${port}/hello.txt`], { encoding: 'utf8', env, timeout: 10_000 });
  t.equal(got.status, 0, 'fleetserve-client exits 0');
  t.equal(got.stdout, 'hello from the package\n', 'and prints the file the installed fleetserve served');
  const missing = spawnSync(path.join(bin, 'fleetserve-client'), ['-s', '127.0.0.1', String(port), '/nope'], { encoding: 'utf8', env, timeout: 10_000 });
  t.equal(missing.status, 22, 'a 404 is exit code 22');
  process.kill(server.proc.pid!, 'SIGTERM');
  t.equal((await server.exited()).code, 0, 'and it drains on SIGTERM');

  // Back in the clone without dist/: `npm start` builds before it starts (prestart).
  fs.rmSync(path.join(clone, 'dist'), { recursive: true, force: true });
  const started = run(npm!, ['start', '--silent', '--', '--version'], clone, 120_000);
  t.equal(started.stdout, `fleetserve ${version}\n`, 'npm start in a fresh clone builds, then runs');
  t.ok(fs.existsSync(path.join(clone, 'dist', 'main.js')), 'dist/ built by npm start');
});
