/**
 * Checking Basic credentials against one htpasswd file with bcrypt, and remembering the
 * checks that succeeded.
 *
 * bcrypt in pure JavaScript (bcryptjs) costs milliseconds to seconds of CPU per check
 * (about 4 ms at htpasswd -B's cost 5, 90 ms at cost 10) and only yields to the event loop
 * every 100 ms. Browsers send the same Authorization field with every request, so a success
 * is remembered under an HMAC of the field value and the file's version (never the password
 * itself), with a key made per process: the next request on the connection costs one HMAC.
 * Failures are never remembered as successes; the limits on them are failures.ts's.
 */
import { compare as bcryptCompare } from 'bcryptjs';
import crypto from 'node:crypto';
import type { BasicCredentials } from './basic-auth';
import type { Htpasswd } from './htpasswd';

/** Most successful checks remembered per file (the oldest is forgotten first). */
const MAX_REMEMBERED = 1024;

export type Compare = (password: string, hash: string) => Promise<boolean>;

export class PasswordCheck {
  /** HMAC of a field value that passed → its user. */
  private readonly passed = new Map<string, string>();
  /** Checks under way, so that requests sent at once with the same field cost one bcrypt. */
  private readonly checking = new Map<string, Promise<string | null>>();
  private readonly hmacKey = crypto.randomBytes(32);

  constructor(
    private readonly file: Htpasswd,
    private readonly compare: Compare = bcryptCompare,
    private readonly maxRemembered = MAX_REMEMBERED,
  ) {}

  /** What a field value is remembered under: it identifies the value without holding it. */
  keyOf(fieldValue: string): string {
    return crypto.createHmac('sha256', this.hmacKey).update(this.file.version).update('\0').update(fieldValue).digest('base64url');
  }

  /** Whether the file has this user (for the log: an unknown user, or a wrong password). */
  hasUser(user: string): boolean {
    return this.file.users.has(user);
  }

  /** The user of a field value that passed before. */
  passedBefore(key: string): string | undefined {
    return this.passed.get(key);
  }

  /**
   * The user when the password is theirs, else null. An unknown user's password is compared
   * with a real hash of the file all the same, and the result dropped, so that the time taken
   * does not tell which users exist. bcryptjs compares the hashes in constant time.
   */
  verify(key: string, credentials: BasicCredentials): Promise<string | null> {
    let p = this.checking.get(key);
    if (p === undefined) {
      p = this.check(key, credentials).finally(() => this.checking.delete(key));
      this.checking.set(key, p);
    }
    return p;
  }

  private async check(key: string, { user, password }: BasicCredentials): Promise<string | null> {
    const hash = this.file.users.get(user);
    const matches = await this.compare(password, hash ?? this.file.dummyHash);
    if (hash === undefined || !matches) return null;
    if (this.passed.size >= this.maxRemembered) this.passed.delete(this.passed.keys().next().value!);
    this.passed.set(key, user);
    return user;
  }
}
