#!/usr/bin/env node
/**
 * Entry point for `fleetserve`: load the configuration once, then run the primary, a
 * cluster worker, or (workers = 0) a single serving process.
 */
import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config';
import { createLoggers } from './logger';
import { runPrimary, WORKER_CONFIG_ENV } from './primary';
import { runWorker } from './worker';

function main(): void {
  if (cluster.isWorker) {
    // Workers take the primary's validated configuration, never argv or env of their own.
    const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as Config;
    runWorker(config, createLoggers(config, cluster.worker?.id ?? 0), 'cluster');
    return;
  }
  // A reload reads the same sources again: the JSON file anew, env and flags as at start.
  const argv = process.argv.slice(2);
  const env = { ...process.env };
  let cmd;
  try {
    cmd = loadConfig(argv, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`fleetserve: ${err.message}\n`);
    process.exit(2);
  }
  if (cmd.kind === 'help') {
    process.stdout.write(cmd.text + '\n');
    return;
  }
  if (cmd.kind === 'version') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    process.stdout.write(`fleetserve ${(require('../package.json') as { version: string }).version}\n`);
    return;
  }
  if (cmd.kind === 'check') {
    // Everything the server checks before binding, and nothing is bound (nginx -t).
    process.stdout.write('configuration ok\n');
    return;
  }
  const config = cmd.config;
  const reloadConfig = (): Config => {
    const again = loadConfig(argv, env);
    if (again.kind !== 'run') throw new ConfigError(`unexpected ${again.kind} on reload`);
    return again.config;
  };
  if (config.workers === 0) runWorker(config, createLoggers(config, 'single'), 'single', reloadConfig);
  else runPrimary(config, createLoggers(config, 'primary'), reloadConfig);
}

main();
