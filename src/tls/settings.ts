/**
 * The HTTPS settings of the configuration, checked as a whole once convict has checked each
 * value: which keys need which others, the HTTP port against the other ports, and every
 * certificate pair read and verified — so that --check-config and a start refuse the same
 * mistakes with one line naming the key and the file, before anything is bound.
 */
import { CertificateError, ConfigError } from '../errors';
import { readPair, validityWarning, type CertificatePair, type CertificateSet } from './certificates';
// From the schema itself, not the loader's entry (config/config.ts), which calls checkTlsSettings.
import type { Config } from '../config/schema';
import { isMatchableDnsName } from './sni';
import { acmeEnabled } from '../acme/settings';

/** The configuration keys of HTTPS (their schema entries and types are in src/config/schema.ts). */
export type TlsSettings = Pick<Config, 'tlsCert' | 'tlsKey' | 'tlsCertificates' | 'tlsMinVersion' | 'httpPort' | 'httpRedirect' | 'hsts' | 'acmeDomains'>;

/** The keys whose values name files: every path of HTTPS goes through resolveTlsPaths. */
export const TLS_PATH_KEYS = ['tlsCert', 'tlsKey', 'tlsCertificates'] as const;

type TlsPaths = Pick<TlsSettings, (typeof TLS_PATH_KEYS)[number]>;

/** The path keys with every file made absolute by `resolve` (the caller decides against what). */
export function resolveTlsPaths(values: TlsPaths, resolve: (file: string) => string): TlsPaths {
  const abs = (file: string) => (file === '' ? '' : resolve(file));
  return {
    tlsCert: abs(values.tlsCert),
    tlsKey: abs(values.tlsKey),
    tlsCertificates: values.tlsCertificates.map((e) => ({ cert: abs(e.cert), key: abs(e.key) })),
  };
}

/** HTTPS is on: with certificate files (tlsCert and tlsKey), or with ACME (acmeDomains). */
export function tlsEnabled(s: Pick<TlsSettings, 'tlsCert' | 'acmeDomains'>): boolean {
  return s.tlsCert !== '' || acmeEnabled(s);
}

/** The certificates come from files (tlsCert/tlsKey), not from ACME's storage. */
export function certificateFilesEnabled(s: Pick<TlsSettings, 'tlsCert'>): boolean {
  return s.tlsCert !== '';
}

/** How a configured pair is named in messages: its keys. */
function keysOf(index: number | null): { cert: string; key: string } {
  return index === null ? { cert: 'tlsCert', key: 'tlsKey' } : { cert: `tlsCertificates[${index}].cert`, key: `tlsCertificates[${index}].key` };
}

/** Reads every configured pair (paths already absolute); throws CertificateError. Used at start and on reload. */
export function loadCertificateSet(s: TlsPaths): CertificateSet {
  return { defaultPair: readPair(s.tlsCert, s.tlsKey), sniPairs: s.tlsCertificates.map((e) => readPair(e.cert, e.key)) };
}

/**
 * loadCertificateSet, with a failure as the ConfigError of the key that names the file: what
 * a configuration check, a worker's start and a reload in place read the pairs with, so that
 * each says the same line about the same file.
 */
export function loadConfiguredCertificates(s: TlsPaths): CertificateSet {
  const read = (cert: string, key: string, index: number | null): CertificatePair => {
    try {
      return readPair(cert, key);
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err;
      throw new ConfigError(`${keysOf(index)[err.role]}: ${err.message}`);
    }
  };
  const defaultPair = read(s.tlsCert, s.tlsKey, null);
  const sniPairs = s.tlsCertificates.map((e, i) => read(e.cert, e.key, i));
  sniPairs.forEach((pair, i) => {
    // A pair SNI can never choose is a mistake, not a spare.
    if (!pair.info.dnsNames.some(isMatchableDnsName)) {
      throw new ConfigError(`${keysOf(i).cert}: ${pair.certFile} has no DNS name in its subjectAltName that SNI could choose it by`);
    }
  });
  return { defaultPair, sniPairs };
}

/** The rules between keys; each names the key that is wrong. */
function checkCombinations(s: TlsSettings, ports: { port: number; metricsPort: number }): void {
  if (s.tlsCert !== '' && s.tlsKey === '') throw new ConfigError('tlsCert: given without tlsKey (set both, or neither)');
  if (s.tlsKey !== '' && s.tlsCert === '') throw new ConfigError('tlsKey: given without tlsCert (set both, or neither)');
  const tls = tlsEnabled(s);
  if (!certificateFilesEnabled(s) && s.tlsCertificates.length > 0) {
    throw new ConfigError('tlsCertificates: needs tlsCert and tlsKey too (the certificate for clients without SNI or with a name none of these has)');
  }
  if (s.httpPort !== 0) {
    // Without TLS a second plain port would redirect to itself, or serve what port serves.
    if (!tls) throw new ConfigError('httpPort: needs tlsCert and tlsKey, or acmeDomains (the HTTP port exists to send clients to HTTPS)');
    if (s.httpPort === ports.port) throw new ConfigError(`httpPort: ${s.httpPort} is also port (the HTTPS listener); the HTTP listener needs a port of its own`);
    if (s.httpPort === ports.metricsPort) throw new ConfigError(`httpPort: ${s.httpPort} is also metricsPort; the HTTP listener needs a port of its own`);
  }
  if (s.hsts !== '' && !tls) throw new ConfigError('hsts: needs tlsCert and tlsKey, or acmeDomains (Strict-Transport-Security is only sent over HTTPS)');
}

/**
 * Checks the HTTPS settings and returns the path keys with absolute paths, for the frozen
 * Config. `resolve` makes a configured path absolute.
 */
export function checkTlsSettings(s: TlsSettings, ports: { port: number; metricsPort: number }, resolve: (file: string) => string): TlsPaths {
  checkCombinations(s, ports);
  const paths = resolveTlsPaths(s, resolve);
  if (certificateFilesEnabled(s)) loadConfiguredCertificates(paths);
  return paths;
}

/**
 * One warning line per certificate that has expired, expires within 14 days, or is not valid
 * yet, for the process to log at start (and after a reload). `set` is in configuration order,
 * as loadCertificateSet returns it.
 */
export function certificateWarnings(set: CertificateSet, now: Date = new Date()): string[] {
  const named = [{ pair: set.defaultPair, key: keysOf(null).cert }, ...set.sniPairs.map((pair, i) => ({ pair, key: keysOf(i).cert }))];
  return named.map(({ pair, key }) => validityWarning(pair.info, `${key}: ${pair.certFile}`, now)).filter((w): w is string => w !== null);
}

/**
 * The certificate warnings of a configuration: none when it serves no HTTPS. The files are
 * read again; one that went bad since the configuration was checked is the next start's or
 * worker's error to report, not a warning's.
 */
export function configuredCertificateWarnings(config: Config, now: Date = new Date()): string[] {
  if (!certificateFilesEnabled(config)) return [];
  try {
    return certificateWarnings(loadCertificateSet(config), now);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof CertificateError) return [];
    throw err;
  }
}
