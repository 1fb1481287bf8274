/**
 * What the primary hands a forked worker through its environment: the validated
 * configuration, the addresses to listen on, and the socket-activated sockets when there
 * are. Its own module so that a worker can read it without loading the primary, and the
 * primary without loading the worker.
 */
import type { InheritedSockets } from './activation';
import type { Config } from '../config/config';
import { decodeTicketKeys, encodeTicketKeys } from '../tls/ticket-keys';

/** The primary's validated configuration (JSON Config); workers never read argv or env of their own. */
const WORKER_CONFIG_ENV = 'FLEETSERVE_WORKER_CONFIG';
/** The socket-activated sockets the workers serve (JSON InheritedSockets), when there are. */
const WORKER_INHERITED_ENV = 'FLEETSERVE_WORKER_INHERITED';
/**
 * The addresses config.host resolved to in the primary (JSON string[], see
 * listen-addresses.ts): every worker listens on the same ones, so node:cluster shares each
 * socket among them.
 */
const WORKER_ADDRESSES_ENV = 'FLEETSERVE_WORKER_ADDRESSES';
/** The primary's session-ticket keys (base64, 48 bytes): every worker resumes every other's sessions. */
const WORKER_TICKET_KEYS_ENV = 'FLEETSERVE_WORKER_TICKET_KEYS';
/** The ACME HTTP-01 answers pending when the worker is forked (JSON token → key authorization). */
const WORKER_ACME_ANSWERS_ENV = 'FLEETSERVE_WORKER_ACME_ANSWERS';

/** The environment a worker is forked with: the inverse of readWorkerEnv. */
export function workerEnv(
  config: Config,
  inherited: InheritedSockets | null,
  addresses: readonly string[] | null = null,
  ticketKeys: Buffer | null = null,
  acmeAnswers: Record<string, string> | null = null,
): Record<string, string> {
  const env: Record<string, string> = { [WORKER_CONFIG_ENV]: JSON.stringify(config) };
  if (inherited) env[WORKER_INHERITED_ENV] = JSON.stringify(inherited);
  if (addresses) env[WORKER_ADDRESSES_ENV] = JSON.stringify(addresses);
  if (ticketKeys) env[WORKER_TICKET_KEYS_ENV] = encodeTicketKeys(ticketKeys);
  if (acmeAnswers) env[WORKER_ACME_ANSWERS_ENV] = JSON.stringify(acmeAnswers);
  return env;
}

/** `addresses` is null when the primary resolved none (the worker then resolves config.host itself). */
export function readWorkerEnv(env: NodeJS.ProcessEnv): { config: Config; inherited: InheritedSockets | null; addresses: string[] | null; ticketKeys: Buffer | null; acmeAnswers: Record<string, string> } {
  const keys = env[WORKER_TICKET_KEYS_ENV];
  return {
    config: JSON.parse(env[WORKER_CONFIG_ENV] ?? '{}') as Config,
    inherited: JSON.parse(env[WORKER_INHERITED_ENV] ?? 'null') as InheritedSockets | null,
    addresses: JSON.parse(env[WORKER_ADDRESSES_ENV] ?? 'null') as string[] | null,
    ticketKeys: keys === undefined ? null : decodeTicketKeys(keys),
    acmeAnswers: JSON.parse(env[WORKER_ACME_ANSWERS_ENV] ?? '{}') as Record<string, string>,
  };
}
