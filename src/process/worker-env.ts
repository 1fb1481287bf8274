/**
 * What the primary hands a forked worker through its environment: the validated
 * configuration, and the socket-activated socket when there is one. Its own module so that a
 * worker can read it without loading the primary, and the primary without loading the worker.
 */
import type { InheritedSocket } from './activation';
import type { Config } from '../config/config';

/** The primary's validated configuration (JSON Config); workers never read argv or env of their own. */
const WORKER_CONFIG_ENV = 'FLEETSERVE_WORKER_CONFIG';
/** The socket-activated socket the workers serve (JSON InheritedSocket), when there is one. */
const WORKER_INHERITED_ENV = 'FLEETSERVE_WORKER_INHERITED';

/** The environment a worker is forked with: the inverse of readWorkerEnv. */
export function workerEnv(config: Config, inherited: InheritedSocket | null): Record<string, string> {
  const env: Record<string, string> = { [WORKER_CONFIG_ENV]: JSON.stringify(config) };
  if (inherited) env[WORKER_INHERITED_ENV] = JSON.stringify(inherited);
  return env;
}

export function readWorkerEnv(env: NodeJS.ProcessEnv): { config: Config; inherited: InheritedSocket | null } {
  return {
    config: JSON.parse(env[WORKER_CONFIG_ENV] ?? '{}') as Config,
    inherited: JSON.parse(env[WORKER_INHERITED_ENV] ?? 'null') as InheritedSocket | null,
  };
}
