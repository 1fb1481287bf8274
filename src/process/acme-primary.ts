/**
 * ACME in the primary: one manager for the cluster (one account, one order per set of
 * names), its HTTP-01 answers and TLS-ALPN-01 certificates handed to every worker over IPC and the new certificate
 * announced to them, so each reads it from storage and serves it to new connections in
 * place (no restart, connections kept). A worker forked while an order is under way (a
 * reload's, a crash's replacement) gets the pending HTTP-01 answers in its environment, and
 * once it listens (when it surely hears messages) every answer again, every pending
 * TLS-ALPN-01 certificate and the certificate's news.
 */
import type { Worker } from 'node:cluster';
import { ChallengeAnswers } from '../acme/answers';
import type { ChallengePublisher } from '../acme/order';
import type { AcmeChallengePair } from '../tls/alpn-challenge';
import type { Config } from '../config/config';
import type { Logger } from '../logs/logger';
import type { PrimaryCounters } from '../metrics/counters';
import type { WorkerPool } from './worker-pool';

/** How long an answer waits for the workers' channels to take it before the CA is told to check. */
const PUBLISH_TIMEOUT_MS = 5000;

export class PrimaryAcme {
  readonly answers = new ChallengeAnswers();
  /** TLS-ALPN-01 certificates pending, by server name. */
  private readonly alpn = new Map<string, AcmeChallengePair>();

  constructor(private readonly pool: WorkerPool) {}

  /** Starts the manager (config has acmeDomains). */
  start(config: Config, log: Logger, counters: PrimaryCounters): void {
    // Loaded only with ACME on: the ACME client and its libraries weigh 26 MiB and a quarter second.
    const { startAcme } = require('../acme/start') as typeof import('../acme/start');
    startAcme(config, log, this.publisher(), {
      installed: () => this.broadcast(() => ({ cmd: 'acme-certificate' })),
      counted: (result) => counters.acmeRenewals[result]++,
    });
  }

  /** A worker listens: it hears messages now, so it gets every pending answer and reads the storage again. */
  workerListening(w: Worker): void {
    for (const [token, keyAuthorization] of Object.entries(this.answers.all())) this.pool.send(w, { cmd: 'acme-challenge', token, keyAuthorization });
    for (const [serverName, pair] of this.alpn) this.pool.send(w, { cmd: 'acme-alpn', serverName, pair });
    this.pool.send(w, { cmd: 'acme-certificate' });
  }

  private publisher(): ChallengePublisher {
    return {
      set: (token, keyAuthorization) => {
        this.answers.set(token, keyAuthorization);
        return this.broadcast(() => ({ cmd: 'acme-challenge', token, keyAuthorization }));
      },
      remove: (token) => {
        this.answers.remove(token);
        void this.broadcast(() => ({ cmd: 'acme-challenge', token, keyAuthorization: null }));
      },
      setAlpn: (serverName, pair) => {
        this.alpn.set(serverName, pair);
        return this.broadcast(() => ({ cmd: 'acme-alpn', serverName, pair }));
      },
      removeAlpn: (serverName) => {
        this.alpn.delete(serverName);
        void this.broadcast(() => ({ cmd: 'acme-alpn', serverName, pair: null }));
      },
    };
  }

  /** Sends to every worker alive; resolves once each message is written (or failed), PUBLISH_TIMEOUT_MS at most. */
  private broadcast(message: () => Parameters<WorkerPool['send']>[1]): Promise<void> {
    const workers = this.pool.list('alive');
    return new Promise((resolve) => {
      let left = workers.length;
      const timer = setTimeout(resolve, PUBLISH_TIMEOUT_MS);
      const done = () => {
        if (--left > 0) return;
        clearTimeout(timer);
        resolve();
      };
      if (left === 0) done();
      for (const w of workers) this.pool.send(w, message(), done);
    });
  }
}
