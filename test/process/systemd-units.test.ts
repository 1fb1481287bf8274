// The systemd units in scripts/systemd: what they promise (socket activation on ports 443 and
// 80, named as fleetserve tells them apart; the certificate handed over as credentials; the
// drain fits in TimeoutStopSec, reload checks the config first, no privileges, read-only
// system), and `systemd-analyze verify` accepts all three without a single warning; the ACME
// drop-in (acme.conf) swaps the credentials for ACME with its storage in StateDirectory.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { HTTP_SOCKET_NAME, HTTPS_SOCKET_NAME } from '../../src/process/activation';
import { MAIN, PROJECT } from '../fixtures/server';
import { which } from '../fixtures/lines';
import { machineSkip } from '../fixtures/machine';
import { makeTestPki, opensslSkip } from '../fixtures/tls';

const DIR = path.join(PROJECT, 'scripts', 'systemd');
const BIN = '/usr/local/bin/fleetserve';

/** Unit file → section → key → values (a key may repeat). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1]!;
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    ((out[section] ??= {})[key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

const service = parseUnit(fs.readFileSync(path.join(DIR, 'fleetserve.service'), 'utf8'));
const socket = parseUnit(fs.readFileSync(path.join(DIR, 'fleetserve.socket'), 'utf8'));
const httpSocket = parseUnit(fs.readFileSync(path.join(DIR, 'fleetserve-http.socket'), 'utf8'));
const UNITS = ['fleetserve.socket', 'fleetserve-http.socket', 'fleetserve.service'];

t.test('the socket units hold ports 443 and 80 for the service, named as fleetserve tells them apart', { skip: machineSkip() }, async (t) => {
  t.same(socket.Socket!.ListenStream, ['443']);
  t.same(socket.Socket!.FileDescriptorName, [HTTPS_SOCKET_NAME], 'the main listener (host/port, TLS)');
  t.same(httpSocket.Socket!.ListenStream, ['80']);
  t.same(httpSocket.Socket!.FileDescriptorName, [HTTP_SOCKET_NAME], 'the httpPort listener');
  t.same(httpSocket.Socket!.Service, ['fleetserve.service'], 'starts the one service, not fleetserve-http.service');
  t.same(service.Unit!.Requires, ['fleetserve.socket fleetserve-http.socket']);
});

const acmeDropIn = parseUnit(fs.readFileSync(path.join(DIR, 'acme.conf'), 'utf8'));

/** The service's Environment= lines as variables (then the drop-in's, which override), with %d (the credentials directory) replaced. */
function serviceEnv(credentials: string, dropIn?: typeof acmeDropIn): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of [...service.Service!.Environment!, ...(dropIn?.Service?.Environment ?? [])]) {
    for (const assignment of line.split(' ')) {
      const eq = assignment.indexOf('=');
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1).replaceAll('%d', credentials);
    }
  }
  return env;
}

t.test('the certificate comes as credentials: tlsCert and tlsKey name them in the credentials directory', { skip: machineSkip() || opensslSkip }, async (t) => {
  const credentials = Object.fromEntries(service.Service!.LoadCredential!.map((c) => c.split(':') as [string, string]));
  t.same(Object.keys(credentials).sort(), ['tls.crt', 'tls.key']);
  t.match(credentials['tls.key'], /^\/etc\/letsencrypt\/live\/[^/]+\/privkey\.pem$/, "certbot's key, read by systemd as root");
  t.match(credentials['tls.crt'], /^\/etc\/letsencrypt\/live\/[^/]+\/fullchain\.pem$/, 'the certificate with its chain');
  const env = serviceEnv('%d');
  t.same([env.FLEETSERVE_TLS_CERT, env.FLEETSERVE_TLS_KEY], ['%d/tls.crt', '%d/tls.key']);
  t.not(env.FLEETSERVE_HTTP_PORT, undefined, 'httpPort on, for the "http" socket');

  // ExecReload's check in the service's environment, the credentials directory made here.
  const pki = makeTestPki(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-credentials-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'fleetserve.json');
  fs.writeFileSync(file, JSON.stringify({ root: path.join(PROJECT, 'site') }));
  const check = () => {
    const argv = service.Service!.ExecReload![0]!.split(' ').slice(1).map((a) => (a === '/etc/fleetserve/fleetserve.json' ? file : a));
    return spawnSync(process.execPath, [MAIN, ...argv], { encoding: 'utf8', timeout: 15_000, env: { PATH: process.env.PATH, ...serviceEnv(dir) } });
  };
  fs.copyFileSync(pki.ecdsaLocal.cert, path.join(dir, 'tls.crt'));
  fs.copyFileSync(pki.ecdsaLocal.key, path.join(dir, 'tls.key'));
  const good = check();
  t.equal(good.status, 0, `a matching pair: configuration ok (${good.stderr.trim()})`);
  t.equal(good.stdout, 'configuration ok\n');
  fs.copyFileSync(pki.rsaKey, path.join(dir, 'tls.key'));
  const bad = check();
  t.equal(bad.status, 2, 'the key of another certificate: exit 2');
  t.match(bad.stderr, path.join(dir, 'tls.key'), 'naming the credential file');
});

t.test('the ACME drop-in: no credentials, acmeDomains set, the storage in StateDirectory, and the config check passes', { skip: machineSkip() }, async (t) => {
  const s = acmeDropIn.Service!;
  t.same(s.LoadCredential, [''], 'the credentials list emptied');
  t.same(s.StateDirectory, ['fleetserve']);
  t.same(s.StateDirectoryMode, ['0700'], 'private keys inside: the directory 0700');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-acme-unit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const state = path.join(dir, 'state');
  const env: Record<string, string> = { ...serviceEnv(path.join(dir, 'no-credentials'), acmeDropIn), STATE_DIRECTORY: state };
  t.same([env.FLEETSERVE_TLS_CERT, env.FLEETSERVE_TLS_KEY], ['', ''], 'the certificate files unset');
  const cmd = loadConfig(['--root', 'site'], env, PROJECT);
  if (cmd.kind !== 'run') throw new Error('expected a config');
  t.same(cmd.config.acmeDomains, ['example.com', 'www.example.com']);
  t.equal(cmd.config.acmeStorage, state, "the storage is systemd's StateDirectory");
  const file = path.join(dir, 'fleetserve.json');
  fs.writeFileSync(file, JSON.stringify({ root: path.join(PROJECT, 'site') }));
  const argv = service.Service!.ExecReload![0]!.split(' ').slice(1).map((a) => (a === '/etc/fleetserve/fleetserve.json' ? file : a));
  const check = spawnSync(process.execPath, [MAIN, ...argv], { encoding: 'utf8', timeout: 15_000, env: { PATH: process.env.PATH, ...env } });
  t.equal(check.status, 0, `ExecReload's check passes in the service's environment (${check.stderr.trim()})`);
  t.equal(check.stdout, 'configuration ok\n');
});

t.test('the service drains on SIGTERM within TimeoutStopSec and reloads after a config check', { skip: machineSkip() }, async (t) => {
  const s = service.Service!;
  t.same(s.KillSignal, ['SIGTERM']);
  t.same(s.KillMode, ['mixed'], 'only the primary is signalled: it runs the drain for its workers');
  const stopMs = Number(s.TimeoutStopSec![0]) * 1000;
  for (const file of ['config/default.json', 'config/production.json']) {
    const cmd = loadConfig(['--config', file, '--root', 'site'], {}, PROJECT);
    if (cmd.kind !== 'run') throw new Error('expected a config');
    const preDrain = cmd.config.preDrainDelayMs;
    t.ok(stopMs > cmd.config.drainTimeoutMs + preDrain, `${file}: TimeoutStopSec ${stopMs} ms > drainTimeoutMs ${cmd.config.drainTimeoutMs} + preDrainDelayMs ${preDrain}`);
  }
  t.match(s.ExecStart, [`${BIN} --config /etc/fleetserve/fleetserve.json`]);
  t.same(s.ExecReload, [`${BIN} --check-config --config /etc/fleetserve/fleetserve.json`, '/bin/kill -HUP $MAINPID'], 'check first, then SIGHUP');
  t.same(s.Restart, ['on-failure']);
});

t.test('ExecReload\'s check passes a good config and stops a bad one before any SIGHUP', { skip: machineSkip() }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-reload-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const check = (config: object) => {
    const file = path.join(dir, 'fleetserve.json');
    fs.writeFileSync(file, JSON.stringify(config));
    // The unit's first ExecReload line, with the built entry point for the installed bin.
    const argv = service.Service!.ExecReload![0]!.split(' ').slice(1).map((a) => (a === '/etc/fleetserve/fleetserve.json' ? file : a));
    return spawnSync(process.execPath, [MAIN, ...argv], { encoding: 'utf8', timeout: 15_000 });
  };
  const good = check({ root: path.join(PROJECT, 'site'), port: 8080, preDrainDelayMs: 2000 });
  t.equal(good.status, 0, 'a good file: exit 0, so systemd goes on to kill -HUP');
  t.equal(good.stdout, 'configuration ok\n');
  const bad = check({ root: path.join(PROJECT, 'site'), port: 'eighty' });
  t.equal(bad.status, 2, 'a bad file: exit 2, so systemctl reload fails and no SIGHUP is sent');
  t.match(bad.stderr, /\bport\b/, 'naming the key');
});

t.test('the service runs unprivileged on a read-only system', { skip: machineSkip() }, async (t) => {
  const s = service.Service!;
  t.same(s.DynamicUser, ['yes']);
  t.notOk(s.User, 'no fixed user (DynamicUser)');
  t.same(s.CapabilityBoundingSet, [''], 'no capabilities');
  t.same(s.AmbientCapabilities, ['']);
  for (const [key, value] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', RestrictSUIDSGID: 'yes' })) {
    t.same(s[key], [value], `${key}=${value}`);
  }
  t.notOk(s.MemoryDenyWriteExecute, 'no MemoryDenyWriteExecute (V8 needs W+X memory)');
});

const analyze = which('systemd-analyze');
t.test('systemd-analyze verify accepts the three units without a warning', { skip: machineSkip() || (analyze ? false : 'systemd-analyze not found: install Debian\'s systemd package (.ci/run does)') }, async (t) => {
  // verify insists that ExecStart's program exists: point it at a stand-in for the
  // installed bin (the real one is checked by the packaging test).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-units-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'fleetserve');
  fs.writeFileSync(bin, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'fleetserve.service'), fs.readFileSync(path.join(DIR, 'fleetserve.service'), 'utf8').replaceAll(BIN, bin));
  for (const unit of ['fleetserve.socket', 'fleetserve-http.socket']) fs.copyFileSync(path.join(DIR, unit), path.join(dir, unit));
  const units = UNITS.map((u) => path.join(dir, u));
  const r = spawnSync(analyze!, ['verify', ...units], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
  t.equal(r.status, 0, 'exit code 0');
  t.equal(r.stdout + r.stderr, '', 'no warnings');

  // With the ACME drop-in beside the service, where systemd looks for it.
  fs.mkdirSync(path.join(dir, 'fleetserve.service.d'));
  fs.copyFileSync(path.join(DIR, 'acme.conf'), path.join(dir, 'fleetserve.service.d', 'acme.conf'));
  const withAcme = spawnSync(analyze!, ['verify', ...units], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
  t.equal(withAcme.status, 0, 'with the ACME drop-in: exit code 0');
  t.equal(withAcme.stdout + withAcme.stderr, '', 'with the ACME drop-in: no warnings');
  fs.writeFileSync(path.join(dir, 'fleetserve.service.d', 'acme.conf'), fs.readFileSync(path.join(DIR, 'acme.conf'), 'utf8').replace('StateDirectoryMode=0700', 'StateDirectoryMode=seven'));
  const badDropIn = spawnSync(analyze!, ['verify', ...units], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
  t.match(badDropIn.stdout + badDropIn.stderr, /acme\.conf:\d+: Failed to parse mode value, ignoring: seven/, 'the drop-in is read: a bad value in it is named');
  fs.rmSync(path.join(dir, 'fleetserve.service.d'), { recursive: true });

  // The check is real: a wrong value is reported.
  fs.writeFileSync(path.join(dir, 'fleetserve.service'), fs.readFileSync(path.join(dir, 'fleetserve.service'), 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=strictly'));
  const bad = spawnSync(analyze!, ['verify', ...units], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
  t.match(bad.stdout + bad.stderr, /protect system value/i, 'a bad value is named');
});
