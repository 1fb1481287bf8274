// The systemd units in scripts/systemd: what they promise (socket activation on port 80, the
// drain fits in TimeoutStopSec, reload checks the config first, no privileges, read-only
// system), and `systemd-analyze verify` accepts both without a single warning.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { MAIN, PROJECT } from '../fixtures/server';
import { which } from '../fixtures/lines';
import { machineSkip } from '../fixtures/machine';

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

t.test('the socket unit holds port 80 for the service', { skip: machineSkip() }, async (t) => {
  t.same(socket.Socket!.ListenStream, ['80']);
  t.same(socket.Socket!.FileDescriptorName, ['http']);
  t.same(service.Unit!.Requires, ['fleetserve.socket']);
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
t.test('systemd-analyze verify accepts both units without a warning', { skip: machineSkip() || (analyze ? false : 'systemd-analyze not found: install Debian\'s systemd package (.ci/run does)') }, async (t) => {
  // verify insists that ExecStart's program exists: point it at a stand-in for the
  // installed bin (the real one is checked by the packaging test).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-units-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'fleetserve');
  fs.writeFileSync(bin, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'fleetserve.service'), fs.readFileSync(path.join(DIR, 'fleetserve.service'), 'utf8').replaceAll(BIN, bin));
  fs.copyFileSync(path.join(DIR, 'fleetserve.socket'), path.join(dir, 'fleetserve.socket'));
  const r = spawnSync(analyze!, ['verify', path.join(dir, 'fleetserve.socket'), path.join(dir, 'fleetserve.service')], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
  t.equal(r.status, 0, 'exit code 0');
  t.equal(r.stdout + r.stderr, '', 'no warnings');

  // The check is real: a wrong value is reported.
  fs.writeFileSync(path.join(dir, 'fleetserve.service'), fs.readFileSync(path.join(dir, 'fleetserve.service'), 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=strictly'));
  const bad = spawnSync(analyze!, ['verify', path.join(dir, 'fleetserve.socket'), path.join(dir, 'fleetserve.service')], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
  t.match(bad.stdout + bad.stderr, /protect system value/i, 'a bad value is named');
});
