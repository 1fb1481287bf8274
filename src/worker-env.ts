/**
 * What the primary hands a forked worker through its environment: the validated
 * configuration, and the socket-activated socket when there is one. Its own module so that a
 * worker can read it without loading the primary, and the primary without loading the worker.
 */
import type { InheritedSocket } from './activation';
import type { Config } from './config';

/** The primary's validated configuration (JSON Config); workers never read argv or env of their own. */
export const WORKER_CONFIG_ENV = 'FLEETSERVE_WORKER_CONFIG';
/** The socket-activated socket the workers serve (JSON InheritedSocket), when there is one. */
export const WORKER_INHERITED_ENV = 'FLEETSERVE_WORKER_INHERITED';

export function readWorkerEnv(env: NodeJS.ProcessEnv): { config: Config; inherited: InheritedSocket | null } {
  return {
    config: JSON.parse(env[WORKER_CONFIG_ENV] ?? '{}') as Config,
    inherited: JSON.parse(env[WORKER_INHERITED_ENV] ?? 'null') as InheritedSocket | null,
  };
}
