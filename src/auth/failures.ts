/**
 * Failed Basic sign-ins per client: a limit, so the server is no free bcrypt oracle, and a
 * log that says what happened without a line per attempt.
 *
 * - Limit: a client with `maxFailures` failed (or still running) checks within `windowMs`
 *   of its first one gets 429 with Retry-After until that window ends, without a bcrypt
 *   check, right credentials included (remembered successes still pass: they cost nothing).
 * - Log: at most one warn line per client per `logEveryMs`, with the count since its last
 *   line; failures after a line are told by a timer once the period is over.
 *
 * A client is its address, or for IPv6 its /64 (one host usually has a whole /64). The book
 * holds at most `maxClients` of them, forgetting the oldest first.
 */
import net from 'node:net';

export interface FailureDetail {
  user: string;
  /** "unknown user", "wrong password", "malformed Authorization" */
  reason: string;
  /** The request-target's path, as sent. */
  path: string;
}

export interface FailureBookOptions {
  maxFailures: number;
  windowMs: number;
  logEveryMs: number;
  maxClients: number;
  now(): number;
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** The fixed limits; `logEveryMs` is the `basicAuthLogPeriodMs` key. */
export const FAILURE_LIMITS = { maxFailures: 10, windowMs: 60_000, maxClients: 10_000 } as const;

interface ClientRecord {
  windowStart: number;
  failures: number;
  checking: number;
  loggedAt: number;
  unlogged: number;
  last: FailureDetail | null;
}

/** The client a remote address counts as: IPv4 (also IPv4-mapped) as is, IPv6 as its /64. */
export function clientOf(remote: string): string {
  if (net.isIPv4(remote) || !net.isIPv6(remote)) return remote;
  if (remote.toLowerCase().startsWith('::ffff:') && net.isIPv4(remote.slice(7))) return remote.slice(7);
  const [head, tail = ''] = remote.split('::');
  const left = head === '' ? [] : head!.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = remote.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export class FailureBook {
  private readonly clients = new Map<string, ClientRecord>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: FailureBookOptions) {}

  /** Milliseconds before `client` may be checked again, 0 when it may now. */
  retryAfterMs(client: string): number {
    const r = this.clients.get(client);
    if (r === undefined) return 0;
    const left = r.windowStart + this.opts.windowMs - this.opts.now();
    return left > 0 && r.failures + r.checking >= this.opts.maxFailures ? left : 0;
  }

  /** A bcrypt check for `client` starts: it counts against the limit until it ends. */
  checkStarted(client: string): void {
    this.record(client).checking++;
  }

  /** A check ended; `failure` says why it failed, null when it passed. */
  checkEnded(client: string, failure: FailureDetail | null): void {
    const r = this.record(client);
    r.checking = Math.max(0, r.checking - 1);
    if (failure !== null) this.failed(client, failure);
  }

  /** A failure without a check (a malformed field), or the end of a failed check. */
  failed(client: string, detail: FailureDetail): void {
    const r = this.record(client);
    r.failures++;
    r.unlogged++;
    r.last = detail;
    if (this.opts.now() - r.loggedAt >= this.opts.logEveryMs) this.logLine(client, r);
    else this.armTimer();
  }

  /** The client's record, its window restarted when the last one is over. */
  private record(client: string): ClientRecord {
    const now = this.opts.now();
    let r = this.clients.get(client);
    if (r === undefined) {
      if (this.clients.size >= this.opts.maxClients) this.clients.delete(this.clients.keys().next().value!);
      r = { windowStart: now, failures: 0, checking: 0, loggedAt: -Infinity, unlogged: 0, last: null };
      this.clients.set(client, r);
    } else if (now - r.windowStart >= this.opts.windowMs) {
      r.windowStart = now;
      r.failures = 0;
    }
    return r;
  }

  private logLine(client: string, r: ClientRecord): void {
    const last = r.last!;
    const n = r.unlogged;
    this.opts.warn(
      { remote: client, failures: n, user: last.user, reason: last.reason, path: last.path },
      `basic auth: ${n} failed sign-in${n === 1 ? '' : 's'} from ${client} (last: user ${JSON.stringify(last.user)}, ${last.reason}, ${last.path})`,
    );
    r.loggedAt = this.opts.now();
    r.unlogged = 0;
  }

  /** One timer for the whole book: it tells the failures whose period is over, then sleeps again. */
  private armTimer(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = this.opts.now();
      let waiting = false;
      for (const [client, r] of this.clients) {
        if (r.unlogged === 0) continue;
        if (now - r.loggedAt >= this.opts.logEveryMs) this.logLine(client, r);
        else waiting = true;
      }
      if (waiting) this.armTimer();
    }, this.nextDueMs());
    // Never what keeps a process alive: a worker that is draining exits without it.
    this.timer.unref();
  }

  private nextDueMs(): number {
    let due = Infinity;
    for (const r of this.clients.values()) if (r.unlogged > 0) due = Math.min(due, r.loggedAt + this.opts.logEveryMs);
    return Math.max(1, Math.min(this.opts.logEveryMs, due - this.opts.now()));
  }
}
