/**
 * The ACME settings checked as a whole (each value's format is checked by convict before):
 * ACME is the alternative to certificate files, HTTP-01 needs the plain-HTTP port, and the
 * storage directory defaults to systemd's StateDirectory or a directory beside the working
 * one. acmeEnabled is what the rest of the process asks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import type { Config } from '../config/schema';

export type AcmeSettings = Pick<Config, 'acmeDomains' | 'acmeEmail' | 'acmeDirectory' | 'acmeCaFile' | 'acmeStorage' | 'acmeChallenge' | 'acmeRetryMinMs'>;

/** The directory under the working directory used when neither acmeStorage nor $STATE_DIRECTORY says one. */
export const DEFAULT_STORAGE_DIR = 'fleetserve-acme';

export function acmeEnabled(s: Pick<Config, 'acmeDomains'>): boolean {
  return s.acmeDomains.length > 0;
}

/**
 * The storage directory: acmeStorage as configured (absolute by now), else systemd's
 * $STATE_DIRECTORY (its first entry: systemd joins several with ":"), else DEFAULT_STORAGE_DIR
 * under `cwd`.
 */
export function storageDirectory(configured: string, env: NodeJS.ProcessEnv, cwd: string): string {
  if (configured !== '') return configured;
  const state = env.STATE_DIRECTORY?.split(':')[0];
  if (state) return path.resolve(cwd, state);
  return path.join(cwd, DEFAULT_STORAGE_DIR);
}

/**
 * Checks the combinations and returns acmeStorage made absolute. With ACME off nothing else
 * is asked of the other keys (their defaults are harmless).
 */
export function checkAcmeSettings(s: AcmeSettings & Pick<Config, 'tlsCert' | 'tlsKey' | 'tlsCertificates' | 'httpPort'>, env: NodeJS.ProcessEnv, cwd: string): Pick<Config, 'acmeStorage'> {
  const acmeStorage = storageDirectory(s.acmeStorage, env, cwd);
  if (!acmeEnabled(s)) return { acmeStorage };
  if (s.tlsCert !== '' || s.tlsKey !== '' || s.tlsCertificates.length > 0) {
    const key = s.tlsCert !== '' ? 'tlsCert' : s.tlsKey !== '' ? 'tlsKey' : 'tlsCertificates';
    throw new ConfigError(`acmeDomains: cannot be used with ${key} (certificates come either from ACME or from files; remove one)`);
  }
  if (s.acmeChallenge.includes('http-01') && s.httpPort === 0) {
    throw new ConfigError('acmeDomains: the http-01 challenge needs httpPort (the CA fetches http://NAME/.well-known/acme-challenge/ on port 80: set --http-port 80)');
  }
  checkStoragePath(acmeStorage);
  return { acmeStorage };
}

/**
 * A storage path that can never be a directory — it, or a directory above it, is a file — is
 * a mistake in the configuration, refused before anything starts. Anything else (no
 * permission yet, a mount not there yet) is left to the order, which logs it and tries again:
 * an operator can fix it without a restart, and a stored certificate is served meanwhile.
 * Nothing is created here: --check-config changes nothing.
 */
function checkStoragePath(dir: string): void {
  for (let p = dir; ; p = path.dirname(p)) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && path.dirname(p) !== p) continue; // look higher for what is there
      return;
    }
    if (stat.isDirectory()) return;
    throw new ConfigError(p === dir ? `acmeStorage: ${dir} is not a directory` : `acmeStorage: ${dir} cannot be made: ${p} is not a directory`);
  }
}
