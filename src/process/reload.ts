/**
 * What a reload (SIGHUP) changes: the keys whose values differ between the configuration in
 * force and the one just read, and which of them a reload cannot apply. Pure functions,
 * shared by the primary's rolling reload and the single-process reload in place.
 */
import type { Config } from '../config/config';

/** A changed key, its value in force and its value just read. */
export type ConfigChanges = Partial<Record<keyof Config, { old: unknown; new: unknown }>>;

/**
 * Keys a cluster reload cannot apply: node:cluster fixes its scheduling policy at the first
 * fork, the primary keeps the log format, log file and pid file it started with and its metrics
 * listener, and the cluster cannot turn into a single process. Everything else (host, port and the number of workers included) is
 * applied by the new workers.
 */
export const CLUSTER_RESTART_KEYS: readonly (keyof Config)[] = ['scheduling', 'logPretty', 'logFile', 'pidFile', 'metricsHost', 'metricsPort'];

/**
 * Keys a single process (workers = 0) cannot apply in place: its listening socket, its
 * loggers, log files and pid file, its metrics listener, and the switch to a cluster.
 */
export const SINGLE_RESTART_KEYS: readonly (keyof Config)[] = ['host', 'port', 'workers', 'scheduling', 'logPretty', 'accessLog', 'accessLogFile', 'logFile', 'pidFile', 'metricsHost', 'metricsPort', 'maxConnections', 'http2', 'http2MaxConcurrentStreams'];

/** Keys whose values differ, in schema order, with both values. */
export function changedKeys(inForce: Config, next: Config): ConfigChanges {
  const changes: ConfigChanges = {};
  for (const key of Object.keys(next) as (keyof Config)[]) {
    if (JSON.stringify(inForce[key]) !== JSON.stringify(next[key])) changes[key] = { old: inForce[key], new: next[key] };
  }
  return changes;
}

/**
 * The configuration a reload puts in force: `next`, except the keys in `restartOnly` keep
 * their values in force (they are reported, not applied). `workers: 0` on a cluster is one
 * of these too, whatever the key list says.
 */
export function applicable(inForce: Config, next: Config, restartOnly: readonly (keyof Config)[]): { config: Config; needRestart: ConfigChanges } {
  const needRestart: ConfigChanges = {};
  const config = { ...next } as Record<keyof Config, unknown>;
  for (const key of restartOnly) {
    if (JSON.stringify(inForce[key]) !== JSON.stringify(next[key])) {
      needRestart[key] = { old: inForce[key], new: next[key] };
      config[key] = inForce[key];
    }
  }
  if (inForce.workers > 0 && next.workers === 0) {
    needRestart.workers = { old: inForce.workers, new: 0 };
    config.workers = inForce.workers;
  }
  return { config: Object.freeze(config) as Config, needRestart };
}

/** `key: old → new, …` for a log message (values as JSON). */
export function describeChanges(changes: ConfigChanges): string {
  const parts = Object.entries(changes).map(([key, c]) => `${key}: ${JSON.stringify(c!.old)} → ${JSON.stringify(c!.new)}`);
  return parts.length === 0 ? 'no configuration change' : parts.join(', ');
}
