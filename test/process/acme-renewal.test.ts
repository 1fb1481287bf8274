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
import { makeTestPki } from '../fixtures/tls';
import { makeSite, spawnServer, startServer, type LogLine, type Server } from '../fixtures/server';
import { freePort } from '../fixtures/wire';

// Three tests wait for a renewal at two thirds of a 30–40 s certificate: about 80 s in all,
// beyond tap's 120 s per file on a loaded machine.
t.setTimeout(240_000);

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


/** The failure line of attempt `n`. */
const failedLine = (s: Server, n: number, timeoutMs = 10_000) => s.waitForLog((l) => msg(l).startsWith(`ACME: order for ${NAME} failed (attempt ${n})`), timeoutMs).then(msg);

t.test('the CA down during a renewal: the old certificate kept and served, retries logged, then renewed', { skip: pebbleSkip, timeout: 60_000 }, async (t) => {
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  const pebble = await startPebble(t, { httpPort, validitySeconds: 40 });
  const s = await start(t, { httpPort, directory: pebble.directory, caFile: pebble.caFile, storage: storageDir(t), metricsPort });
  await waitForCount(s, `ACME: serving the new certificate for ${NAME}`, 2, 30_000);
  const first = await served(s.port);
  await pebble.stop();
  // Due at two thirds of 40 s: about 26 s after issuance.
  const expires = new Date(first.valid_to).toISOString();
  t.match(await failedLine(s, 1, 35_000), `; keeping the certificate in force (expires ${expires}); trying again in 1 s`, 'the first failure keeps the certificate');
  const second = await failedLine(s, 2, 5000);
  t.match(second, /: the CA did not answer GET https:\/\/127\.0\.0\.1:\d+\/dir \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/, 'the log line says the CA is not reachable');
  t.match(second, /trying again in 2 s$/, 'the back-off doubles');
  t.equal((await served(s.port)).fingerprint256, first.fingerprint256, 'the old certificate is still served');
  t.same(await health(httpPort), { status: 200, body: 'ok\n' }, 'healthy: a valid certificate is in force');
  const during = await scrape(metricsPort);
  t.ok(valueOf(during, 'fleetserve_acme_renewals_total', { result: 'failure' }) >= 2, 'the failures counted');
  t.equal(valueOf(during, 'fleetserve_acme_renewals_total', { result: 'success' }), 1, 'the first order counted');

  // The CA back (with no memory of the account: pebble keeps it in memory only).
  await pebble.restart();
  await waitForCount(s, `ACME: certificate for ${NAME} obtained`, 2, 10_000);
  await waitForCount(s, `ACME: serving the new certificate for ${NAME}`, 4, 5000);
  const renewed = await served(s.port);
  t.not(renewed.fingerprint256, first.fingerprint256, 'renewed once the CA answers');
  t.ok(Date.parse(renewed.valid_to) > Date.parse(first.valid_to), 'the new certificate expires later');
  t.equal(valueOf(await scrape(metricsPort), 'fleetserve_acme_renewals_total', { result: 'success' }), 2);
  t.equal(s.proc.exitCode, null, 'still running');
});

t.test('a name the CA refuses: its reason logged, health 503, failures counted, retried', { skip: pebbleSkip, timeout: 30_000 }, async (t) => {
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  const pebble = await startPebble(t, { httpPort, domainBlocklist: [NAME] });
  const s = await start(t, { httpPort, directory: pebble.directory, caFile: pebble.caFile, storage: storageDir(t), metricsPort });
  const first = await failedLine(s, 1);
  t.match(first, /: the CA answered POST https:\/\/127\.0\.0\.1:\d+\/order-plz with 400 Bad Request: .*acme\.test.* \(urn:ietf:params:acme:error:rejectedIdentifier\); no certificate yet: TLS handshakes are refused; trying again in 1 s$/, 'the CA\'s reason and problem type in the log line');
  t.match(await failedLine(s, 2, 5000), /rejectedIdentifier.*trying again in 2 s$/, 'tried again, the back-off doubling');
  t.same(await health(httpPort), { status: 503, body: 'no certificate yet\n' });
  await t.rejects(served(s.port), 'TLS handshakes are refused');
  t.ok(valueOf(await scrape(metricsPort), 'fleetserve_acme_renewals_total', { result: 'failure' }) >= 2, 'failures counted');
  t.equal(pebble.issued(), 0);
  t.equal(s.proc.exitCode, null, 'still running');
});

t.test('a storage path under a regular file: refused at start and by --check-config, exit 2', async (t) => {
  // Root writes anywhere: a directory under a regular file fails for root too (ENOTDIR).
  const file = path.join(path.dirname(storageDir(t)), 'a-file');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'not a directory\n');
  const storage = path.join(file, 'store');
  const args = ['--acme-domains', NAME, '--acme-storage', storage, '--http-port', String(await freePort()), '--port', '0', '--host', '127.0.0.1', '--log-pretty', 'false'];
  for (const extra of [[], ['--check-config']]) {
    const s = spawnServer({ args: [...args, ...extra] });
    t.teardown(() => s.kill());
    t.same(await s.exited(), { code: 2, signal: null }, `exit 2 ${extra.join(' ')}`);
    t.equal(s.stderr(), `fleetserve: acmeStorage: ${storage} cannot be made: ${file} is not a directory\n`, `one line naming acmeStorage and the file ${extra.join(' ')}`);
  }
  t.ok(fs.statSync(file).isFile(), 'nothing was created');
});

t.test('a storage directory gone bad after the first certificate: logged, retried, the certificate kept, renewed once fixed', { skip: pebbleSkip, timeout: 60_000 }, async (t) => {
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  const pebble = await startPebble(t, { httpPort, validitySeconds: VALIDITY_S });
  const storage = storageDir(t);
  const s = await start(t, { httpPort, directory: pebble.directory, caFile: pebble.caFile, storage, metricsPort });
  await waitForCount(s, `ACME: serving the new certificate for ${NAME}`, 2, 30_000);
  const first = await served(s.port);
  // Root writes anywhere: a regular file where the directory was stops root too.
  fs.renameSync(storage, `${storage}.aside`);
  fs.writeFileSync(storage, 'not a directory\n');
  const expires = new Date(first.valid_to).toISOString();
  t.equal(await failedLine(s, 1, 30_000), `ACME: order for ${NAME} failed (attempt 1): acmeStorage: cannot write to the directory ${storage} (ENOTDIR); keeping the certificate in force (expires ${expires}); trying again in 1 s`);
  t.match(await failedLine(s, 2, 5000), /\(ENOTDIR\).*trying again in 2 s$/, 'tried again, the back-off doubling');
  t.equal((await served(s.port)).fingerprint256, first.fingerprint256, 'the certificate in force is still served');
  t.same(await health(httpPort), { status: 200, body: 'ok\n' });
  t.ok(valueOf(await scrape(metricsPort), 'fleetserve_acme_renewals_total', { result: 'failure' }) >= 2, 'failures counted');
  t.equal(pebble.issued(), 1, 'nothing ordered that could not be stored');

  fs.rmSync(storage);
  fs.renameSync(`${storage}.aside`, storage);
  await waitForCount(s, `ACME: serving the new certificate for ${NAME}`, 4, 10_000);
  t.not((await served(s.port)).fingerprint256, first.fingerprint256, 'renewed once the directory is back, without a restart');
  t.equal(s.proc.exitCode, null, 'still running');
});

/** A stand-in CA at 127.0.0.1: the directory answers a problem document (500), then an HTML error page (502), by turns. */
async function failingCa(t: Test): Promise<{ url: string; caFile: string }> {
  const pki = makeTestPki(t);
  const tlsFiles = { cert: fs.readFileSync(pki.ecdsaLocal.cert), key: fs.readFileSync(pki.ecdsaLocal.key) };
  let requests = 0;
  const server = https.createServer(tlsFiles, (_req, res) => {
    requests++;
    if (requests % 2 === 1) {
      res.writeHead(500, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:serverInternal', detail: 'the database is on fire', status: 500 }));
    } else {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  server.unref();
  const { port } = server.address() as { port: number };
  return { url: `https://127.0.0.1:${port}/dir`, caFile: pki.caFile };
}

t.test('a CA that answers errors: what it said logged, retried, no crash', { skip: pebbleSkip, timeout: 30_000 }, async (t) => {
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  const ca = await failingCa(t);
  const s = await start(t, { httpPort, directory: ca.url, caFile: ca.caFile, storage: storageDir(t), metricsPort });
  t.equal(await failedLine(s, 1), `ACME: order for ${NAME} failed (attempt 1): the CA answered GET ${ca.url} with 500 Internal Server Error: the database is on fire (urn:ietf:params:acme:error:serverInternal); no certificate yet: TLS handshakes are refused; trying again in 1 s`);
  t.equal(await failedLine(s, 2, 5000), `ACME: order for ${NAME} failed (attempt 2): the CA answered GET ${ca.url} with 502 Bad Gateway and no problem document (text/html: "<html><body><h1>502 Bad Gateway</h1> <p>nginx</p></body></html>"); no certificate yet: TLS handshakes are refused; trying again in 2 s`);
  t.same(await health(httpPort), { status: 503, body: 'no certificate yet\n' });
  t.ok(valueOf(await scrape(metricsPort), 'fleetserve_acme_renewals_total', { result: 'failure' }) >= 2, 'failures counted');
  t.equal(s.proc.exitCode, null, 'still running');
});

t.test('the single process counts its orders too', { skip: pebbleSkip, timeout: 30_000 }, async (t) => {
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  const pebble = await startPebble(t, { httpPort });
  const s = await start(t, { httpPort, directory: pebble.directory, caFile: pebble.caFile, storage: storageDir(t), metricsPort, workers: 0 });
  await waitForCount(s, `ACME: serving the new certificate for ${NAME}`, 1, 20_000);
  const sc = await scrape(metricsPort);
  t.equal(valueOf(sc, 'fleetserve_acme_renewals_total', { result: 'success' }), 1, 'the first order counted');
  t.equal(valueOf(sc, 'fleetserve_acme_renewals_total', { result: 'failure' }), 0);
});
