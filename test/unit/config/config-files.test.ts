// The shipped example files must stay loadable: config/default.json is every default,
// config/production.json a valid production set-up (its root exists only on a server).
import path from 'node:path';
import t from 'tap';
import { loadConfig, type Config } from '../../../src/config/config';

const PROJECT = path.resolve(__dirname, '..', '..', '..');

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const cmd = loadConfig(argv, env, PROJECT);
  if (cmd.kind !== 'run') throw new Error(`expected a run, got ${cmd.kind}`);
  return cmd.config;
}

t.test('config/default.json holds exactly the defaults (workers aside, which depend on the machine)', (t) => {
  const withFile = run(['--config', 'config/default.json']);
  const without = run([]);
  t.same({ ...withFile, config: '' }, without);
  const keys = Object.keys(require('../../../config/default.json')).sort();
  t.same(keys, Object.keys(without).filter((k) => k !== 'config' && k !== 'workers').sort(), 'every key but config and workers is listed');
  t.end();
});

t.test('config/production.json validates (with a root that exists here)', (t) => {
  const c = run(['--config', 'config/production.json', '--root', 'site']);
  t.equal(c.port, 8080);
  t.equal(c.logPretty, 'false');
  t.equal(c.headers.length, 2);
  t.end();
});
