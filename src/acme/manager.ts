/**
 * The certificate of acmeDomains over its life, in the process that owns ACME (the primary,
 * or the single process): served from storage when a valid one is there, ordered when there
 * is none, renewed at two thirds of its lifetime (a little earlier by a random jitter, so that
 * hosts and restarts spread their orders), and after a failed order tried again with a
 * doubling back-off from acmeRetryMinMs, never giving up, the certificate in force kept all
 * the while. Every attempt is logged.
 *
 * Where the CA offers ACME Renewal Information (RFC 9773), its suggested window decides
 * instead: a moment chosen at random in it, asked again when the CA's Retry-After says (at
 * most every RENEWAL_INFO_MAX_MS); without an answer, two thirds of the lifetime stands.
 *
 * Hosts sharing the storage: an order is placed only under the storage's lock, and the
 * stored certificate is read again once the lock is held — a host that finds it renewed by
 * another takes it instead of ordering. Each host also checks the storage every
 * min(acmeRetryMinMs, a minute), so a certificate another host stored is in force within
 * that time.
 */
import { messageOf } from '../errors';
import type { Logger } from '../logs/logger';
import type { CertificatePair } from '../tls/certificates';
import type { ChallengePublisher, Issued } from './order';
import { timeInWindow, type RenewalWindow } from './renewal-info';
import type { AcmeSettings } from './settings';
import type { AcmeStorage } from './storage';

/** The longest back-off between two failed orders. */
export const RETRY_MAX_MS = 24 * 3600 * 1000;
/** The most a renewal is moved earlier, as a share of the lifetime. */
const JITTER_SHARE = 1 / 20;
/** How long a renewal window is kept before it is asked for again (RFC 9773 suggests a few hours). */
export const RENEWAL_INFO_MAX_MS = 6 * 3600 * 1000;
/** The least wait before renewal information is asked for again, whatever Retry-After says. */
const RENEWAL_INFO_MIN_MS = 60_000;
/** setTimeout's longest delay; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export type RenewalResult = 'success' | 'failure';

export interface ManagerOptions {
  settings: Pick<AcmeSettings, 'acmeDomains' | 'acmeRetryMinMs'>;
  storage: Pick<AcmeStorage, 'prepare' | 'read' | 'write' | 'lock'>;
  log: Logger;
  publisher: ChallengePublisher;
  /** Places one order (order.ts's orderCertificate with the account, but for tests). */
  order: (publisher: ChallengePublisher) => Promise<Issued>;
  /** A new certificate is in storage and in force here: the serving processes read it. */
  installed: (pair: CertificatePair) => void;
  /** Each order that ended. */
  counted: (result: RenewalResult) => void;
  /** The CA's suggested renewal window for a certificate (RFC 9773); null when it offers none. */
  renewalWindow?: (pair: CertificatePair) => Promise<RenewalWindow | null>;
  now?: () => number;
  random?: () => number;
}

/** When a certificate is due for renewal: two thirds of its lifetime, less up to a twentieth of it. */
export function renewalDue(pair: CertificatePair, random: number): number {
  const from = pair.info.notBefore.getTime();
  const lifetime = pair.info.notAfter.getTime() - from;
  return from + (lifetime * 2) / 3 - lifetime * JITTER_SHARE * random;
}

/** The wait after the `failures`-th failed order in a row: acmeRetryMinMs, doubling, at most a day. */
export function retryDelay(minMs: number, failures: number): number {
  return Math.min(minMs * 2 ** Math.max(0, failures - 1), RETRY_MAX_MS);
}

export class CertificateManager {
  private current: CertificatePair | null = null;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private watcher: NodeJS.Timeout | null = null;
  private infoTimer: NodeJS.Timeout | null = null;
  private ordering = false;
  private stopped = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly o: ManagerOptions) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  /** The certificate in force (null: none yet). */
  get pair(): CertificatePair | null {
    return this.current;
  }

  /** Takes a valid stored certificate, or orders one now; then watches the storage. */
  start(): void {
    const stored = this.readValid();
    if (stored !== null) {
      this.current = stored;
      this.o.log.info({ domains: this.o.settings.acmeDomains, notAfter: stored.info.notAfter.toISOString() }, `ACME: serving the stored certificate for ${this.names()} (expires ${stored.info.notAfter.toISOString()})`);
      this.scheduleRenewal();
    } else {
      this.at(0, () => void this.attempt());
    }
    const every = Math.min(this.o.settings.acmeRetryMinMs, 60_000);
    this.watcher = setInterval(() => this.adoptNewer(), every);
    this.watcher.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.watcher !== null) clearInterval(this.watcher);
    if (this.infoTimer !== null) clearTimeout(this.infoTimer);
  }

  /** One attempt: under the lock, the stored certificate if another host renewed it, else an order. */
  async attempt(): Promise<void> {
    if (this.ordering || this.stopped) return;
    this.ordering = true;
    const attempt = this.failures + 1;
    let release: (() => void) | null = null;
    try {
      this.o.storage.prepare();
      release = this.o.storage.lock();
      if (release === null) {
        this.o.log.info(`ACME: another host is ordering the certificate for ${this.names()} (the storage's lock is taken); checking the storage again`);
        this.scheduleRetry(false);
        return;
      }
      if (this.adoptNewer()) return;
      this.o.log.info({ domains: this.o.settings.acmeDomains, attempt }, `ACME: ordering a certificate for ${this.names()} (attempt ${attempt})`);
      const issued = await this.o.order(this.o.publisher);
      const pair = this.o.storage.write(issued.key, issued.chain);
      this.o.counted('success');
      this.failures = 0;
      this.o.log.info({ domains: this.o.settings.acmeDomains, notAfter: pair.info.notAfter.toISOString() }, `ACME: certificate for ${this.names()} obtained (expires ${pair.info.notAfter.toISOString()})`);
      this.install(pair);
    } catch (err) {
      this.failed(err);
    } finally {
      this.release(release);
      this.ordering = false;
    }
  }

  /**
   * Gives the storage's lock back. A storage that went bad meanwhile (its directory replaced,
   * unmounted) may refuse: logged, never thrown — thrown from the attempt's finally it would
   * end the process. The lock left behind is taken over once stale.
   */
  private release(release: (() => void) | null): void {
    try {
      release?.();
    } catch (err) {
      const reason = messageOf(err);
      this.o.log.warn({ reason }, `ACME: the storage's lock could not be removed (${reason}); other hosts take it over once it is stale`);
    }
  }

  private failed(err: unknown): void {
    this.o.counted('failure');
    this.failures++;
    const kept = this.current === null ? 'no certificate yet: TLS handshakes are refused' : `keeping the certificate in force (expires ${this.current.info.notAfter.toISOString()})`;
    const delay = retryDelay(this.o.settings.acmeRetryMinMs, this.failures);
    const reason = messageOf(err);
    this.o.log.error({ domains: this.o.settings.acmeDomains, attempt: this.failures, retryInMs: delay, reason }, `ACME: order for ${this.names()} failed (attempt ${this.failures}): ${reason}; ${kept}; trying again in ${Math.round(delay / 1000)} s`);
    this.scheduleRetry(true);
  }

  /**
   * A valid stored certificate other than the one in force, later than it (another host's
   * renewal, or ours from before a restart), put in force (its renewal scheduled anew). True
   * when one was: nothing to order now. Not "whether the certificate in force is due": an
   * attempt only ever runs when it is (its timer, a retry), and a timer may fire a few ms
   * before the wall clock says so (libuv measures from the loop's cached time) — compared,
   * such a renewal was taken for not due and dropped, and the certificate expired.
   */
  private adoptNewer(): boolean {
    if (this.stopped) return false;
    const stored = this.readValid();
    if (stored === null) return false;
    const newer = this.current === null || (stored.info.fingerprint256 !== this.current.info.fingerprint256 && stored.info.notAfter > this.current.info.notAfter);
    if (!newer) return false;
    this.o.log.info({ notAfter: stored.info.notAfter.toISOString() }, `ACME: the stored certificate for ${this.names()} is newer (expires ${stored.info.notAfter.toISOString()}); serving it`);
    this.failures = 0;
    this.install(stored);
    return true;
  }

  private install(pair: CertificatePair): void {
    this.current = pair;
    this.o.installed(pair);
    this.scheduleRenewal();
  }

  /** A stored certificate that covers every name and has not expired; null otherwise. */
  private readValid(): CertificatePair | null {
    let stored: CertificatePair | null;
    try {
      stored = this.o.storage.read((message) => this.o.log.warn(`ACME: the stored certificate cannot be served (${message}); a new one will be ordered`));
    } catch (err) {
      this.o.log.warn({ err }, 'ACME: the storage cannot be read');
      return null;
    }
    if (stored === null) return null;
    const names = new Set(stored.info.dnsNames);
    if (!this.o.settings.acmeDomains.every((d) => names.has(d))) return null;
    return stored.info.notAfter.getTime() > this.now() ? stored : null;
  }

  private scheduleRenewal(): void {
    if (this.current === null) return;
    const due = renewalDue(this.current, this.random());
    this.at(Math.max(0, due - this.now()), () => void this.attempt());
    this.askRenewalWindow(this.current);
  }

  /** The CA's renewal window for `pair` (RFC 9773), when it offers one: the renewal moves into it. */
  private askRenewalWindow(pair: CertificatePair): void {
    if (this.infoTimer !== null) clearTimeout(this.infoTimer);
    this.infoTimer = null;
    const ask = this.o.renewalWindow;
    if (ask === undefined || this.stopped) return;
    ask(pair).then(
      (window) => {
        if (window === null || this.stopped || this.current !== pair || this.ordering || this.failures > 0) return; // a retry's back-off stands
        const at = timeInWindow(window, this.random());
        this.o.log.info({ windowStart: new Date(window.start).toISOString(), windowEnd: new Date(window.end).toISOString(), renewAt: new Date(at).toISOString() }, `ACME: the CA suggests renewing the certificate for ${this.names()} between ${new Date(window.start).toISOString()} and ${new Date(window.end).toISOString()}; renewing at ${new Date(at).toISOString()}`);
        this.at(Math.max(0, at - this.now()), () => void this.attempt());
        const again = Math.min(Math.max(window.retryAfterMs ?? RENEWAL_INFO_MAX_MS, RENEWAL_INFO_MIN_MS), RENEWAL_INFO_MAX_MS);
        if (at - this.now() > again) {
          this.infoTimer = setTimeout(() => this.askRenewalWindow(pair), again);
          this.infoTimer.unref();
        }
      },
      (err: unknown) => {
        if (this.stopped) return;
        const reason = messageOf(err);
        this.o.log.warn({ reason }, `ACME: renewal information for ${this.names()} could not be read (${reason}); renewing at two thirds of the lifetime`);
      },
    );
  }

  /** After a failure (`failed`: the back-off grows) or a lock held elsewhere (the first step). */
  private scheduleRetry(failed: boolean): void {
    this.at(failed ? retryDelay(this.o.settings.acmeRetryMinMs, this.failures) : this.o.settings.acmeRetryMinMs, () => void this.attempt());
  }

  /** Runs `fn` in `ms` (chained past setTimeout's limit), replacing what was scheduled. */
  private at(ms: number, fn: () => void): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.stopped) return;
    const step = Math.min(ms, MAX_TIMER_MS);
    this.timer = setTimeout(() => (step < ms ? this.at(ms - step, fn) : fn()), step);
    this.timer.unref();
  }

  private names(): string {
    return this.o.settings.acmeDomains.join(', ');
  }
}
