/**
 * TLS-ALPN-01 (RFC 8737): an ACME server proves control of a name by a TLS handshake to it
 * that offers only the protocol acme-tls/1, and expects a self-signed certificate for that
 * name carrying the acmeIdentifier extension (the digest of the key authorization). Which
 * connection is such a validation is known only from the ClientHello's ALPN list, read in
 * client-hello.ts; what is checked here is what the acceptor is given to answer one with.
 */
import crypto from 'node:crypto';
import { AcmeChallengeError } from '../errors';
import { parseSubjectAltName } from './certificates';
import { ACME_TLS_ALPN } from './context';
import { normalizeHostName } from './sni';

/** A challenge certificate and its key, PEM (what acme-client's createAlpnCertificate makes). */
export interface AcmeChallengePair {
  readonly cert: string;
  readonly key: string;
}

/**
 * Whether a ClientHello's ALPN list is a validation's: acme-tls/1 and nothing else (RFC 8737
 * §3: the ACME server offers only that protocol). A list with acme-tls/1 among others is an
 * ordinary client and is served as one.
 */
export function isTlsAlpnValidation(alpn: readonly string[] | null): boolean {
  return alpn !== null && alpn.length === 1 && alpn[0] === ACME_TLS_ALPN;
}

/**
 * A fatal no_application_protocol alert (RFC 8446 §6: level 2, description 120) in a TLS
 * record, as the first and only thing the server sends: how a validation with no challenge
 * pending is refused (RFC 7301 §3.2), before any certificate is chosen.
 */
export const NO_APPLICATION_PROTOCOL_ALERT: Buffer = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x78]);

/** id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31 (RFC 8737 §6.1), DER-encoded as an OID. */
const ACME_IDENTIFIER_OID = Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f]);

/**
 * The host name a challenge is served for (normalized as SNI is compared: sni.ts), after the
 * checks that catch a caller's mistake early rather than in a failed validation: a host name
 * (no wildcard: RFC 8737 §3 validates one name), a parsable certificate whose subjectAltName
 * holds that name and which carries the acmeIdentifier extension, and a key that belongs to
 * it. Throws AcmeChallengeError otherwise.
 */
export function checkChallenge(serverName: string, pair: AcmeChallengePair): string {
  const host = normalizeHostName(serverName);
  if (host === null) throw new AcmeChallengeError(`TLS-ALPN-01 challenge for ${JSON.stringify(serverName)}: not a host name`);
  const fail = (why: string) => new AcmeChallengeError(`TLS-ALPN-01 challenge for ${host}: ${why}`);
  let cert: crypto.X509Certificate;
  let key: crypto.KeyObject;
  try {
    cert = new crypto.X509Certificate(pair.cert);
  } catch (err) {
    throw fail(`the certificate cannot be parsed (${(err as Error).message})`);
  }
  try {
    key = crypto.createPrivateKey(pair.key);
  } catch (err) {
    throw fail(`the private key cannot be parsed (${(err as Error).message})`);
  }
  if (!parseSubjectAltName(cert.subjectAltName).dns.some((name) => normalizeHostName(name) === host)) {
    throw fail(`the certificate's subjectAltName (${cert.subjectAltName ?? 'none'}) does not hold the name`);
  }
  // X509Certificate does not list extensions; the OID's encoding in the DER is the extension's.
  if (!cert.raw.includes(ACME_IDENTIFIER_OID)) throw fail('the certificate has no acmeIdentifier extension (RFC 8737 §3)');
  if (!cert.checkPrivateKey(key)) throw fail('the private key does not belong to the certificate');
  return host;
}
