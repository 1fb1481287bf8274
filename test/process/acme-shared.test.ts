// Several hosts sharing one acmeStorage (the HAProxy deployment), against one pebble: three
// fleetserve instances started together on an empty store place exactly one order, and one
// per renewal, and all serve the same certificate soon after. Pebble's HTTP-01 check goes
// through a TCP forwarder standing in for the load balancer, which sends every connection
// made while a host holds the storage's lock to another host: the order succeeds only if
// the host that orders stored its answer where the others find it. Pebble reuses no
// authorization here, so the renewal is validated that way too.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { pebbleSkip, startPebble } from '../fixtures/pebble';
import { makeSite, startServer, type Server } from '../fixtures/server';
import { freePort } from '../fixtures/wire';

const NAME = 'acme.test';
/** Pebble's certificateValidityPeriod: renewal at two thirds (less up to a twentieth) is about 19 s after issuance. */
const VALIDITY_S = 30;
/** One primary with a worker, one with two, one single process: every kind of process that owns ACME. */
const WORKERS = [1, 2, 0];

interface Host {
  server: Server;
  httpPort: number;
}

/** Who holds the storage's ordering lock now (the pid of the process that owns ACME), or null. */
function lockHolder(storage: string): number | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(storage, `${NAME}.lock`), 'utf8')) as { pid: number }).pid;
  } catch {
    return null;
  }
}

let next = 0;

/** The next host round robin that does not hold the lock; waits (5 s at most) for one to be listening. */
async function pickHost(hosts: () => Host[], storage: string): Promise<{ host: Host; holder: number | null } | null> {
  for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const holder = lockHolder(storage);
    const candidates = hosts().filter((h) => h.server.pid !== holder);
    if (candidates.length > 0) return { host: candidates[next++ % candidates.length]!, holder };
  }
  return null;
}

/**
 * The load balancer in front of the hosts' httpPorts, on the port pebble validates on: round
 * robin, skipping the host that holds the lock (it alone has the answer in memory). Each
 * connection made while the lock was held is recorded with where it went.
 */
async function forwarder(t: Test, port: number, hosts: () => Host[], storage: string): Promise<{ duringOrder: { holder: number; to: number }[] }> {
  const duringOrder: { holder: number; to: number }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.pause();
    void pickHost(hosts, storage).then((picked) => {
      if (picked === null) return client.destroy();
      if (picked.holder !== null) duringOrder.push({ holder: picked.holder, to: picked.host.server.pid });
      const upstream = net.connect(picked.host.httpPort, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { duringOrder };
}

/** The SHA-256 fingerprint of the certificate the TLS port serves for NAME, or null (no handshake). */
function servedFingerprint(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: NAME, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on('error', () => resolve(null));
    s.setTimeout(3000, () => (s.destroy(), resolve(null)));
  });
}

/** The fingerprint of the certificate in the storage (the first of its chain), in the TLS socket's notation. */
function storedFingerprint(storage: string): string {
  return new crypto.X509Certificate(fs.readFileSync(path.join(storage, `${NAME}.pem`))).fingerprint256;
}

/** Resolves once every host serves `fingerprint` (polled); rejects after `timeoutMs` saying what each served. */
async function allServe(hosts: Host[], fingerprint: string, timeoutMs: number): Promise<number> {
  const from = Date.now();
  let seen: (string | null)[] = [];
  while (Date.now() - from < timeoutMs) {
    seen = await Promise.all(hosts.map((h) => servedFingerprint(h.server.port)));
    if (seen.every((f) => f === fingerprint)) return Date.now() - from;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not every host serves ${fingerprint} within ${timeoutMs} ms: ${JSON.stringify(seen)}`);
}

/** Polls `done` every 100 ms; rejects naming `what` after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  for (const end = Date.now() + timeoutMs; !done(); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > end) throw new Error(`no ${what} within ${timeoutMs} ms`);
  }
}

const message = (l: { msg?: unknown }) => String(l.msg ?? '');
const orders = (hosts: Host[]) => hosts.map((h) => h.server.logs.filter((l) => message(l).startsWith(`ACME: ordering a certificate for ${NAME}`)).length);

t.test('three hosts on one store: one order at the CA, then one per renewal, every host serving it', { skip: pebbleSkip, timeout: 120_000 }, async (t) => {
  const balancerPort = await freePort();
  const pebble = await startPebble(t, { httpPort: balancerPort, validitySeconds: VALIDITY_S, authzReuse: 0 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-acme-shared-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const storage = path.join(dir, 'store');
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const listening: Host[] = []; // in the order they came up
  const balancer = await forwarder(t, balancerPort, () => listening, storage);

  // Started together on the empty store: each tries to order at once.
  const hosts = await Promise.all(
    WORKERS.map(async (workers) => {
      const httpPort = await freePort();
      const args = ['--acme-domains', NAME, '--acme-directory', pebble.directory, '--acme-ca-file', pebble.caFile, '--acme-storage', storage, '--http-port', String(httpPort), '--acme-retry-min-ms', '1000'];
      const host = { server: await startServer(t, { root, workers, args }), httpPort };
      listening.push(host);
      return host;
    }),
  );
  const obtainedLine = (l: { msg?: unknown }) => message(l).startsWith(`ACME: certificate for ${NAME} obtained`);
  await until(() => hosts.some((h) => h.server.logs.some(obtainedLine)), 30_000, 'a host obtained the certificate');
  const obtained = hosts.findIndex((h) => h.server.logs.some(obtainedLine));
  const first = storedFingerprint(storage);
  const took = await allServe(hosts, first, 10_000);
  t.pass(`every host serves the first certificate ${took} ms after it was obtained`);
  t.equal(pebble.issued(), 1, 'one order at the CA');
  t.same(orders(hosts), hosts.map((_, i) => (i === obtained ? 1 : 0)), 'placed by one host');
  t.ok(balancer.duringOrder.length > 0, "the CA's check came while the order was under way");
  t.ok(
    balancer.duringOrder.every((c) => c.to !== c.holder),
    'and reached a host other than the one ordering, which answered from the storage',
  );
  for (const [i, h] of hosts.entries()) {
    if (i === obtained) continue;
    const waited = h.server.logs.some((l) => /^ACME: another host is ordering the certificate for acme\.test|^ACME: the stored certificate for acme\.test is newer/.test(message(l)));
    t.ok(waited, `host ${i} waited for the other host and took its certificate from the storage`);
  }
  t.same(fs.readdirSync(path.join(storage, 'challenges')), [], 'the stored answer is removed after the check');

  // Renewal at about two thirds of the 30 s: one order again, wherever the jitter puts it first.
  const checksBefore = balancer.duringOrder.length;
  await until(() => pebble.issued() >= 2, VALIDITY_S * 1000, 'the renewal at the CA');
  t.equal(pebble.issued(), 2, 'the renewal: a second order at the CA');
  // The storage takes it a moment after the CA issued it.
  await until(() => storedFingerprint(storage) !== first, 5000, 'the renewed certificate in the storage');
  const renewed = storedFingerprint(storage);
  const tookRenewed = await allServe(hosts, renewed, 10_000);
  t.pass(`every host serves the renewed certificate ${tookRenewed} ms after it was stored`);
  t.equal(pebble.issued(), 2, 'still one order for the renewal');
  t.equal(
    orders(hosts).reduce((a, b) => a + b, 0),
    2,
    'two orders placed by all the hosts together',
  );
  const renewalChecks = balancer.duringOrder.slice(checksBefore);
  t.ok(renewalChecks.length > 0 && renewalChecks.every((c) => c.to !== c.holder), "the renewal's check, too, answered by a host that did not order", { renewalChecks, checksBefore, all: balancer.duringOrder, pebble: pebble.output().split('\n').filter((l) => /authz|valid|Pulled/i.test(l)).slice(-12) });
});
