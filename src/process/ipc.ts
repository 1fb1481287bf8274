/**
 * The messages between the primary and its workers over the cluster IPC channel (metrics
 * use the same channel with messages of their own, see metrics/serving-metrics.ts). Both
 * sides import them from here, so neither loads the other's code to name them.
 */

/**
 * `drain` is a stop (the pre-drain first, as on SIGTERM); `retire` is a reload replacing this
 * worker: drain at once, the rest of the cluster keeps serving; `force` is a second stop
 * signal: cut every connection (logging what was cut) and exit at once.
 */
export type ToWorker = { cmd: 'drain' } | { cmd: 'retire' } | { cmd: 'force' } | { cmd: 'reopen' } | { cmd: 'accept-pause'; granted: boolean } | { cmd: 'ticket-keys'; keys: string }
  /** ACME: publish (or, with null, withdraw) an HTTP-01 answer, or a TLS-ALPN-01 certificate; a new certificate is in the storage. */
  | { cmd: 'acme-challenge'; token: string; keyAuthorization: string | null }
  | { cmd: 'acme-alpn'; serverName: string; pair: { cert: string; key: string } | null }
  | { cmd: 'acme-certificate' };
export type ToPrimary = { type: 'listen-error'; message: string } | { type: 'start-error'; message: string } | { type: 'accept-pause' };
