/**
 * ACME put together for the process that owns it (the primary, or the single process): the
 * CA's HTTPS client, the storage, the account key, the order, the manager. The caller says
 * where challenge answers go and what a new certificate in storage means to it.
 */
import type { Config } from '../config/config';
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
