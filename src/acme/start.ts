/**
 * ACME put together for the process that owns it (the primary, or the single process): the
 * CA's HTTPS client, the storage, the account key, the order, the manager. The caller says
 * where challenge answers go (its serving processes) and what a new certificate in storage
 * means to it; every answer also goes to the storage, for the hosts that share it.
 */
import type { Config } from '../config/config';
import { messageOf } from '../errors';
import type { Logger } from '../logs/logger';
import type { CertificatePair } from '../tls/certificates';
import { CertificateManager, type RenewalResult } from './manager';
import { caGet, configureCaClient, newAccountKey, orderCertificate, type ChallengePublisher } from './order';
import { fetchRenewalWindow } from './renewal-info';
import { AcmeStorage } from './storage';

export interface AcmeOutlets {
  installed(pair: CertificatePair): void;
  counted(result: RenewalResult): void;
}

export function startAcme(config: Config, log: Logger, publisher: ChallengePublisher, outlets: AcmeOutlets): CertificateManager {
  configureCaClient(config.acmeCaFile);
  const storage = new AcmeStorage(config.acmeStorage, config.acmeDomains);
  publisher = sharedPublisher(publisher, storage, log);
  const manager = new CertificateManager({
    settings: config,
    storage,
    log,
    publisher,
    order: async (p) => orderCertificate(config, await storage.accountKey(newAccountKey), p),
    installed: (pair) => outlets.installed(pair),
    counted: (result) => outlets.counted(result),
    renewalWindow: (pair) => fetchRenewalWindow(config.acmeDirectory, pair.cert, caGet),
  });
  manager.start();
  return manager;
}

/**
 * Behind a load balancer the CA's HTTP-01 check may reach any host sharing the storage, not
 * this one that orders: each answer is also written to the storage (before the CA is told to
 * check), where every host's plain-HTTP port looks for a token it does not know, and removed
 * with the in-memory one. A storage that cannot take it leaves this host's own answers: a
 * single host still proves the name.
 */
function sharedPublisher(inner: ChallengePublisher, storage: AcmeStorage, log: Logger): ChallengePublisher {
  const warn = (err: unknown, what: string) => {
    const reason = messageOf(err);
    log.warn({ reason }, `ACME: ${what} (${reason})`);
  };
  return {
    // TLS-ALPN-01 answers pass through as they are (each host answers its own handshakes).
    setAlpn: (serverName, pair) => inner.setAlpn(serverName, pair),
    removeAlpn: (serverName) => inner.removeAlpn(serverName),
    set: async (token, keyAuthorization) => {
      try {
        storage.publishAnswer(token, keyAuthorization);
      } catch (err) {
        warn(err, 'the HTTP-01 answer could not be stored for the other hosts; only this one can answer the CA');
      }
      await inner.set(token, keyAuthorization);
    },
    remove: (token) => {
      inner.remove(token);
      try {
        storage.withdrawAnswer(token);
      } catch (err) {
        warn(err, 'a stored HTTP-01 answer could not be removed');
      }
    },
  };
}
