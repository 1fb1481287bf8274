/**
 * Apache htpasswd files: `user:hash` lines, as `htpasswd -B` writes them. Only bcrypt
 * (`$2y$`, also `$2a$` and `$2b$`) is accepted; the weak formats htpasswd can also write
 * (MD5 `$apr1$`, SHA-1 `{SHA}`, DES crypt, plain text) and the crypt(3) ones we cannot
 * check are refused with the line and the user, so a file is never half-used.
 *
 * parseHtpasswd is pure; readHtpasswdFile is the edge that reads the file (at start-up and on
 * each reload, never per request). Neither loads bcrypt: the primary validates files too.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

/** The users of one file, and what identifies this version of it. */
export interface Htpasswd {
  /** User → bcrypt hash. */
  users: Map<string, string>;
  /** A hash of the file's bytes: cached checks are only good for the version they were made with. */
  version: string;
  /**
   * A real hash of the file (its first user's) that an unknown user's password is compared
   * with and then ignored: an unknown user costs what a known one costs.
   */
  dummyHash: string;
}

/** What is wrong with a file, where: `line` is 1-based (0: the file as a whole). */
export interface HtpasswdProblem {
  line: number;
  user: string;
  problem: string;
}

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
/** The costs `htpasswd -B -C` accepts. Pure-JS bcrypt takes about 4 ms at 5 and 90 ms at 10. */
const MIN_COST = 4;
const MAX_COST = 17;

/** What kind of hash that is not bcrypt `hash` is, in words, with the htpasswd option that writes it. */
function otherFormat(hash: string): string {
  if (hash.startsWith('$2')) return 'a malformed bcrypt hash';
  if (hash.startsWith('$apr1$')) return 'an MD5 hash ($apr1$, htpasswd -m), which is weak';
  if (hash.startsWith('{SHA}')) return 'a SHA-1 hash ({SHA}, htpasswd -s), which is weak';
  if (hash.startsWith('$1$')) return 'an MD5-crypt hash ($1$), which is weak';
  if (hash.startsWith('$5$')) return 'a SHA-256-crypt hash ($5$, htpasswd -2), which is not supported';
  if (hash.startsWith('$6$')) return 'a SHA-512-crypt hash ($6$, htpasswd -5), which is not supported';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'a DES crypt hash (htpasswd -d), which is weak';
  return 'a plain-text password or an unknown format';
}

/**
 * The users of an htpasswd file's text, or its first problem. Blank lines and lines starting
 * with "#" are skipped (as Apache does); a user is everything before the first ":", and
 * trailing spaces after a hash are dropped. Refused: a line without ":", an empty user, a user
 * given twice, any hash that is not bcrypt with a cost from 4 to 17, and a file without users.
 */
export function parseHtpasswd(text: string): { users: Map<string, string> } | HtpasswdProblem {
  const users = new Map<string, string>();
  const lineOf = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const n = i + 1;
    const colon = line.indexOf(':');
    if (colon === -1) return { line: n, user: '', problem: 'not of the form user:hash' };
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1).replace(/[ \t]+$/, '');
    if (user === '') return { line: n, user, problem: 'the user name is empty' };
    if (/[\0-\x1f\x7f]/.test(user)) return { line: n, user, problem: 'the user name holds a control character' };
    const first = lineOf.get(user);
    if (first !== undefined) return { line: n, user, problem: `the user is given twice (first on line ${first})` };
    const m = BCRYPT.exec(hash);
    if (m === null) return { line: n, user, problem: `${otherFormat(hash)}: only bcrypt is accepted (htpasswd -B)` };
    const cost = Number(m[1]);
    if (cost < MIN_COST || cost > MAX_COST) return { line: n, user, problem: `bcrypt cost ${cost} is outside ${MIN_COST} to ${MAX_COST}` };
    users.set(user, hash);
    lineOf.set(user, n);
  }
  if (users.size === 0) return { line: 0, user: '', problem: 'no users (add one with htpasswd -B)' };
  return { users };
}

/** One line about a problem of `file`: "FILE line 3 (user "carol"): ...". */
export function describeProblem(file: string, p: HtpasswdProblem): string {
  if (p.line === 0) return `${file} has ${p.problem}`;
  return `${file} line ${p.line}${p.user === '' ? '' : ` (user ${JSON.stringify(p.user)})`}: ${p.problem}`;
}

/** A file that cannot be used: the message says which and why, in one line. */
export class HtpasswdError extends Error {}

/** Reads and parses an htpasswd file (absolute path); HtpasswdError when it cannot be read or used. */
export function readHtpasswdFile(file: string): Htpasswd {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HtpasswdError(code === 'EISDIR' ? `${file} is a directory` : `cannot read ${file}: ${code ?? (err as Error).message}`);
  }
  const parsed = parseHtpasswd(bytes.toString('utf8'));
  if (!('users' in parsed)) throw new HtpasswdError(describeProblem(file, parsed));
  const version = crypto.createHash('sha256').update(bytes).digest('base64url');
  return { users: parsed.users, version, dummyHash: parsed.users.values().next().value! };
}
