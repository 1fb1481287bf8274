// ACME renewal and the bad inputs end to end against Debian's pebble: a short-lived
// certificate renewed under keep-alive load without a failed request, the CA down during a
// renewal (the old certificate kept and served, retries logged), a name the CA refuses, a
// storage directory that cannot be written, and a directory that answers errors.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { scrape, valueOf } from '../fixtures/ops';
import { pebbleSkip, startPebble } from '../fixtures/pebble';
import { makeSite, startServer, type LogLine, type Server } from '../fixtures/server';
import { freePort } from '../fixtures/wire';

const NAME = 'acme.test';
/** Pebble's certificate lifetime here: renewed at two thirds, 20 s, less up to 1.5 s of jitter. */
const VALIDITY_S = 30;

const msg = (l: LogLine) => String(l.msg ?? '');

function storageDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-acme-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'store');
}

interface StartOptions {
  httpPort: number;
  directory: string;
  caFile?: string;
  storage: string;
  metricsPort?: number;
  workers?: number;
  domain?: string;
}

function start(t: Test, o: StartOptions): Promise<Server> {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const args = ['--acme-domains', o.domain ?? NAME, '--acme-directory', o.directory, '--acme-storage', o.storage, '--http-port', String(o.httpPort), '--acme-retry-min-ms', '1000', '--access-log', 'false'];
  if (o.caFile !== undefined) args.push('--acme-ca-file', o.caFile);
  if (o.metricsPort !== undefined) args.push('--metrics-port', String(o.metricsPort));
  return startServer(t, { root, workers: o.workers ?? 2, args });
}

function health(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

/** The certificate a new connection to the TLS port gets for NAME. */
function served(port: number): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: NAME, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate());
      s.end();
    });
    s.on('error', reject);
    s.setTimeout(3000, () => s.destroy(new Error('handshake timed out')));
  });
}

/** How many log lines start with `prefix`. */
const count = (s: Server, prefix: string) => s.logs.filter((l) => msg(l).startsWith(prefix)).length;

/** Waits until `n` log lines start with `prefix`. */
async function waitForCount(s: Server, prefix: string, n: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (count(s, prefix) < n) {
    if (Date.now() > until) throw new Error(`${count(s, prefix)} of ${n} log lines "${prefix}" within ${timeoutMs} ms:\n${s.logs.map(msg).join('\n')}\n${s.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface LoadResult {
  ok: number;
  failures: string[];
  /** Requests sent on a reused connection the server had closed before any byte came back (retried, RFC 9112 §9.3.1). */
  retriedReused: number;
  /** The certificates the load's connections were served (fingerprints). */
  fingerprints: Set<string>;
}

/**
 * `clients` HTTPS keep-alive clients, each on its own agent with one socket, sending GET /
 * one after another until stop() resolves their result. Any error or other answer than
 * 200 "hi\n" is a failure.
 */
function keepAliveLoad(t: Test, port: number, clients: number): { stop(): Promise<LoadResult> } {
  const result: LoadResult = { ok: 0, failures: [], retriedReused: 0, fingerprints: new Set() };
  let stopping = false;
  const one = (agent: https.Agent) =>
    new Promise<void>((resolve) => {
      const req = https.get({ host: '127.0.0.1', port, path: '/', servername: NAME, rejectUnauthorized: false, agent }, (res) => {
        const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
        if (cert.fingerprint256) result.fingerprints.add(cert.fingerprint256);
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () => {
          if (res.statusCode === 200 && body === 'hi\n') result.ok++;
          else result.failures.push(`${res.statusCode}: ${body.slice(0, 80)}`);
          resolve();
        });
        res.on('error', (err) => (result.failures.push(`response: ${err.message}`), resolve()));
      });
      req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
      req.on('error', (err) => {
        if (req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') result.retriedReused++;
        else result.failures.push(`request: ${err.message}`);
        resolve();
      });
    });
  const loops = Array.from({ length: clients }, async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    // A short pause between requests: a steady load on two shared cores, not a flood.
    while (!stopping) {
      await one(agent);
      await new Promise((r) => setTimeout(r, 2));
    }
    agent.destroy();
  });
  t.teardown(() => (stopping = true));
  return {
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return result;
    },
  };
}

t.test('a short-lived certificate renewed under keep-alive load, no request failed', { skip: pebbleSkip, timeout: 60_000 }, async (t) => {
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  const pebble = await startPebble(t, { httpPort, validitySeconds: VALIDITY_S });
  const s = await start(t, { httpPort, directory: pebble.directory, caFile: pebble.caFile, storage: storageDir(t), metricsPort });
  const obtained = `ACME: certificate for ${NAME} obtained`;
  const servedNew = `ACME: serving the new certificate for ${NAME}`;
  await waitForCount(s, servedNew, 2, 30_000); // both workers
  const first = await served(s.port);
  const load = keepAliveLoad(t, s.port, 4);
  // Renewal is due at two thirds of 30 s; the second certificate is then read by both workers.
  await waitForCount(s, obtained, 2, 30_000);
  await waitForCount(s, servedNew, 4, 5000);
  await new Promise((r) => setTimeout(r, 500)); // the load goes on over the new certificate
  const result = await load.stop();
  t.same(result.failures, [], 'no request failed');
  t.ok(result.ok > 100, `requests answered all along (${result.ok}; ${result.retriedReused} retried on a reused connection)`);
  t.ok(result.fingerprints.has(first.fingerprint256), 'the load ran on the first certificate');

  const second = await served(s.port);
  t.not(second.fingerprint256, first.fingerprint256, 'a new connection gets the new certificate');
  t.ok(Date.parse(second.valid_to) > Date.parse(first.valid_to), `it expires later (${second.valid_to} after ${first.valid_to})`);
  t.equal(pebble.issued(), 2, 'two orders at the CA');
  t.equal(valueOf(await scrape(metricsPort), 'fleetserve_acme_renewals_total', { result: 'success' }), 2, 'two successful orders counted');
  t.same(await health(httpPort), { status: 200, body: 'ok\n' });
});

