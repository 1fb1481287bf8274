// loadConfig for the metrics and log-file keys: defaults, env, flags, file, and the checks
// made before anything starts (always with explicit argv, env and cwd).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { helpText } from '../../../src/config/config';
import { errorOf, run } from '../../fixtures/config';

function sandbox(t: Test): string {
  const cwd = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-cfg-ops-')));
  t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
  fs.mkdirSync(path.join(cwd, 'site'));
  return cwd;
}

t.test('defaults: metrics off on 127.0.0.1, logs to stdout', async (t) => {
  const c = run([], {}, sandbox(t));
  t.equal(c.metricsHost, '127.0.0.1');
  t.equal(c.metricsPort, 0);
  t.equal(c.accessLogFile, '');
  t.equal(c.logFile, '');
});

t.test('env vars and flags, flags winning; log paths made absolute against cwd', async (t) => {
  const cwd = sandbox(t);
  fs.mkdirSync(path.join(cwd, 'logs'));
  const env = { FLEETSERVE_METRICS_HOST: '::1', FLEETSERVE_METRICS_PORT: '9100', FLEETSERVE_ACCESS_LOG_FILE: 'logs/a.log', FLEETSERVE_LOG_FILE: 'logs/f.log' };
  const fromEnv = run([], env, cwd);
  t.match(fromEnv, { metricsHost: '::1', metricsPort: 9100, accessLogFile: path.join(cwd, 'logs/a.log'), logFile: path.join(cwd, 'logs/f.log') });
  const fromFlags = run(['--metrics-host', '10.0.0.1', '--metrics-port', '9200', '--access-log-file', 'logs/b.log', '--log-file', 'logs/g.log'], env, cwd);
  t.match(fromFlags, { metricsHost: '10.0.0.1', metricsPort: 9200, accessLogFile: path.join(cwd, 'logs/b.log'), logFile: path.join(cwd, 'logs/g.log') });
  t.notOk(fs.existsSync(path.join(cwd, 'logs/b.log')), 'checking a configuration creates no file');
});

t.test('the metrics port may not be the public port', async (t) => {
  const cwd = sandbox(t);
  t.equal(errorOf(['--port', '8080', '--metrics-port', '8080'], {}, cwd), 'metricsPort: 8080 is the public port; metrics need a port of their own');
  t.equal(errorOf([], { PORT: '6789', FLEETSERVE_METRICS_PORT: '6789' }, cwd), 'metricsPort: 6789 is the public port; metrics need a port of their own');
  t.equal(run(['--port', '0', '--metrics-port', '0'], {}, cwd).metricsPort, 0, 'both 0: metrics off, no conflict');
  t.match(errorOf(['--metrics-port', '70000'], {}, cwd), /^metricsPort: /);
  t.match(errorOf(['--metrics-port', '9100x'], {}, cwd), /^metricsPort: /);
  t.match(errorOf(['--metrics-host', 'not a host'], {}, cwd), /^metricsHost: /);
});

t.test('log files: the directory must exist and be a directory; the file may not be a directory', async (t) => {
  const cwd = sandbox(t);
  fs.writeFileSync(path.join(cwd, 'plain'), '');
  t.equal(errorOf(['--access-log-file', 'nope/a.log'], {}, cwd), `accessLogFile: directory ${path.join(cwd, 'nope')} does not exist`);
  t.equal(errorOf(['--log-file', 'plain/f.log'], {}, cwd), `logFile: ${path.join(cwd, 'plain')} is not a directory`);
  t.equal(errorOf(['--log-file', 'site'], {}, cwd), `logFile: ${path.join(cwd, 'site')} is a directory`);
  t.equal(run(['--access-log-file', 'plain'], {}, cwd).accessLogFile, path.join(cwd, 'plain'), 'an existing file is fine');
});

t.test('--help lists the new keys and SIGUSR1', async (t) => {
  const text = helpText();
  for (const flag of ['--metrics-host', '--metrics-port', '--access-log-file', '--log-file']) t.match(text, flag);
  t.match(text, /SIGUSR1 reopens the log files/);
});
