/**
 * The TLS policy of every HTTPS listener, as options for tls.createServer: one place that says
 * which protocol versions, cipher suites and key-exchange groups a client may get.
 *
 * Cipher policy: Mozilla's "intermediate" configuration (server-side TLS guidelines 6.0),
 * written out rather than left to Node's default list, which on TLS 1.2 still accepts CBC
 * suites with SHA-1 MACs (ECDHE-ECDSA-AES128-SHA), CCM8 and ARIA (seen with sslscan).
 * - TLS 1.2: ECDHE key exchange (forward secrecy) with an AEAD cipher only — AES-128/256-GCM
 *   and ChaCha20-Poly1305, for ECDSA and RSA certificates. No DHE: guidelines 6.0 dropped the
 *   DHE-RSA suites that 5.7 still listed; every client the intermediate profile serves speaks
 *   ECDHE, and finite-field DHE costs the server far more per handshake for no gain.
 * - TLS 1.3: its three suites, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
 *   TLS_CHACHA20_POLY1305_SHA256 (no CCM). Node takes them in the same `ciphers` string:
 *   names starting with "TLS_" go to OpenSSL's TLS 1.3 list (SSL_CTX_set_ciphersuites).
 * - The client's order decides (honorCipherOrder false), as the guidelines say: every suite
 *   offered is strong, and a phone without AES instructions then gets ChaCha20. Node's own
 *   default is the server's order, so this must be said explicitly.
 * - Groups: X25519, P-256, P-384; X25519MLKEM768 (post-quantum hybrid, first in the
 *   guidelines) where the OpenSSL Node links has it (3.5: Node 22 and 24; not Node 20's 3.0).
 * - Renegotiation off (SSL_OP_NO_RENEGOTIATION): a client-initiated TLS 1.2 renegotiation
 *   costs the server a full handshake on demand; HTTP/1.1 never needs one.
 */
import crypto from 'node:crypto';
import tls from 'node:tls';
import type { CertificatePair } from './certificates';

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

export const CIPHER_POLICY_NAME = 'Mozilla intermediate (guidelines 6.0)';

export const TLS13_CIPHERSUITES: readonly string[] = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

export const TLS12_CIPHERS: readonly string[] = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

const CLASSIC_GROUPS = ['X25519', 'P-256', 'P-384'];
const POST_QUANTUM_GROUP = 'X25519MLKEM768';

/** Whether this OpenSSL knows a group name (an unknown one makes createSecureContext throw). */
function hasGroup(name: string): boolean {
  try {
    tls.createSecureContext({ ecdhCurve: name });
    return true;
  } catch {
    return false;
  }
}

/** The key-exchange groups, most preferred first; probed once at load. */
export const ECDH_GROUPS: readonly string[] = hasGroup(POST_QUANTUM_GROUP) ? [POST_QUANTUM_GROUP, ...CLASSIC_GROUPS] : CLASSIC_GROUPS;

/**
 * Sessions are only resumed where this matches the one they were made under (OpenSSL's
 * sid_ctx, checked for tickets too). Node's default is a hash of process.argv, which differs
 * between processes started differently (a worker, a reloaded server): a fixed value lets any
 * fleetserve process resume a session another one made, given the same ticket keys.
 */
export const SESSION_ID_CONTEXT = 'fleetserve';

/** What every HTTPS listener shares, whatever its certificate. */
export interface TlsPolicyOptions {
  readonly minVersion: TlsMinVersion;
  /** 48 bytes, the same in every process (see ticket-keys.ts). */
  readonly ticketKeys: Buffer;
  /** ALPN protocols offered, preferred first: ['http/1.1'] today, ['h2', 'http/1.1'] with HTTP/2. */
  readonly alpn: readonly string[];
  /** Node's handshakeTimeout: how long the TLS handshake may take once the ClientHello is in. */
  readonly handshakeTimeoutMs: number;
}

/**
 * Options for tls.createServer that serve exactly one certificate pair. There is no
 * SNICallback: the acceptor has already chosen the pair from the ClientHello (acceptor.ts).
 */
export function serverOptions(pair: Pick<CertificatePair, 'cert' | 'key'>, policy: TlsPolicyOptions): tls.TlsOptions {
  return {
    cert: pair.cert,
    key: pair.key,
    // The minimum can be raised to 1.3, never lowered below 1.2, whatever the caller passes.
    minVersion: policy.minVersion === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
    ecdhCurve: ECDH_GROUPS.join(':'),
    honorCipherOrder: false,
    secureOptions: crypto.constants.SSL_OP_NO_RENEGOTIATION,
    ticketKeys: policy.ticketKeys,
    sessionIdContext: SESSION_ID_CONTEXT,
    ALPNProtocols: [...policy.alpn],
    handshakeTimeout: policy.handshakeTimeoutMs,
    requestCert: false,
  };
}

/** The ALPN protocol of a TLS-ALPN-01 validation (RFC 8737 §6.2). */
export const ACME_TLS_ALPN = 'acme-tls/1';

/**
 * Options for answering a TLS-ALPN-01 validation (RFC 8737 §3) with its challenge
 * certificate: the policy above, ALPN acme-tls/1 alone (never h2 or http/1.1: no HTTP is
 * served on it), and no session to resume either way. A session made with the challenge
 * certificate must not resume on the listener's own pairs, nor one of theirs here (a resumed
 * handshake sends no certificate): its own session context, and no tickets.
 */
export function challengeServerOptions(pair: { readonly cert: string; readonly key: string }, policy: TlsPolicyOptions): tls.TlsOptions {
  const options = serverOptions(pair, { ...policy, alpn: [ACME_TLS_ALPN] });
  return { ...options, secureOptions: crypto.constants.SSL_OP_NO_RENEGOTIATION | crypto.constants.SSL_OP_NO_TICKET, sessionIdContext: `${SESSION_ID_CONTEXT}-${ACME_TLS_ALPN}` };
}

/** Why a handshake failed, as the metrics count it: a small fixed set. */
export type HandshakeFailure = 'timeout' | 'protocol' | 'no-shared' | 'other';

/** OpenSSL reasons that mean "no version, suite or group in common" (Node's ERR_SSL_… codes). */
const NO_SHARED = new Set([
  'ERR_SSL_NO_SHARED_CIPHER',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
  'ERR_SSL_VERSION_TOO_LOW',
  'ERR_SSL_NO_SUITABLE_KEY_SHARE',
  'ERR_SSL_NO_SHARED_GROUPS',
  'ERR_SSL_NO_SHARED_SIGNATURE_ALGORITHMS',
  'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM',
  'ERR_SSL_NO_APPLICATION_PROTOCOL',
]);

/** The failure class of a tlsClientError (or of the acceptor's own deadline: 'timeout'). */
export function classifyHandshakeError(err: unknown): HandshakeFailure {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || code === 'FLEETSERVE_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  // acme-tls/1 with no challenge pending: no application protocol in common.
  if (NO_SHARED.has(code) || code === 'FLEETSERVE_TLS_ACME_NO_CHALLENGE') return 'no-shared';
  // Not TLS at all (garbage, truncated or malformed records), or plain-text HTTP on the TLS port.
  if (code.startsWith('ERR_SSL_') || code === 'FLEETSERVE_TLS_PLAIN_TEXT') return 'protocol';
  return 'other';
}
