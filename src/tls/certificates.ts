/**
 * A certificate and its private key, as fleetserve serves them: read from PEM files (the
 * certificate file may hold the chain after the leaf), checked, and described (names, dates,
 * key type). Everything here is a pure function of the files' contents except readPair, the
 * one edge that reads them; every refusal is a CertificateError naming the file at fault.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { CertificateError } from '../errors';
import { pemCertificateBlocks } from './pem';

/** What a certificate says about itself, for SNI, warnings, metrics and logs. */
export interface CertificateInfo {
  /** subjectAltName DNS names as written (wildcards included), in order. */
  readonly dnsNames: readonly string[];
  /** subjectAltName IP addresses, as Node prints them. */
  readonly ipAddresses: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** "ECDSA P-256", "RSA 2048", "Ed25519": the leaf's public key. */
  readonly keyType: string;
  readonly subject: string;
  readonly fingerprint256: string;
}

/** A checked pair, ready for tls.createSecureContext. */
export interface CertificatePair {
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate blocks of the file, leaf first (what the handshake sends). */
  readonly cert: string;
  /** The private key block alone. */
  readonly key: string;
  readonly info: CertificateInfo;
}

// PKCS#8 (PRIVATE KEY, ENCRYPTED PRIVATE KEY) and the traditional RSA / EC forms.
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----\r?\n[\s\S]*?-----END \1-----/;
const CURVE_NAMES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
/** Key types a TLS 1.2/1.3 server can sign its handshake with under fleetserve's cipher policy. */
const USABLE_KEYS = new Set(['rsa', 'ec', 'ed25519', 'ed448']);
/** Mozilla's intermediate policy: RSA keys of at least 2048 bits. */
const MIN_RSA_BITS = 2048;

/** The OpenSSL reason of a crypto error, without its numeric prefix ("wrong tag"). */
function reasonOf(err: unknown): string {
  const message = (err as Error).message ?? String(err);
  const i = message.lastIndexOf('::');
  return i >= 0 ? message.slice(i + 2) : message;
}

/** "ECDSA P-256", "RSA 2048", …: how a key is named to a person. */
export function describeKey(key: crypto.KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return `RSA ${details.modulusLength ?? '?'}`;
    case 'rsa-pss':
      return `RSA-PSS ${details.modulusLength ?? '?'}`;
    case 'ec':
      return `ECDSA ${CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve ?? '?'}`;
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return String(key.asymmetricKeyType ?? 'unknown').toUpperCase();
  }
}

/**
 * Node's subjectAltName text ("DNS:a.test, DNS:*.b.test, IP Address:127.0.0.1") split into
 * DNS names and IP addresses. Node writes a value that holds a comma, a quote or a control
 * character as a JSON string (DNS:"a,b"), so a quoted value is read as JSON; other kinds
 * (email, URI, DirName, othername) are skipped.
 */
export function parseSubjectAltName(text: string | undefined): { dns: string[]; ip: string[] } {
  const dns: string[] = [];
  const ip: string[] = [];
  const s = text ?? '';
  let i = 0;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const kind = s.slice(i, colon);
    let value: string;
    let end: number;
    if (s[colon + 1] === '"') {
      let j = colon + 2;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      end = j + 1;
      try {
        value = JSON.parse(s.slice(colon + 1, end)) as string;
      } catch {
        value = s.slice(colon + 1, end);
      }
    } else {
      // The next entry starts after ", " followed by a kind and a colon.
      const next = /, (?=[A-Za-z][A-Za-z ]*:)/g;
      next.lastIndex = colon + 1;
      const m = next.exec(s);
      end = m ? m.index : s.length;
      value = s.slice(colon + 1, end);
    }
    if (kind === 'DNS') dns.push(value);
    else if (kind === 'IP Address') ip.push(value);
    i = end;
    if (s.startsWith(', ', i)) i += 2;
  }
  return { dns, ip };
}

/** The parsed certificates of a PEM file, leaf first. */
function parseCertificates(text: string, file: string): { blocks: string[]; certs: crypto.X509Certificate[] } {
  const blocks = pemCertificateBlocks(text);
  if (blocks.length === 0) throw new CertificateError(`${file} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`, file, 'cert');
  const certs = blocks.map((block, n) => {
    try {
      return new crypto.X509Certificate(block);
    } catch (err) {
      const which = blocks.length > 1 ? `certificate ${n + 1} of ${blocks.length}` : 'the certificate';
      throw new CertificateError(`${file}: ${which} cannot be parsed (${reasonOf(err)})`, file, 'cert');
    }
  });
  return { blocks, certs };
}

function parsePrivateKey(text: string, file: string): { block: string; key: crypto.KeyObject } {
  const m = KEY_BLOCK.exec(text);
  if (!m) throw new CertificateError(`${file} is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)`, file, 'key');
  const block = m[0];
  if (m[1] === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type: 4,ENCRYPTED/m.test(block)) {
    throw new CertificateError(`${file} is encrypted; fleetserve needs the key without a passphrase (openssl pkey -in KEY -out PLAIN)`, file, 'key');
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(block);
  } catch (err) {
    throw new CertificateError(`${file}: the private key cannot be parsed (${reasonOf(err)})`, file, 'key');
  }
  return { block, key };
}

/** Refuses keys a handshake under the cipher policy cannot use. */
function checkKeyUsable(key: crypto.KeyObject, file: string): void {
  const type = key.asymmetricKeyType ?? '';
  if (!USABLE_KEYS.has(type)) {
    throw new CertificateError(`${file}: ${describeKey(key)} keys cannot sign a TLS handshake (use ECDSA P-256 or RSA ${MIN_RSA_BITS})`, file, 'key');
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (type === 'rsa' && bits < MIN_RSA_BITS) {
    throw new CertificateError(`${file}: an RSA key of ${bits} bits is too weak (at least ${MIN_RSA_BITS})`, file, 'key');
  }
}

/** Dates of a certificate; validToDate exists from Node 22.10, the text form everywhere. */
function datesOf(cert: crypto.X509Certificate): { notBefore: Date; notAfter: Date } {
  const c = cert as crypto.X509Certificate & { validFromDate?: Date; validToDate?: Date };
  return { notBefore: c.validFromDate ?? new Date(c.validFrom), notAfter: c.validToDate ?? new Date(c.validTo) };
}

/** Describes a certificate's leaf. */
export function describeCertificate(cert: crypto.X509Certificate): CertificateInfo {
  const { dns, ip } = parseSubjectAltName(cert.subjectAltName);
  return {
    dnsNames: dns,
    ipAddresses: ip,
    ...datesOf(cert),
    keyType: describeKey(cert.publicKey),
    subject: cert.subject.replace(/\n/g, ', '),
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * Checks a pair from its files' contents: the certificate file holds PEM certificates (the
 * leaf first, then its chain), the key file a PEM private key without a passphrase, and the
 * key is the leaf's (checkPrivateKey compares the public halves, so an RSA key for an ECDSA
 * certificate is refused as well as another key of the same type).
 */
export function parsePair(certText: string, keyText: string, certFile: string, keyFile: string): CertificatePair {
  const { blocks, certs } = parseCertificates(certText, certFile);
  const { block, key } = parsePrivateKey(keyText, keyFile);
  checkKeyUsable(key, keyFile);
  const leaf = certs[0]!;
  if (!leaf.checkPrivateKey(key)) {
    const ours = describeKey(key);
    const theirs = describeKey(leaf.publicKey);
    const why = ours === theirs ? `another ${ours} key` : `an ${ours} key for an ${theirs} certificate`;
    throw new CertificateError(`${keyFile} does not match the certificate in ${certFile} (${why})`, keyFile, 'key');
  }
  return { certFile, keyFile, cert: blocks.join('\n') + '\n', key: block + '\n', info: describeCertificate(leaf) };
}

/** Reads one file of a pair; a failure names the file and the errno. */
function readPem(file: string, role: 'cert' | 'key'): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch (err) {
    throw new CertificateError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file, role);
  }
}

/** Reads and checks a pair (absolute paths): the edge of this module. */
export function readPair(certFile: string, keyFile: string): CertificatePair {
  return parsePair(readPem(certFile, 'cert'), readPem(keyFile, 'key'), certFile, keyFile);
}

/** How long before its notAfter a certificate is worth a warning at start-up. */
export const EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

/**
 * The warning a certificate deserves at `now`, or null: expired, expiring within 14 days,
 * or not valid yet. `where` names it as configuration does ("tlsCert: /etc/…/cert.pem").
 */
export function validityWarning(info: CertificateInfo, where: string, now: Date): string | null {
  const left = info.notAfter.getTime() - now.getTime();
  if (left <= 0) return `${where} expired on ${info.notAfter.toISOString()} (notAfter); clients will refuse it`;
  if (left <= EXPIRY_WARNING_MS) {
    const days = Math.floor(left / (24 * 3600 * 1000));
    return `${where} expires on ${info.notAfter.toISOString()} (notAfter), in ${days === 0 ? 'less than a day' : `${days} day${days === 1 ? '' : 's'}`}`;
  }
  if (info.notBefore.getTime() > now.getTime()) return `${where} is not valid before ${info.notBefore.toISOString()} (notBefore); clients will refuse it until then`;
  return null;
}

/** Every pair a listener serves: the default one (tlsCert/tlsKey) and those chosen by SNI (tlsCertificates). */
export interface CertificateSet {
  readonly defaultPair: CertificatePair;
  readonly sniPairs: readonly CertificatePair[];
}
