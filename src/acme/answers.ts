/**
 * The HTTP-01 answers a serving process gives while an order is under way: the token the CA
 * asks for under /.well-known/acme-challenge/ and its key authorization (RFC 8555 §8.3).
 * The process that owns ACME sets and removes them (over IPC in a cluster); the plain-HTTP
 * port reads them before it looks for a file of that name.
 */

/** A token as the CA makes it: base64url, nothing that could name another path. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** Whether `token` is one the CA could have made (safe as a file name, too). */
export function isChallengeToken(token: string): boolean {
  return TOKEN.test(token);
}

export class ChallengeAnswers {
  private readonly byToken = new Map<string, string>();

  /** `initial`: the answers pending when this process was forked. */
  constructor(initial: Readonly<Record<string, string>> = {}) {
    for (const [token, answer] of Object.entries(initial)) this.set(token, answer);
  }

  set(token: string, keyAuthorization: string): void {
    if (isChallengeToken(token)) this.byToken.set(token, keyAuthorization);
  }

  remove(token: string): void {
    this.byToken.delete(token);
  }

  /** The key authorization for `token` (the last segment of the path), or undefined. */
  get(token: string): string | undefined {
    return this.byToken.get(token);
  }

  /** Every answer pending, for a process forked now. */
  all(): Record<string, string> {
    return Object.fromEntries(this.byToken);
  }
}
