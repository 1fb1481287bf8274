// `fleetserve --check-config`: the same validation as a start (flags, env, JSON file, root,
// header rules, health path), "configuration ok" and exit 0, or one line and exit 2 — and
// nothing bound, nothing forked (nginx -t).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/config';
import { makeSite, spawnServer } from '../fixtures/server';

let root: string;
t.before(() => {
  root = makeSite(t, { 'index.html': 'hi\n' });
});

async function check(args: string[], env?: Record<string, string>) {
  const s = spawnServer({ args: ['--check-config', ...args], env });
  t.teardown(() => s.kill());
  const r = await s.exited(10_000);
  return { code: r.code, stdout: s.stdout(), stderr: s.stderr() };
}

t.test('a good configuration: "configuration ok", exit 0, and the port is not touched', async (t) => {
  // A port this test listens on itself: a server that tried to bind it would fail.
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const file = path.join(path.dirname(root), 'good.json');
  fs.writeFileSync(file, JSON.stringify({ headers: [{ glob: '/**', headers: { 'X-Test': '1' } }], healthPath: '/status' }));
  const r = await check(['--host', '127.0.0.1', '--port', String(port), '--root', root, '--config', file, '--workers', '2'], { FLEETSERVE_PRE_DRAIN_DELAY_MS: '500' });
  t.equal(r.code, 0, 'exit 0');
  t.equal(r.stdout, 'configuration ok\n', 'exactly one line on stdout');
  t.equal(r.stderr, '', 'nothing on stderr');
});

t.test('a bad configuration: exit 2 and one line on stderr naming the key', async (t) => {
  const dir = path.dirname(root);
  const bogus = path.join(dir, 'bogus.json');
  fs.writeFileSync(bogus, JSON.stringify({ bogus: 1 }));
  const badRule = path.join(dir, 'bad-rule.json');
  fs.writeFileSync(badRule, JSON.stringify({ headers: [{ glob: '/**', headers: { 'Bad Name': 'x' } }] }));
  const notJson = path.join(dir, 'not.json');
  fs.writeFileSync(notJson, '{ "port": ');
  const cases: { args: string[]; env?: Record<string, string>; says: RegExp }[] = [
    { args: ['--port', '99999'], says: /^fleetserve: port\b/ },
    { args: ['--root', path.join(dir, 'missing')], says: /^fleetserve: root: .*missing does not exist/ },
    { args: ['--config', bogus], says: /^fleetserve: bogus: unknown key in .*bogus\.json \(fleetserve --help lists the keys\)$/ },
    { args: ['--config', badRule], says: /^fleetserve: .*headers.*Bad Name/ },
    { args: ['--config', notJson], says: /^fleetserve: config: .*not valid JSON/ },
    { args: ['--health-path', 'healthz'], says: /^fleetserve: healthPath: must be "" \(off\) or a path starting with "\/"/ },
    { args: [], env: { FLEETSERVE_PRE_DRAIN_DELAY_MS: '-5' }, says: /^fleetserve: preDrainDelayMs\b/ },
  ];
  for (const c of cases) {
    // A later --root wins over the first (the last of a repeated flag counts).
    const r = await check(['--host', '127.0.0.1', '--root', root, ...c.args], c.env);
    const name = JSON.stringify(c.args.length ? c.args : c.env);
    t.equal(r.code, 2, `${name}: exit 2`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    t.equal(lines.length, 1, `${name}: one line: ${JSON.stringify(r.stderr)}`);
    t.match(lines[0] ?? '', c.says, `${name}: names the problem`);
  }
});

t.test('healthPath and preDrainDelayMs: defaults, env, flags, file', (t) => {
  const cwd = path.dirname(root);
  const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = loadConfig(['--root', root, ...argv], env, cwd);
    if (r.kind !== 'run') throw new Error(r.kind);
    return r.config;
  };
  t.equal(run([]).healthPath, '/healthz');
  t.equal(run([]).preDrainDelayMs, 0);
  t.equal(run([], { FLEETSERVE_HEALTH_PATH: '/ready' }).healthPath, '/ready');
  t.equal(run(['--health-path', ''], { FLEETSERVE_HEALTH_PATH: '/ready' }).healthPath, '', '"" turns it off; the flag beats env');
  t.equal(run(['--health-path=/-/health']).healthPath, '/-/health');
  t.equal(run([], { FLEETSERVE_PRE_DRAIN_DELAY_MS: '5000' }).preDrainDelayMs, 5000);
  t.equal(run(['--pre-drain-delay-ms', '250']).preDrainDelayMs, 250);
  for (const bad of ['healthz', '/a b', '/a?b', '/x#y', '/é']) {
    t.throws(() => run(['--health-path', bad]), /healthPath/, `${JSON.stringify(bad)} is refused`);
  }
  t.throws(() => run(['--pre-drain-delay-ms', '1.5']), /preDrainDelayMs/);
  const r = loadConfig(['--check-config', '--root', root], {}, cwd);
  t.equal(r.kind, 'check', '--check-config is a check, not a run');
  t.end();
});
