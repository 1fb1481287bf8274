#!/usr/bin/env node
/**
 * Entry point for `fleetserve`: load the configuration once, then run the primary, a
 * cluster worker, or (workers = 0) a single serving process.
 */
import cluster from 'node:cluster';
import { ACTIVATION_ENV, readActivation, type InheritedSocket } from './activation';
import { ConfigError, loadConfig, type Config } from './config';
import { createLoggers } from './logger';
import { runPrimary, WORKER_CONFIG_ENV, WORKER_INHERITED_ENV } from './primary';
import { runWorker } from './worker';

function main(): void {
  if (cluster.isWorker) {
    // Workers take the primary's validated configuration, never argv or env of their own.
    const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as Config;
    const inherited = JSON.parse(process.env[WORKER_INHERITED_ENV] ?? 'null') as InheritedSocket | null;
    runWorker(config, createLoggers(config, cluster.worker?.id ?? 0), 'cluster', inherited);
    return;
  }
  // Socket activation is read once and its variables cleared at once, as sd_listen_fds()
  // does with unset_environment: children (the workers) must never take them as their own,
  // where fd 3 is the cluster's IPC channel.
  const activation = readActivation(process.env, process.pid);
  for (const name of ACTIVATION_ENV) delete process.env[name];
  let cmd;
  try {
    cmd = loadConfig(process.argv.slice(2), process.env);
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
  if (activation.kind === 'invalid') {
    process.stderr.write(`fleetserve: ${activation.reason}\n`);
    process.exit(2);
  }
  const config = cmd.config;
  const inherited = activation.kind === 'socket' ? activation.socket : null;
  if (config.workers === 0) runWorker(config, createLoggers(config, 'single'), 'single', inherited);
  else runPrimary(config, createLoggers(config, 'primary'), inherited);
}

main();
