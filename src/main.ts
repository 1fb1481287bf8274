#!/usr/bin/env node
/**
 * Entry point for `fleetserve`: load the configuration once, then run the primary, a
 * cluster worker, or (workers = 0) a single serving process.
 *
 * Each process loads only the code it runs: a worker never loads convict or the primary,
 * and the primary never loads the request path (mime-db, the file cache, the parser).
 * With pino-pretty also loaded only for a terminal, that saved 5 MiB resident in the
 * primary (58 → 53) and 2.5 MiB in each worker (58 → 55.5; /proc/PID/smaps_rollup, idle).
 */
import cluster from 'node:cluster';
import { ACTIVATION_ENV, assignInheritedSockets, readActivation, type InheritedSockets } from './process/activation';
import { ConfigError } from './errors';
import { createLoggers } from './logs/logger';
import { removePidFile, writePidFile } from './process/pid-file';
import type { CommandLine, Config } from './config/config';
import type { ToPrimary } from './process/ipc';
import { readWorkerEnv } from './process/worker-env';
import { configuredCertificateWarnings, tlsEnabled } from './tls/settings';
import { http2Refusal } from './http2/node-version';

// require() where the code is needed; `import type` above is erased from the output.
const loadConfigModule = () => require('./config/config') as typeof import('./config/config');
const loadWorker = () => require('./process/worker') as typeof import('./process/worker');
const loadPrimary = () => require('./process/primary') as typeof import('./process/primary');

function main(): void {
  if (cluster.isWorker) workerMain();
  else primaryMain();
}

/** A cluster worker: the primary's validated configuration, never argv or env of its own. */
function workerMain(): void {
  const { config, inherited, addresses, ticketKeys, acmeAnswers } = readWorkerEnv(process.env);
  const id = cluster.worker?.id ?? 0;
  let loggers;
  try {
    loggers = createLoggers(config, id);
  } catch (err) {
    // The primary opened the same files a moment ago, so this is rare (a permission
    // changed meanwhile); a respawn would fail again, so the primary stops everything.
    process.send?.({ type: 'start-error', message: logFileError(err) } satisfies ToPrimary, () => process.exit(1));
    return;
  }
  loadWorker().runClusterWorker(config, loggers, id, inherited, addresses, ticketKeys, acmeAnswers);
}

/** The process started from the command line: the primary of a cluster, or the single process. */
function primaryMain(): void {
  // Socket activation is read once and its variables cleared at once, as sd_listen_fds()
  // does with unset_environment: children (the workers) must never take them as their own,
  // where fd 3 is the cluster's IPC channel.
  const activation = readActivation(process.env, process.pid);
  for (const name of ACTIVATION_ENV) delete process.env[name];
  // A reload reads the same sources again: the JSON file anew, env and flags as at start.
  const argv = process.argv.slice(2);
  const env = { ...process.env };
  const { loadConfig } = loadConfigModule();
  const cmd = orExit(2, () => loadConfig(argv, env));
  if (cmd.kind !== 'run') {
    answerCommand(cmd);
    return;
  }
  if (activation.kind === 'invalid') fail(2, activation.reason);
  const config = cmd.config;
  const inherited = activation.kind === 'sockets' ? inheritedFor(activation.sockets, config) : null;
  // The primary serves nothing, so it never opens the access log.
  const loggers = orExit(1, () => (config.workers === 0 ? createLoggers(config, 'single') : createLoggers({ ...config, accessLog: false }, 'primary')), logFileError);
  if (config.pidFile) {
    // Written once the configuration and the log files are known good, before any worker starts.
    orExit(2, () => writePidFile(config.pidFile, process.pid), (err) => (err as Error).message);
    // Every way out of the primary ends in process.exit() (or an uncaught error): both run this.
    process.on('exit', () => removePidFile(config.pidFile, process.pid));
  }
  if (cmd.rootChoice) loggers.log.info(cmd.rootChoice); // the listening line names the directory
  // An expired or soon expiring certificate starts: the operator reads why clients may refuse it.
  for (const warning of configuredCertificateWarnings(config)) loggers.log.warn(warning);
  const noHttp2 = tlsEnabled(config) && config.http2 ? http2Refusal(process.version) : null;
  if (noHttp2 !== null) loggers.log.warn(`http2: ${noHttp2}; offering HTTP/1.1 only`);
  const reloadConfig = (): Config => {
    const again = loadConfig(argv, env);
    if (again.kind !== 'run') throw new ConfigError(`unexpected ${again.kind} on reload`);
    return again.config;
  };
  if (config.workers === 0) loadWorker().runSingleProcess(config, loggers, reloadConfig, inherited);
  else loadPrimary().runPrimary(config, loggers, reloadConfig, inherited);
}

/** Which inherited socket each listener serves (activation.ts), or one line and exit 2 before anything is served. */
function inheritedFor(sockets: Parameters<typeof assignInheritedSockets>[0], config: Config): InheritedSockets {
  const assigned = assignInheritedSockets(sockets, { tls: tlsEnabled(config), httpPort: config.httpPort });
  if (assigned.kind === 'invalid') fail(2, assigned.reason);
  return assigned.inherited;
}

/** The commands that start nothing: --help, --version, --check-config. */
function answerCommand(cmd: Exclude<CommandLine, { kind: 'run' }>): void {
  if (cmd.kind === 'help') process.stdout.write(cmd.text + '\n');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  else if (cmd.kind === 'version') process.stdout.write(`fleetserve ${(require('../package.json') as { version: string }).version}\n`);
  // Everything the server checks before binding, and nothing is bound (nginx -t).
  else process.stdout.write('configuration ok\n');
}

/**
 * `step()`, or for a ConfigError (or with `describe`, any error) its one line on stderr and
 * exit `code`. Anything else is a bug and stays an uncaught error.
 */
function orExit<T>(code: number, step: () => T, describe?: (err: unknown) => string): T {
  try {
    return step();
  } catch (err) {
    if (describe) fail(code, describe(err));
    if (!(err instanceof ConfigError)) throw err;
    fail(code, err.message);
  }
}

/** One line on stderr, `fleetserve: problem`, and exit `code` before anything started. */
function fail(code: number, problem: string): never {
  process.stderr.write(`fleetserve: ${problem}\n`);
  process.exit(code);
}

/** A log file that cannot be opened, in one line. */
function logFileError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.path ? `cannot open log file ${e.path}: ${e.code ?? e.message}` : `cannot open the log files: ${e.message}`;
}

main();
