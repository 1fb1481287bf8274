// acme/renewal-info.ts and the manager's use of it: the CertID of RFC 9773's own example
// (a CA made with openssl with the example's key identifier, a leaf with its serial), the
// window read from a directory served on 127.0.0.1, and a renewal moved into the window.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { CertificateManager } from '../../../src/acme/manager';
import { certId, fetchRenewalWindow, retryAfterMs, timeInWindow, type JsonGet } from '../../../src/acme/renewal-info';
import { readPair } from '../../../src/tls/certificates';
import { opensslSkip } from '../../fixtures/tls';

/** RFC 9773 §4.1's example: this keyIdentifier and serial 0x0087654321 make this CertID. */
const RFC_KEY_ID = '69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4';
const RFC_CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

interface Made {
  dir: string;
  /** A leaf (key and chain in one file, as the ACME storage keeps it) with the example's AKI and serial. */
  example: string;
  /** A version 1 leaf: no extensions, so no Authority Key Identifier. */
  noAki: string;
}

function make(t: Test): Made {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-ari-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  fs.writeFileSync(path.join(dir, 'ca.ext'), `subjectKeyIdentifier=${RFC_KEY_ID}\nbasicConstraints=critical,CA:true\n`);
  fs.writeFileSync(path.join(dir, 'leaf.ext'), 'authorityKeyIdentifier=keyid\nsubjectAltName=DNS:ari.test\n');
  run('req', '-new', ...ec, '-keyout', 'ca.key', '-subj', '/CN=ari ca', '-out', 'ca.csr');
  run('x509', '-req', '-in', 'ca.csr', '-key', 'ca.key', '-days', '2', '-extfile', 'ca.ext', '-out', 'ca.pem');
  run('req', '-new', ...ec, '-keyout', 'leaf.key', '-subj', '/CN=ari.test', '-out', 'leaf.csr');
  run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x87654321', '-days', '90', '-extfile', 'leaf.ext', '-out', 'leaf.pem');
  run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '5', '-days', '90', '-out', 'v1.pem');
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  const example = path.join(dir, 'example.pem');
  fs.writeFileSync(example, read('leaf.key') + read('leaf.pem'));
  const noAki = path.join(dir, 'no-aki.pem');
  fs.writeFileSync(noAki, read('leaf.key') + read('v1.pem'));
  return { dir, example, noAki };
}

/** A CA directory on 127.0.0.1: `routes` maps a path to [status, JSON body, headers]; every GET is recorded. */
async function directory(t: Test, routes: (base: string) => Record<string, [number, unknown, Record<string, string>?]>): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  let table: Record<string, [number, unknown, Record<string, string>?]> = {};
  const server = http.createServer((req, res) => {
    asked.push(req.url!);
    const [status, body, headers] = table[req.url!] ?? [404, { type: 'urn:ietf:params:acme:error:malformed' }];
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  table = routes(base);
  return { url: `${base}/dir`, asked };
}

/** A JSON GET with Node's fetch (what acme-client's axios does in the process). */
const get: JsonGet = async (url) => {
  const res = await fetch(url);
  return { status: res.status, data: await res.json(), headers: Object.fromEntries(res.headers) };
};

t.test('CertID: RFC 9773 example — the key identifier, a dot, the serial with its leading zero octet', { skip: opensslSkip }, async (t) => {
  const m = make(t);
  t.equal(certId(fs.readFileSync(m.example, 'utf8')), RFC_CERT_ID);
  t.equal(certId(fs.readFileSync(m.noAki, 'utf8')), null, 'no Authority Key Identifier: no CertID');
});

t.test('the window from the directory: renewalInfo/CertID, Retry-After; none offered; a broken answer', { skip: opensslSkip }, async (t) => {
  const m = make(t);
  const pem = fs.readFileSync(m.example, 'utf8');
  const offered = await directory(t, (base) => ({
    '/dir': [200, { newNonce: `${base}/nonce`, renewalInfo: `${base}/ari` }],
    [`/ari/${RFC_CERT_ID}`]: [200, { suggestedWindow: { start: '2027-01-02T00:00:00Z', end: '2027-01-03T00:00:00Z' } }, { 'retry-after': '21600' }],
  }));
  t.same(await fetchRenewalWindow(offered.url, pem, get), { start: Date.parse('2027-01-02T00:00:00Z'), end: Date.parse('2027-01-03T00:00:00Z'), retryAfterMs: 21_600_000 });
  t.same(offered.asked, ['/dir', `/ari/${RFC_CERT_ID}`], 'the directory, then the certificate by its CertID');

  const none = await directory(t, (base) => ({ '/dir': [200, { newNonce: `${base}/nonce` }] }));
  t.equal(await fetchRenewalWindow(none.url, pem, get), null, 'a CA without renewalInfo: null');
  t.same(none.asked, ['/dir']);

  const broken = await directory(t, (base) => ({
    '/dir': [200, { renewalInfo: `${base}/ari/` }],
    [`/ari/${RFC_CERT_ID}`]: [200, { suggestedWindow: { start: '2027-01-03T00:00:00Z', end: '2027-01-02T00:00:00Z' } }],
  }));
  await t.rejects(fetchRenewalWindow(broken.url, pem, get), /no usable suggestedWindow/, 'a window that ends before it starts');
  const missing = await directory(t, (base) => ({ '/dir': [200, { renewalInfo: `${base}/ari` }] }));
  await t.rejects(fetchRenewalWindow(missing.url, pem, get), /renewalInfo answered 404/);
});

t.test('Retry-After as seconds or a date; the moment chosen in the window', async (t) => {
  t.equal(retryAfterMs('120', 0), 120_000);
  t.equal(retryAfterMs('Thu, 01 Jan 1970 00:02:00 GMT', 60_000), 60_000);
  t.equal(retryAfterMs(undefined, 0), null);
  t.equal(retryAfterMs('soon', 0), null);
  t.equal(timeInWindow({ start: 1000, end: 2000 }, 0), 1000);
  t.equal(timeInWindow({ start: 1000, end: 2000 }, 0.5), 1500);
});

t.test("the manager renews in the CA's window, long before two thirds of the lifetime", { skip: opensslSkip }, async (t) => {
  const m = make(t);
  const pair = readPair(m.example, m.example); // 90 days: two thirds is 60 days away
  const lines: string[] = [];
  const log = { info: (...a: unknown[]) => lines.push(String(a[a.length - 1])), warn: (...a: unknown[]) => lines.push(String(a[a.length - 1])), error: (...a: unknown[]) => lines.push(String(a[a.length - 1])) };
  let windowAsked = 0;
  let orderedAt = 0;
  const startedAt = Date.now();
  const ordered = new Promise<void>((resolve) => {
    const manager = new CertificateManager({
      settings: { acmeDomains: ['ari.test'], acmeRetryMinMs: 60_000 },
      storage: { prepare: () => undefined, read: () => pair, write: () => pair, lock: () => () => undefined },
      log: log as never,
      publisher: { set: async () => undefined, remove: () => undefined, setAlpn: async () => undefined, removeAlpn: () => undefined },
      order: () => {
        orderedAt = Date.now();
        resolve();
        return new Promise(() => undefined); // under way until the test ends
      },
      installed: () => undefined,
      counted: () => undefined,
      renewalWindow: async () => {
        windowAsked++;
        return { start: Date.now() + 150, end: Date.now() + 250, retryAfterMs: null };
      },
      random: () => 0.5,
    });
    t.teardown(() => manager.stop());
    manager.start();
  });
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no order within 3 s: ${JSON.stringify(lines)}`)), 3000));
  await Promise.race([ordered, timer]);
  const after = orderedAt - startedAt;
  t.ok(after >= 150 && after < 1500, `ordered ${after} ms after start: in the window (150–250 ms), not in 60 days`);
  t.equal(windowAsked, 1, 'the window asked for once');
  t.match(lines.join('\n'), /the CA suggests renewing the certificate for ari\.test between/);
});

t.test('no renewal information: the renewal stays at two thirds of the lifetime; an error is logged, not thrown', { skip: opensslSkip }, async (t) => {
  const m = make(t);
  const pair = readPair(m.example, m.example);
  const lines: string[] = [];
  const log = { info: (...a: unknown[]) => lines.push(String(a[a.length - 1])), warn: (...a: unknown[]) => lines.push(String(a[a.length - 1])), error: (...a: unknown[]) => lines.push(String(a[a.length - 1])) };
  let orders = 0;
  for (const renewalWindow of [async () => null, async () => Promise.reject(new Error('renewalInfo answered 500'))]) {
    const manager = new CertificateManager({
      settings: { acmeDomains: ['ari.test'], acmeRetryMinMs: 60_000 },
      storage: { prepare: () => undefined, read: () => pair, write: () => pair, lock: () => () => undefined },
      log: log as never,
      publisher: { set: async () => undefined, remove: () => undefined, setAlpn: async () => undefined, removeAlpn: () => undefined },
      order: async () => {
        orders++;
        throw new Error('not due');
      },
      installed: () => undefined,
      counted: () => undefined,
      renewalWindow,
    });
    t.teardown(() => manager.stop());
    manager.start();
  }
  await new Promise((r) => setTimeout(r, 300));
  t.equal(orders, 0, 'nothing ordered');
  t.match(lines.join('\n'), /renewal information for ari\.test could not be read \(renewalInfo answered 500\); renewing at two thirds of the lifetime/);
});

/**
 * How many orders a manager serving `pair` from storage places within `waitMs`, with the
 * clock `now` and the jitter `random` (every order stays under way: at most one).
 */
function ordersWithin(t: Test, pair: ReturnType<typeof readPair>, now: () => number, random: number, waitMs: number): Promise<number> {
  let orders = 0;
  const ordered = new Promise<void>((resolve) => {
    const manager = new CertificateManager({
      settings: { acmeDomains: ['ari.test'], acmeRetryMinMs: 60_000 },
      storage: { prepare: () => undefined, read: () => pair, write: () => pair, lock: () => () => undefined },
      log: { info: () => undefined, warn: () => undefined, error: () => undefined } as never,
      publisher: { set: async () => undefined, remove: () => undefined, setAlpn: async () => undefined, removeAlpn: () => undefined },
      order: () => {
        orders++;
        resolve();
        return new Promise(() => undefined);
      },
      installed: () => undefined,
      counted: () => undefined,
      now,
      random: () => random,
    });
    t.teardown(() => manager.stop());
    manager.start();
  });
  return Promise.race([ordered, new Promise((r) => setTimeout(r, waitMs))]).then(() => orders);
}

t.test('a renewal brought forward by its jitter is ordered when it comes (not taken for "not due yet")', { skip: opensslSkip }, async (t) => {
  const m = make(t);
  const pair = readPair(m.example, m.example);
  const from = pair.info.notBefore.getTime();
  const lifetime = pair.info.notAfter.getTime() - from;
  // The clock between the jittered moment (2/3 less a twentieth, random 1) and two thirds itself.
  const offset = from + (lifetime * 2) / 3 - lifetime / 40 - Date.now();
  t.equal(await ordersWithin(t, pair, () => Date.now() + offset, 1, 1000), 1, 'due by its jittered moment: one order placed at once');
});

t.test('a renewal timer that fires before the wall clock says it is due still orders (libuv times from its cached loop time)', { skip: opensslSkip }, async (t) => {
  const m = make(t);
  const pair = readPair(m.example, m.example);
  const from = pair.info.notBefore.getTime();
  const lifetime = pair.info.notAfter.getTime() - from;
  // The manager's clock starts 300 ms before the renewal is due and runs at half speed, so
  // the timer set for 300 ms fires when that clock reads 150 ms short of due: as a timer
  // firing early against Date.now() looks to the manager.
  const due = from + (lifetime * 2) / 3;
  const startedAt = Date.now();
  t.equal(await ordersWithin(t, pair, () => due - 300 + (Date.now() - startedAt) / 2, 0, 1500), 1, 'the renewal is ordered when its timer fires');
});

t.test('a lock that cannot be given back (the storage gone bad meanwhile) is logged, never thrown out of the attempt', { skip: opensslSkip }, async (t) => {
  const m = make(t);
  const pair = readPair(m.example, m.example);
  const warnings: string[] = [];
  const counted: string[] = [];
  const rejections: unknown[] = [];
  const onRejection = (err: unknown) => rejections.push(err);
  process.on('unhandledRejection', onRejection);
  t.teardown(() => process.off('unhandledRejection', onRejection));
  const manager = new CertificateManager({
    settings: { acmeDomains: ['ari.test'], acmeRetryMinMs: 60_000 },
    storage: {
      prepare: () => undefined,
      read: () => null,
      write: () => pair,
      lock: () => () => {
        throw new Error("acmeStorage: cannot remove the lock /srv/acme/ari.test.lock (ENOTDIR)");
      },
    },
    log: { info: () => undefined, warn: (_o: unknown, msg: string) => warnings.push(msg), error: () => undefined } as never,
    publisher: { set: async () => undefined, remove: () => undefined, setAlpn: async () => undefined, removeAlpn: () => undefined },
    order: async () => ({ key: '', chain: '' }),
    installed: () => undefined,
    counted: (r) => counted.push(r),
  });
  t.teardown(() => manager.stop());
  await manager.attempt();
  await new Promise((r) => setTimeout(r, 20));
  t.same(counted, ['success'], 'the order counted as it ended');
  t.equal(manager.pair, pair, 'the new certificate in force');
  t.same(warnings, ["ACME: the storage's lock could not be removed (acmeStorage: cannot remove the lock /srv/acme/ari.test.lock (ENOTDIR)); other hosts take it over once it is stale"]);
  t.same(rejections, [], 'nothing escaped');
  await manager.attempt(); // and the next attempt runs: not stuck "ordering"
  t.same(counted, ['success', 'success']);
});
