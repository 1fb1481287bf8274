/**
 * fleetserve-client's TLS side (https://): the CAs it trusts, the handshake over a connected
 * socket with node:tls (SNI from the URL's host), and what a failure means, as curl: exit 35
 * for a handshake that does not complete, 60 for a certificate that does not verify. The
 * verification is node:tls's own (the chain against the CAs, then tls.checkServerIdentity);
 * this file only reads its result once the handshake is done, so that -v can show the
 * certificate that failed and -k can go on with it.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { pemCertificateBlocks } from '../tls/pem';
import { CaFileError, CertificateError, TlsHandshakeError } from './errors';
import { whenReady, type Destination } from './connection';
import type { TimeLimit } from './time-limit';

/** The CAs a certificate must chain to; `ca` undefined is Node.js's built-in list. */
export interface Trust {
  ca: string[] | undefined;
  /** For -v: where the CAs came from. */
  source: string;
}

/** The system's CA bundle on Debian/Ubuntu/Alpine, Fedora/RHEL, and the BSDs/macOS, as curl's builds look for it. */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

/** --cacert FILE: every PEM certificate in it, each one parsed (node:tls would ignore a file that is not PEM). */
export function loadCaFile(file: string): Trust {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (err) {
    throw new CaFileError(`cannot read the --cacert file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const ca = pemCertificateBlocks(text);
  if (ca.length === 0) throw new CaFileError(`the --cacert file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const pem of ca) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new CaFileError(`the --cacert file ${file} holds a certificate that does not parse: ${(err as Error).message}`);
    }
  }
  return { ca, source: `CAfile: ${file}` };
}

/**
 * The system's CAs (what the machine's administrator trusts, local CAs included), as curl uses:
 * node:tls's own system store where it has one (Node.js 22.15 and later), else the first
 * system bundle file that holds certificates, else Node.js's built-in (Mozilla) list.
 */
export function systemTrust(): Trust {
  const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  const system = getCACertificates?.('system') ?? [];
  if (system.length > 0) return { ca: system, source: 'CA store: the system\'s (node:tls)' };
  for (const file of SYSTEM_BUNDLES) {
    let ca: string[] = [];
    try {
      ca = pemCertificateBlocks(fs.readFileSync(file, 'latin1'));
    } catch {
      // Not this system's layout: try the next.
    }
    if (ca.length > 0) return { ca, source: `CAfile: ${file}` };
  }
  return { ca: undefined, source: 'CA store: Node.js\'s built-in list (no system bundle found)' };
}

/**
 * The TLS handshake over `socket` (connected to `to`), within `limit`; resolves once it is done,
 * whatever the certificate (see verificationProblem), or rejects with a TlsHandshakeError.
 */
export function startTls(socket: net.Socket, to: Destination, trust: Trust, limit: TimeLimit | undefined): Promise<tls.TLSSocket> {
  const secure = tls.connect({
    socket,
    // checkServerIdentity checks this name: the URL's host, an address for an IP literal.
    host: to.host,
    // RFC 6066 allows no IP literal as a server name: those handshakes send no SNI.
    ...(net.isIP(to.host) === 0 ? { servername: to.host } : {}),
    ca: trust.ca,
    // Never lower, whatever NODE_OPTIONS says (--tls-min-v1.0).
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['http/1.1'],
    // Node.js still verifies; verificationProblem reads the result once the certificate is at hand.
    rejectUnauthorized: false,
  });
  return whenReady(secure, 'secureConnect', limit, (err) => handshakeError(err, to));
}

/** A handshake that did not complete, by its code, as one line that says why (exit 35). */
export function handshakeError(err: NodeJS.ErrnoException & { reason?: string }, to: Destination): TlsHandshakeError {
  const code = err.code ?? '';
  const why = err.reason ?? err.message.split('\n')[0];
  const failed = `TLS handshake with ${to.origin} failed`;
  switch (code) {
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return new TlsHandshakeError(`${failed}: the server does not answer in TLS (${why}); is it a plain http:// port?`);
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
      return new TlsHandshakeError(`${failed}: no TLS version in common; the client speaks TLS 1.2 and 1.3 (${why})`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new TlsHandshakeError(`${failed}: the server closed the connection during the handshake (${code})`);
    default:
      return new TlsHandshakeError(`${failed}: ${why}${code === '' ? '' : ` (${code})`}`);
  }
}

/**
 * The server's certificate, taken once: Node.js 20 removes it from the socket's peer chain as it
 * hands it out, so a second getPeerX509Certificate() can return undefined.
 */
export function peerCertificate(secure: tls.TLSSocket): X509Certificate | undefined {
  return secure.getPeerX509Certificate();
}

/** Why the certificate `cert` of a completed handshake fails verification, or undefined when it passes. */
export function verificationProblem(secure: tls.TLSSocket, cert: X509Certificate | undefined, host: string): string | undefined {
  if (secure.authorized) return undefined;
  // Typed as an Error, but node:tls sets the verify code: "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID"...
  const code = String(secure.authorizationError ?? 'UNKNOWN');
  if (cert === undefined) return `the server sent no certificate (${code})`;
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return `it expired on ${cert.validTo} (${code})`;
    case 'CERT_NOT_YET_VALID':
      return `it is not valid before ${cert.validFrom} (${code})`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `it is not for ${host}: it names ${cert.subjectAltName ?? 'no subjectAltName'} (${code})`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `it is self-signed (${code}); --cacert FILE trusts it`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `its issuer ${rdn(cert.issuer)} is not a trusted CA (${code}); --cacert FILE trusts a CA`;
    default:
      return `verification failed (${code})`;
  }
}

/** The failure of a certificate that is not -k'd (exit 60). */
export function certificateError(problem: string, to: Destination): CertificateError {
  return new CertificateError(`the certificate of ${to.origin} cannot be verified: ${problem}`);
}

/** -v after the handshake, as curl -v shows it: version, cipher, ALPN, the certificate, the verdict. */
export function describeSession(
  secure: tls.TLSSocket,
  cert: X509Certificate | undefined,
  trust: Trust,
  problem: string | undefined,
  insecure: boolean,
): string {
  const lines = [` ${trust.source}`, `SSL connection using ${secure.getProtocol() ?? '?'} / ${secure.getCipher().standardName}`];
  lines.push(secure.alpnProtocol ? `ALPN: server accepted ${secure.alpnProtocol}` : 'ALPN: server did not agree on a protocol');
  if (cert) {
    lines.push('Server certificate:', ` subject: ${rdn(cert.subject)}`, ` start date: ${cert.validFrom}`, ` expire date: ${cert.validTo}`);
    if (cert.subjectAltName) lines.push(` subjectAltName: ${cert.subjectAltName}`);
    lines.push(` issuer: ${rdn(cert.issuer)}`);
  }
  if (problem === undefined) lines.push(' SSL certificate verify ok.');
  else if (insecure) lines.push(` SSL certificate verify result: ${problem}, continuing anyway (-k).`);
  else lines.push(` SSL certificate verify failed: ${problem}.`);
  return lines.map((l) => `* ${l}\n`).join('');
}

/** A distinguished name on one line, as curl writes it: "C=US; O=Let's Encrypt; CN=R3". */
function rdn(name: string): string {
  return name.split('\n').join('; ');
}
