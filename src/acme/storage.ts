/**
 * The ACME storage directory (acmeStorage): the account key, and per set of names one file
 * holding the certificate's private key and its chain, and the lock a host takes while it
 * orders. Key and chain share one file so that a reader (a worker, another host) can never
 * see the key of one issuance with the certificate of another: every file is written to a
 * temporary name and renamed over the old one, which is atomic on one file system (NFS
 * included). The directory is created 0700 and every file 0600: it holds private keys.
 *
 * Several hosts may share the directory: the lock file (created with O_EXCL) says which one
 * orders; a lock older than its stale timeout is a host that died while ordering, and is
 * taken over. Behind a load balancer the CA's HTTP-01 check may reach any of them, not the
 * one that orders: that one also writes each answer to challenges/TOKEN, where every host's
 * plain-HTTP port looks for a token it does not know, and removes it once the CA has checked.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AcmeStorageError, CertificateError } from '../errors';
import { readPair, type CertificatePair, type CertificateSet } from '../tls/certificates';
import { isChallengeToken } from './answers';

/** A lock older than this is a host that died while ordering (an order takes seconds to a few minutes). */
export const LOCK_STALE_MS = 10 * 60 * 1000;

const ACCOUNT_KEY = 'account.key';
/** The folder of the HTTP-01 answers of an order under way, one file per token. */
const CHALLENGES = 'challenges';
/** A key authorization is the token, a dot and a 43-character thumbprint: a larger file is none. */
export const STORED_ANSWER_MAX_BYTES = 1024;

function storageError(what: string, file: string, err: unknown): AcmeStorageError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new AcmeStorageError(`acmeStorage: cannot ${what} ${file} (${code})`);
}

/** Writes `data` to `file` through a temporary file and a rename, mode 0600. */
export function writeFileAtomic(file: string, data: string): void {
  const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw storageError('write', file, err);
  }
}

/** Which file of the directory holds the certificate of a set of names: named after the first. */
export function certificateFile(dir: string, domains: readonly string[]): string {
  return path.join(dir, `${domains[0]}.pem`);
}

/**
 * The stored pair for `domains`, or null when there is none yet or it cannot be served (a
 * half-written or foreign file: the next order replaces it). `onBad` hears why.
 */
export function readStoredPair(dir: string, domains: readonly string[], onBad: (message: string) => void = () => {}): CertificatePair | null {
  const file = certificateFile(dir, domains);
  if (!fs.existsSync(file)) return null;
  try {
    return readPair(file, file);
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err;
    onBad(err.message);
    return null;
  }
}

/** Where the answer for `token` is stored; null for a token the CA could not have made ('..', '/'). */
function answerFile(dir: string, token: string): string | null {
  return isChallengeToken(token) ? path.join(dir, CHALLENGES, token) : null;
}

/**
 * The HTTP-01 answer another host (or this one) stored for `token`, or undefined: no such
 * file, a token or content that is not an answer, a file too large, any error. Read
 * asynchronously and at most STORED_ANSWER_MAX_BYTES: the plain-HTTP port asks for every
 * challenge path it does not know, and a slow shared file system must not stall it.
 */
export async function readStoredAnswer(dir: string, token: string): Promise<string | undefined> {
  const file = answerFile(dir, token);
  if (file === null) return undefined;
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, 'r');
    const buffer = Buffer.alloc(STORED_ANSWER_MAX_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.toString('latin1', 0, bytesRead);
    // An answer is TOKEN.THUMBPRINT (RFC 8555 §8.1): anything else there is not served.
    return bytesRead <= STORED_ANSWER_MAX_BYTES && text.startsWith(`${token}.`) && /^[A-Za-z0-9_.-]+$/.test(text) ? text : undefined;
  } catch {
    return undefined;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

export class AcmeStorage {
  constructor(
    readonly dir: string,
    private readonly domains: readonly string[],
  ) {}

  /** Creates the directory (0700) if needed and checks that it can be written: throws AcmeStorageError. */
  prepare(): void {
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fs.accessSync(this.dir, fs.constants.W_OK | fs.constants.R_OK | fs.constants.X_OK);
    } catch (err) {
      // mkdir's EEXIST with recursive: the path is there and is not a directory.
      const notDir = (err as NodeJS.ErrnoException).code === 'EEXIST' ? Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }) : err;
      throw storageError('write to the directory', this.dir, notDir);
    }
  }

  /** The account key (PEM), made by `create` and stored the first time. */
  async accountKey(create: () => Promise<string>): Promise<string> {
    const file = path.join(this.dir, ACCOUNT_KEY);
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storageError('read', file, err);
    }
    const key = await create();
    writeFileAtomic(file, key);
    return key;
  }

  read(onBad?: (message: string) => void): CertificatePair | null {
    return readStoredPair(this.dir, this.domains, onBad);
  }

  /** Stores a new key and chain; returns the pair as it now reads back. */
  write(key: string, chain: string): CertificatePair {
    const file = certificateFile(this.dir, this.domains);
    writeFileAtomic(file, `${key.trim()}\n${chain.trim()}\n`);
    return readPair(file, file);
  }

  /** Stores the answer for `token` for every host sharing the directory; throws AcmeStorageError. */
  publishAnswer(token: string, keyAuthorization: string): void {
    const file = answerFile(this.dir, token);
    if (file === null) throw new AcmeStorageError(`acmeStorage: refusing to store the answer of a malformed token ${JSON.stringify(token.slice(0, 80))}`);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw storageError('create the folder', path.dirname(file), err);
    }
    writeFileAtomic(file, keyAuthorization);
  }

  /** Removes the stored answer for `token` (none there: nothing to do); throws AcmeStorageError. */
  withdrawAnswer(token: string): void {
    const file = answerFile(this.dir, token);
    if (file === null) return;
    try {
      fs.rmSync(file, { force: true });
    } catch (err) {
      throw storageError('remove', file, err);
    }
  }

  /**
   * Takes the ordering lock: a release function, or null while another host holds it. A
   * stale lock (older than `staleMs`) is removed and taken, and with it any stored answer
   * older than that: what a host that died while ordering left (its tokens are long spent).
   */
  lock(staleMs: number = LOCK_STALE_MS, now: number = Date.now()): (() => void) | null {
    const file = path.join(this.dir, `${this.domains[0]}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${JSON.stringify({ host: os.hostname(), pid: process.pid, at: new Date(now).toISOString() })}\n`, { flag: 'wx', mode: 0o600 });
        this.sweepAnswers(staleMs, now);
        return () => {
          try {
            fs.rmSync(file, { force: true });
          } catch (err) {
            throw storageError('remove the lock', file, err);
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storageError('create the lock', file, err);
      }
      if (!isStale(file, staleMs, now)) return null;
      fs.rmSync(file, { force: true });
    }
    return null;
  }

  /** Removes stored answers older than `staleMs` (best effort: one that cannot go is harmless). */
  private sweepAnswers(staleMs: number, now: number): void {
    const dir = path.join(this.dir, CHALLENGES);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return; // no answer was ever stored
    }
    for (const name of names) {
      const answer = path.join(dir, name);
      try {
        if (isStale(answer, staleMs, now)) fs.rmSync(answer, { force: true });
      } catch {
        // left for the next sweep: the lock is what matters here
      }
    }
  }
}

function isStale(file: string, staleMs: number, now: number): boolean {
  try {
    return now - fs.statSync(file).mtimeMs > staleMs;
  } catch {
    return true; // gone meanwhile: free
  }
}

/** The stored certificate as the set a listener serves, or null while there is none (a serving process reads it at start and when told). */
export function storedCertificateSet(config: { acmeStorage: string; acmeDomains: readonly string[] }): CertificateSet | null {
  const pair = readStoredPair(config.acmeStorage, config.acmeDomains);
  return pair === null || pair.info.notAfter.getTime() <= Date.now() ? null : { defaultPair: pair, sniPairs: [] };
}
