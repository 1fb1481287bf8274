// Session resumption with shared ticket keys (src/tls/ticket-keys.ts, acceptor.ts, context.ts):
// a session made by one listener resumes on another that holds the same keys — in this
// process and in another process started differently (as workers are) — for TLS 1.2 and 1.3;
// not with other keys; not after a rotation (what rotation costs), but again with the new
// keys; and still after a certificate reload.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import t, { type Test } from 'tap';
import { encodeTicketKeys, newTicketKeys } from '../../src/tls/ticket-keys';
import { readPair } from '../../src/tls/certificates';
import { PROJECT } from '../fixtures/server';
import { makeTestPki, opensslSkip, startTlsListener, tlsHandshake, type TestPki, type TlsListener } from '../fixtures/tls';

const VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

/** A session from `from`, then `times` connections to `to` with it: how many resumed. */
async function resumedOn(pki: TestPki, from: number, to: number, version: (typeof VERSIONS)[number], times = 5): Promise<number> {
  const first = await tlsHandshake(from, pki.caPem, { minVersion: version, maxVersion: version, servername: 'localhost' });
  if (!first.session || first.reused) throw new Error(`no fresh session from port ${from}: ${JSON.stringify(first)}`);
  let resumed = 0;
  for (let i = 0; i < times; i++) {
    const r = await tlsHandshake(to, pki.caPem, { minVersion: version, maxVersion: version, servername: 'localhost', session: first.session });
    if (r.reused && r.protocol === version && !r.error) resumed++;
  }
  return resumed;
}

/** The acceptor of dist/ in a process of its own (node -e: another argv than this one). */
async function childListener(t: Test, pki: TestPki, keys: Buffer): Promise<number> {
  const script = `
    const net = require('node:net');
    const { TlsAcceptor } = require(${JSON.stringify(path.join(PROJECT, 'dist/tls/acceptor.js'))});
    const { readPair } = require(${JSON.stringify(path.join(PROJECT, 'dist/tls/certificates.js'))});
    const set = { defaultPair: readPair(process.env.CERT, process.env.KEY), sniPairs: [] };
    const policy = { minVersion: 'TLSv1.2', ticketKeys: Buffer.from(process.env.KEYS, 'base64'), alpn: ['http/1.1'], handshakeTimeoutMs: 5000 };
    const acceptor = new TlsAcceptor(set, policy, { onSecure: (s) => { s.on('error', () => {}); s.end('hello\\n'); }, onPlainText: (s) => s.destroy(), onHandshakeError: () => {} });
    const server = net.createServer((s) => acceptor.accept(s)).listen(0, '127.0.0.1', () => console.log(server.address().port));
  `;
  const child = spawn(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, CERT: pki.ecdsaLocal.cert, KEY: pki.ecdsaLocal.key, KEYS: encodeTicketKeys(keys) }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve));
  return Number(line);
}

t.test('with the test CA', { skip: opensslSkip || (fs.existsSync(path.join(PROJECT, 'dist/tls/acceptor.js')) ? false : 'dist/ not built (npm run build)') }, async (t) => {
  const pki = makeTestPki(t);
  const keys = newTicketKeys();
  const a = await startTlsListener(t, { defaultPair: pki.ecdsaLocal, sniPairs: [pki.rsaA] }, { ticketKeys: keys });
  const b = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, { ticketKeys: keys });
  const other = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, { ticketKeys: newTicketKeys() });
  const child = await childListener(t, pki, keys);

  for (const v of VERSIONS) {
    t.equal(await resumedOn(pki, a.port, a.port, v), 5, `${v}: a session resumes on the listener that made it`);
    t.equal(await resumedOn(pki, a.port, b.port, v), 5, `${v}: and on another listener with the same keys`);
    t.equal(await resumedOn(pki, b.port, child, v), 5, `${v}: and in another process, started with another command line`);
    t.equal(await resumedOn(pki, child, a.port, v), 5, `${v}: and back`);
    t.equal(await resumedOn(pki, a.port, other.port, v, 2), 0, `${v}: not on a listener with other keys`);
  }

  t.test('rotation: old sessions stop resuming, new ones resume everywhere', (t) => rotation(t, pki, a, b));
});

async function rotation(t: Test, pki: TestPki, a: TlsListener, b: TlsListener): Promise<void> {
  const before = await Promise.all(VERSIONS.map((v) => tlsHandshake(a.port, pki.caPem, { minVersion: v, maxVersion: v, servername: 'localhost' })));
  const rotated = newTicketKeys();
  a.acceptor.setTicketKeys(rotated);
  b.acceptor.setTicketKeys(rotated);
  for (const [i, v] of VERSIONS.entries()) {
    const r = await tlsHandshake(b.port, pki.caPem, { minVersion: v, maxVersion: v, servername: 'localhost', session: before[i]!.session });
    t.same({ reused: r.reused, cn: r.cn }, { reused: false, cn: 'ecdsa-local' }, `${v}: a session from before the rotation: a full handshake, still served`);
    t.equal(await resumedOn(pki, a.port, b.port, v), 5, `${v}: sessions made after it resume across listeners`);
  }
  // A reload (new certificates) keeps the keys in use now, not the ones the acceptor started with.
  const afterRotation = await Promise.all(VERSIONS.map((v) => tlsHandshake(b.port, pki.caPem, { minVersion: v, maxVersion: v, servername: 'localhost' })));
  a.acceptor.replaceCertificates({ defaultPair: readPair(pki.ecdsaLocal.cert, pki.ecdsaLocal.key), sniPairs: [readPair(pki.ecdsaA.cert, pki.ecdsaA.key)] });
  for (const [i, v] of VERSIONS.entries()) {
    const r = await tlsHandshake(a.port, pki.caPem, { minVersion: v, maxVersion: v, servername: 'localhost', session: afterRotation[i]!.session });
    t.same({ reused: r.reused, error: r.error }, { reused: true, error: undefined }, `${v}: after a reload, a session from before it resumes`);
    t.equal(await resumedOn(pki, a.port, b.port, v), 5, `${v}: and new ones resume across listeners`);
  }
  t.equal((await tlsHandshake(a.port, pki.caPem, { servername: 'a.test' })).cn, 'ecdsa-a', 'the reload took effect (a.test is now the ECDSA pair)');
  t.equal(a.acceptor.pairFor('a.test').info.keyType, 'ECDSA P-256');
  t.equal(a.acceptor.pairFor(null).info.subject, 'CN=ecdsa-local');
}
