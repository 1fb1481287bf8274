/**
 * One ACME order (RFC 8555 §7.4) for a set of names, driven step by step with acme-client's
 * Client: the account (created once, found again by its key), the order, one challenge per
 * authorization — the first type of acmeChallenge the CA offers for it: HTTP-01 (its answer
 * published to every process that serves httpPort) or TLS-ALPN-01 (a challenge certificate
 * published to every process that serves the TLS port), published before the CA is told to
 * check it and withdrawn after — the CSR with a fresh ECDSA P-256 key,
 * the finalization and the chain. acme-client's auto() is not used: it checks each challenge
 * itself over the system's DNS first, which cannot work for a name that only the CA's
 * resolver knows, and hangs offline. acme-client retries badNonce answers (pebble sends one
 * for 5% of requests on purpose) by itself.
 */
import https from 'node:https';
import fs from 'node:fs';
import tls from 'node:tls';
import * as acme from 'acme-client';
import type { AcmeChallengeType } from '../config/schema';
import type { AcmeChallengePair } from '../tls/alpn-challenge';
import { explainCaAnswers, isProblem } from './ca-answers';
import type { AcmeSettings } from './settings';

/** Where a challenge's answer is published: each set resolves once every serving process has it. */
export interface ChallengePublisher {
  /** HTTP-01: the key authorization served at /.well-known/acme-challenge/TOKEN on httpPort. */
  set(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): void;
  /** TLS-ALPN-01: the challenge certificate an acme-tls/1 handshake for serverName gets. */
  setAlpn(serverName: string, pair: AcmeChallengePair): Promise<void>;
  removeAlpn(serverName: string): void;
}

/** What an order gives: the certificate's key and its chain (PEM). */
export interface Issued {
  key: string;
  chain: string;
}

export type OrderSettings = Pick<AcmeSettings, 'acmeDomains' | 'acmeEmail' | 'acmeDirectory' | 'acmeCaFile' | 'acmeChallenge'>;

/** How long one request to the CA may take. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * acme-client's HTTP client for the CA: the system's CAs and acmeCaFile trusted, a bound on
 * each request, and no retries of its own (a failed order is tried again by the manager's
 * back-off, which logs every attempt; acme-client's would wait silently for up to a minute).
 */
export function configureCaClient(caFile: string): void {
  const ca = caFile === '' ? undefined : [...tls.rootCertificates, fs.readFileSync(caFile, 'utf8')];
  acme.axios.defaults.httpsAgent = new https.Agent({ ca, keepAlive: false });
  acme.axios.defaults.timeout = REQUEST_TIMEOUT_MS;
  (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
  explainCaAnswers(acme.axios);
}

/** A GET to the CA through the same client (trust, timeout), any status answered, JSON parsed. */
export async function caGet(url: string): Promise<{ status: number; data: unknown; headers: Record<string, unknown> }> {
  const res = await acme.axios.get(url, { validateStatus: () => true });
  return { status: res.status, data: res.data as unknown, headers: res.headers as Record<string, unknown> };
}

export function newAccountKey(): Promise<string> {
  return acme.crypto.createPrivateEcdsaKey('P-256').then((k) => k.toString());
}

/** Orders a certificate for s.acmeDomains with the account of `accountKey`. */
export async function orderCertificate(s: OrderSettings, accountKey: string, publisher: ChallengePublisher): Promise<Issued> {
  // Polls of a pending challenge or order: from half a second, up to 10 s apart, about 2 minutes in all.
  const client = new acme.Client({ directoryUrl: s.acmeDirectory, accountKey, backoffAttempts: 15, backoffMin: 500, backoffMax: 10_000 });
  await useAccount(client, s);
  const order = await client.createOrder({ identifiers: s.acmeDomains.map((value) => ({ type: 'dns', value })) });
  for (const authz of await client.getAuthorizations(order)) await prove(client, authz, s.acmeChallenge, publisher);
  const [key, csr] = await acme.crypto.createCsr({ commonName: s.acmeDomains[0], altNames: [...s.acmeDomains] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
  const finalized = await client.finalizeOrder(order, csr);
  const chain = await client.getCertificate(await client.waitForValidStatus(finalized));
  return { key: key.toString(), chain };
}

/**
 * The account of the client's key: found (RFC 8555 §7.3.1's onlyReturnExisting), or created
 * when the CA does not know the key. Not createAccount for both: for a key the CA knows,
 * acme-client follows it with an update of the same fields, which a CA may refuse (pebble
 * does: "Use POST-as-GET to retrieve account data instead of doing an empty update"), and
 * every order after the first — a renewal, another host of a shared storage — would fail.
 */
async function useAccount(client: acme.Client, s: OrderSettings): Promise<void> {
  try {
    await client.createAccount({ onlyReturnExisting: true });
  } catch (err) {
    if (!isProblem(err, 'accountDoesNotExist')) throw err;
    await client.createAccount({ termsOfServiceAgreed: true, ...(s.acmeEmail !== '' ? { contact: [`mailto:${s.acmeEmail}`] } : {}) });
  }
}

/**
 * The challenge of `authz` to answer: the first of `types` (acmeChallenge, in its order of
 * preference) that the CA offers; throws when it offers none of them.
 */
export function chooseChallenge<C extends { type: string }>(offered: readonly C[], types: readonly AcmeChallengeType[], name: string): C & { type: AcmeChallengeType } {
  for (const type of types) {
    const challenge = offered.find((c) => c.type === type);
    if (challenge !== undefined) return challenge as C & { type: AcmeChallengeType };
  }
  throw new Error(`the CA offers no ${types.join(' or ')} challenge for ${name} (it offers ${offered.map((c) => c.type).join(', ') || 'none'})`);
}

/** One authorization: its answer published, the CA asked to check, the answer withdrawn. */
async function prove(client: acme.Client, authz: acme.Authorization, types: readonly AcmeChallengeType[], publisher: ChallengePublisher): Promise<void> {
  if (authz.status === 'valid') return; // proven recently: the CA remembers it
  const name = authz.identifier.value;
  const challenge = chooseChallenge(authz.challenges, types, name);
  const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
  let withdraw: () => void;
  if (challenge.type === 'http-01') {
    await publisher.set(challenge.token, keyAuthorization);
    withdraw = () => publisher.remove(challenge.token);
  } else {
    // RFC 8737 §3: a self-signed certificate for the name carrying the key authorization's digest.
    const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
    await publisher.setAlpn(name, { cert: cert.toString(), key: key.toString() });
    withdraw = () => publisher.removeAlpn(name);
  }
  try {
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(challenge);
  } finally {
    withdraw();
  }
}
