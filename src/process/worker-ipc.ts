/**
 * What a cluster worker does with the primary's messages (ipc.ts): each one is one call on
 * the worker's parts. The metrics' scrape requests come over the same channel and are
 * answered by metrics/serving-metrics.ts: anything not a ToWorker is left alone.
 */
import type { AcmeChallengePair } from '../tls/alpn-challenge';
import type { ToWorker } from './ipc';

export interface WorkerActions {
  /** `drain`: a stop, with the pre-drain first, as on SIGTERM. */
  stop(): void;
  /** `retire`: a reload replaces this worker: drain at once. */
  retire(): void;
  /** `force`: the primary's second stop signal: cut everything and exit. */
  force(): void;
  /** `reopen`: the log files (SIGUSR1 reached the primary). */
  reopenLogs(): void;
  /** `accept-pause`: the primary's answer to this worker's request to stop listening. */
  acceptPause(granted: boolean): void;
  /** `ticket-keys`: the primary rotated the session-ticket keys (base64). */
  ticketKeys(keys: string): void;
  /** `acme-challenge`: an HTTP-01 answer to give (null: to withdraw). */
  acmeChallenge(token: string, keyAuthorization: string | null): void;
  /** `acme-alpn`: a TLS-ALPN-01 challenge certificate to answer acme-tls/1 handshakes for serverName with (null: to withdraw). */
  acmeAlpn(serverName: string, pair: AcmeChallengePair | null): void;
  /** `acme-certificate`: read the certificate the primary stored, for new connections. */
  acmeCertificate(): void;
}

/** The one switch over ToWorker; a message that is none of them changes nothing. */
export function dispatchToWorker(m: unknown, act: WorkerActions): void {
  const cmd = (m as Partial<ToWorker> | null)?.cmd;
  if (cmd === 'drain') act.stop();
  else if (cmd === 'retire') act.retire();
  else if (cmd === 'force') act.force();
  else if (cmd === 'reopen') act.reopenLogs();
  else if (cmd === 'accept-pause') act.acceptPause((m as { granted: unknown }).granted === true);
  else if (cmd === 'ticket-keys') act.ticketKeys(String((m as { keys: unknown }).keys));
  else if (cmd === 'acme-challenge') {
    const { token, keyAuthorization } = m as { token: unknown; keyAuthorization: unknown };
    act.acmeChallenge(String(token), typeof keyAuthorization === 'string' ? keyAuthorization : null);
  } else if (cmd === 'acme-alpn') {
    const { serverName, pair } = m as { serverName: unknown; pair: Partial<AcmeChallengePair> | null };
    const whole = pair !== null && typeof pair === 'object' && typeof pair.cert === 'string' && typeof pair.key === 'string';
    act.acmeAlpn(String(serverName), whole ? { cert: pair.cert!, key: pair.key! } : null);
  } else if (cmd === 'acme-certificate') act.acmeCertificate();
}

/** Hands every message of `channel` (the worker's `process`, or a fake in tests) to dispatchToWorker. */
export function onPrimaryMessages(channel: { on(event: 'message', listener: (m: unknown) => void): unknown }, act: WorkerActions): void {
  channel.on('message', (m: unknown) => dispatchToWorker(m, act));
}
