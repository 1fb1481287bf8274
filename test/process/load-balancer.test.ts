// Several fleetserve hosts on one machine, each in its own network namespace with its own
// address, HAProxy in front (configured by scripts/haproxy/haproxy-config.sh, which sends the
// PROXY protocol v2): a keep-alive load through HAProxy survives a rolling restart of every
// host, the access log shows the client's own address (a client in a namespace of its own),
// and the same namespaces show what binding to 127.0.0.1 instead of 0.0.0.0 means. Skips
// without root or namespaces.
import t from 'tap';
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeSite, MAIN, PROJECT } from '../fixtures/server';
import { FIXTURES, spawnLines, which, type Line, type LineProcess, type LoadResult } from '../fixtures/lines';
import { machineSkip } from '../fixtures/machine';
import { makeTestNetwork, netnsSkipReason, type TestHost, type TestNetwork } from '../fixtures/netns';
import { sleep } from '../fixtures/wire';

const netnsSkip = machineSkip() || netnsSkipReason();
const skip = netnsSkip || (which('haproxy') ? false : 'haproxy not found: apt-get install haproxy (.ci/run does)');
const CLIENT = path.join(PROJECT, 'dist', 'client.js');
const PORT = 8080; // each host namespace has its own port space
const LB_PORT = 8000;
/** How a host behind the generated HAProxy runs: PROXY protocol on, only HAProxy (the lb namespace's address) trusted. */
const BEHIND_HAPROXY = (net: TestNetwork) => ['--proxy-protocol', 'true', '--trusted-proxies', net.lbAddr];
const isListening = (l: Line) => typeof l.msg === 'string' && l.msg.startsWith('listening on');

const BODY = Buffer.from(crypto.randomBytes(12 * 1024).toString('base64')); // 16 KiB
const BODY_SHA = crypto.createHash('sha256').update(BODY).digest('hex');

function startHost(t: Test, net: TestNetwork, h: TestHost, root: string, host: string, extra: string[] = []): Promise<LineProcess & { line: Line }> {
  const args = [...net.inNs(h.ns), process.execPath, MAIN, root, '--host', host, '--port', String(PORT), '--log-pretty', 'false', '--access-log', 'false', ...extra];
  const p = spawnLines(t, 'ip', args);
  return p.waitFor(isListening, 10_000, `${h.name} listening`).then((line) => ({ ...p, line }));
}

/** haproxy-config.sh's configuration for `hosts`, written into `dir` and checked by haproxy -c. */
function haproxyConfig(t: Test, dir: string, args: string[], hosts: string[]): { cfg: string; stderr: string; stdout: string } {
  const gen = spawnSync(path.join(PROJECT, 'scripts', 'haproxy', 'haproxy-config.sh'), [...args, ...hosts], { encoding: 'utf8' });
  t.equal(gen.status, 0, 'haproxy-config.sh exits 0');
  t.match(gen.stdout, /send-proxy-v2/, 'HAProxy sends PROXY v2 to the hosts');
  t.match(gen.stderr, /run every fleetserve host with --proxy-protocol true --trusted-proxies /, 'and says how to run them');
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, gen.stdout);
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
  t.equal(check.status, 0, `haproxy -c accepts it: ${check.stderr}`);
  return { cfg, stdout: gen.stdout, stderr: gen.stderr };
}

/** fleetserve-client run inside namespace `ns`: its exit code and output. */
function clientIn(net: TestNetwork, ns: string, url: string) {
  return spawnSync('ip', [...net.inNs(ns), process.execPath, CLIENT, '-sS', '--connect-timeout', '3000', url], { encoding: 'utf8', timeout: 15_000 });
}

t.test('bound to 127.0.0.1 a host is unreachable from another namespace; bound to 0.0.0.0 it is reachable', { skip: netnsSkip || false }, async (t) => {
  const net = makeTestNetwork(t, 1);
  const h = net.hosts[0]!;
  const root = makeSite(t, { 'index.html': 'hello from h1\n' });
  const url = `http://${h.addr}:${PORT}/index.html`;

  const local = await startHost(t, net, h, root, '127.0.0.1', ['--workers', '0']);
  t.equal(clientIn(net, h.ns, `http://127.0.0.1:${PORT}/index.html`).stdout, 'hello from h1\n', 'inside its own namespace, 127.0.0.1 answers');
  const refused = clientIn(net, net.lb, url);
  t.equal(refused.status, 7, 'from the lb namespace: exit code 7 (cannot connect)');
  t.match(refused.stderr, /refused/i, `connection refused: ${refused.stderr.trim()}`);
  process.kill(local.proc.pid!, 'SIGTERM');
  t.equal((await local.exited()).code, 0);

  const all = await startHost(t, net, h, root, '0.0.0.0', ['--workers', '0']);
  const ok = clientIn(net, net.lb, url);
  t.equal(ok.status, 0, 'bound to 0.0.0.0: exit code 0 from the lb namespace');
  t.equal(ok.stdout, 'hello from h1\n', 'and the file');
  process.kill(all.proc.pid!, 'SIGTERM');
  t.equal((await all.exited()).code, 0);
});

t.test('three hosts behind HAProxy: a rolling restart of every host fails no request', { skip }, async (t) => {
  const net = makeTestNetwork(t, 3);
  const root = makeSite(t, { 'page.html': BODY, 'index.html': 'hi\n' });
  // HAProxy checks every 150 ms and marks a host down after 2 failures: about 300-450 ms, so
  // 600 ms of pre-drain are enough (haproxy-config.sh says: above 150 × (2 + 1)); the same
  // ratios as the recipe's 300 ms and 1200 ms, at half the time per host.
  const hostArgs = (h: TestHost) => ['--workers', '1', '--pre-drain-delay-ms', '600', '--headers', JSON.stringify([{ glob: '/**', headers: { 'X-Host': h.name } }]), ...BEHIND_HAPROXY(net)];
  const hosts = await Promise.all(net.hosts.map((h) => startHost(t, net, h, root, h.addr, hostArgs(h))));
  hosts.forEach((p, i) => t.equal(p.line.pid, p.proc.pid, `${net.hosts[i]!.name}: ip netns exec runs fleetserve itself (the pid to signal)`));

  const gen = haproxyConfig(t, path.dirname(root), ['--bind', `127.0.0.1:${LB_PORT}`, '--inter', '150', '--fall', '2', '--rise', '2'], net.hosts.map((h) => `${h.addr}:${PORT}`));
  t.match(gen.stdout, /http-check send meth GET uri \/healthz /, 'checks fleetserve\'s health path');
  t.match(gen.stderr, /set preDrainDelayMs above 450 /, 'and says how long the pre-drain must be');
  const cfg = gen.cfg;
  const haproxy = spawnLines(t, 'ip', [...net.inNs(net.lb), 'haproxy', '-db', '-f', cfg]);

  // 6 keep-alive clients inside the lb namespace, a Connection: close every 20 requests;
  // bounded at 60 s and 500k requests.
  const load = spawnLines(t, 'ip', [...net.inNs(net.lb), process.execPath, path.join(FIXTURES, 'keepalive-load.js'), '127.0.0.1', String(LB_PORT), '/page.html', BODY_SHA, String(BODY.length), '6', '20', '500000', '60000', 'X-Host']);
  let marks = 0;
  const counts = async (): Promise<Record<string, number>> => {
    const n = ++marks;
    load.send('mark');
    return (await load.waitFor((l) => l.mark === n, 5000, `mark ${n}`)).byHeader as Record<string, number>;
  };
  /** Waits until `pred` holds for the per-host counts (polls for up to 15 s). */
  const until = async (what: string, pred: (c: Record<string, number>) => boolean) => {
    for (let i = 0; i < 150; i++) {
      const c = await counts();
      if (pred(c)) return c;
      await sleep(100);
    }
    throw new Error(`never: ${what}; counts ${JSON.stringify(await counts())}\nhaproxy: ${haproxy.stdout().slice(-2000)}${haproxy.stderr().slice(-2000)}`);
  };

  const before = await until('every host serves', (c) => net.hosts.every((h) => (c[h.name] ?? 0) >= 50));
  t.pass(`before: ${JSON.stringify(before)}`);

  for (const [i, h] of net.hosts.entries()) {
    const old = hosts[i]!;
    const down = haproxy.waitForStderr(new RegExp(`fleetserve${i + 1} is DOWN`), 10_000).then(() => performance.now());
    const drainStarts = old.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('draining:'), 10_000, 'drain start').then(() => performance.now());
    process.kill(old.proc.pid!, 'SIGTERM'); // as systemd stops it: the primary only
    const [downAt, drainAt] = await Promise.all([down, drainStarts]);
    t.ok(downAt < drainAt, `${h.name}: HAProxy marked it down (health 503) before it stopped accepting (${Math.round(drainAt - downAt)} ms before)`);
    t.equal((await old.exited()).code, 0, `${h.name}: drained and exited 0`);
    const atStop = (await counts())[h.name] ?? 0;
    hosts[i] = await startHost(t, net, h, root, h.addr, hostArgs(h));
    const after = await until(`${h.name} serves again`, (c) => (c[h.name] ?? 0) >= atStop + 50);
    t.pass(`${h.name} restarted and serves again: ${JSON.stringify(after)}`);
  }
  const end = await counts();
  const mid = await until('every host keeps serving', (c) => net.hosts.every((h) => (c[h.name] ?? 0) > (end[h.name] ?? 0)));
  t.pass(`after the rolling restart every host still serves: ${JSON.stringify(mid)}`);

  load.send('stop');
  const result = (await load.waitFor((l) => l.done === true, 30_000, 'load result')) as unknown as LoadResult;
  t.equal(result.failures, 0, `no failed request: ${JSON.stringify(result)}`);
  t.ok(result.ok > 600, `${result.ok} responses checked byte for byte`);
  t.same(Object.keys(result.byHeader).sort(), net.hosts.map((h) => h.name), 'answers came only from the three hosts');
  for (const p of hosts) process.kill(p.proc.pid!, 'SIGTERM');
  for (const p of hosts) t.equal((await p.exited()).code, 0, 'stopped cleanly');
});

t.test('behind HAProxy (PROXY v2) the access log shows the client\'s own address; a direct connection is closed', { skip }, async (t) => {
  // h1 serves; h2 is only a client, in a namespace of its own with its own address.
  const net = makeTestNetwork(t, 2);
  const [server, client] = net.hosts as [TestHost, TestHost];
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const host = await startHost(t, net, server, root, server.addr, ['--workers', '1', ...BEHIND_HAPROXY(net), '--access-log', 'true']);
  const { cfg } = haproxyConfig(t, path.dirname(root), ['--bind', `${net.lbAddr}:${LB_PORT}`, '--inter', '300'], [`${server.addr}:${PORT}`]);
  const haproxy = spawnLines(t, 'ip', [...net.inNs(net.lb), 'haproxy', '-db', '-f', cfg]);

  const url = `http://${net.lbAddr}:${LB_PORT}/index.html?from=${client.name}`;
  let got = clientIn(net, client.ns, url);
  for (let i = 0; i < 50 && got.status !== 0; i++) {
    await sleep(100); // HAProxy may still be binding its port
    got = clientIn(net, client.ns, url);
  }
  t.equal(got.status, 0, `the client in ${client.name} gets the file through HAProxy: ${got.stderr}`);
  t.equal(got.stdout, 'hi\n');
  const line = await host.waitFor((l) => l.kind === 'access' && l.path === `/index.html?from=${client.name}`, 5000, 'the access line');
  t.equal(line.remote, client.addr, `remote is the client's own address (${client.addr}), from the PROXY header`);
  t.equal(line.peer, net.lbAddr, `peer is HAProxy's (${net.lbAddr})`);

  // Straight from h2 to h1, bypassing HAProxy: h2 is not in trustedProxies, so it may not even speak.
  const direct = spawnSync('ip', [...net.inNs(client.ns), process.execPath, '-e', DIRECT_PROBE, server.addr, String(PORT)], { encoding: 'utf8', timeout: 10_000 });
  t.equal(direct.status, 0, `the probe ran: ${direct.stderr}`);
  t.equal(direct.stdout, 'closed after 0 bytes\n', 'a direct connection is closed without an answer');
  const warned = await host.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('PROXY protocol:'), 5000, 'the warning');
  // The first refusal is logged at once: had HAProxy's health checks (PROXY v2 LOCAL, every
  // 300 ms since it started) been refused, this line would name HAProxy's address.
  t.equal(warned.msg, `PROXY protocol: 1 connection closed without a valid header (the last from ${client.addr}: peer not in trustedProxies)`);
  t.notMatch(haproxy.stderr() + haproxy.stdout(), /fleetserve1 is DOWN/, 'HAProxy never marked the host down: its checks pass');

  process.kill(host.proc.pid!, 'SIGTERM');
  t.equal((await host.exited()).code, 0, 'stopped cleanly');
});

/** Connects to argv HOST PORT, sends a PROXY v1 header and a request, prints how many bytes came back before the close. */
const DIRECT_PROBE = `
const s = require('node:net').connect(Number(process.argv[2]), process.argv[1]);
let n = 0;
s.on('connect', () => s.write('PROXY TCP4 192.0.2.66 10.0.0.1 1 80\\r\\nGET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));
s.on('data', (d) => (n += d.length));
s.on('error', () => {});
s.on('close', () => console.log('closed after ' + n + ' bytes'));
setTimeout(() => { console.log('still open after 5 s'); process.exit(0); }, 5000).unref();
`;
