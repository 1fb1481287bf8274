/**
 * Session-ticket keys: the secret that lets a client resume a TLS session (1.2 tickets and
 * 1.3 PSK tickets) without a full handshake, on any process that holds the same keys.
 *
 * The primary makes them and hands them to every worker, as nginx's master process does: a
 * worker that made its own would issue tickets no other worker can read, and resumption would
 * silently work only when a client happens to land on the same worker again. (node:cluster
 * shares the first worker's keys only by accident of a shared listen handle, which socket
 * activation and a rolling reload do not keep.)
 *
 * Rotation: the keys should change on a schedule, since whoever learns them can decrypt every
 * TLS 1.2 session resumed with them. Node holds one key set per context, with no list of
 * older keys still accepted for decryption (nginx keeps several), so every ticket issued
 * before a rotation stops working at once: each client that comes back with one pays one full
 * handshake (an extra round trip on TLS 1.2, an ECDHE and a signature for the server) and
 * gets a new ticket. Tickets live `sessionTimeout` (Node: 300 s), so at most the clients that
 * resume within that window of a rotation pay it: with hourly rotation, at most 300/3600 ≈ 8%
 * of resumptions in the worst case, once an hour — cheap next to never rotating.
 */
import crypto from 'node:crypto';

/** The length Node's ticketKeys take: 16 bytes key name, 16 HMAC secret, 16 AES key. */
export const TICKET_KEYS_BYTES = 48;

/** How often the keys change: hourly (see the cost above). */
export const TICKET_KEY_ROTATION_MS = 3600_000;

/** Fresh random keys. */
export function newTicketKeys(): Buffer {
  return crypto.randomBytes(TICKET_KEYS_BYTES);
}

/** The keys as text, for the primary → worker hand-off (environment or IPC message). */
export function encodeTicketKeys(keys: Buffer): string {
  return keys.toString('base64');
}

/** The keys from their text form; throws on anything that is not exactly 48 bytes of base64. */
export function decodeTicketKeys(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]{64}$/.test(text)) throw new Error(`session ticket keys must be ${TICKET_KEYS_BYTES} bytes in base64 (64 characters)`);
  return Buffer.from(text, 'base64');
}

export interface TicketKeyRotation {
  /** The keys in use now. */
  current(): Buffer;
  /** Stops the schedule (on shutdown). */
  stop(): void;
}

/**
 * Makes keys now and new ones every `intervalMs`, calling `onRotate` with each new set (the
 * primary sends them to its workers, which apply them with setTicketKeys). The timer does not
 * keep the process alive.
 */
export function startTicketKeyRotation(intervalMs: number, onRotate: (keys: Buffer) => void, make: () => Buffer = newTicketKeys): TicketKeyRotation {
  let keys = make();
  const timer = setInterval(() => {
    keys = make();
    onRotate(keys);
  }, intervalMs);
  timer.unref();
  return {
    current: () => keys,
    stop: () => clearInterval(timer),
  };
}
