// Session resumption across workers (the primary's ticket keys, src/process/primary.ts and
// worker-env.ts): with 2 workers, 20 reconnects with a saved session all resume, TLS 1.2 and 1.3;
// and again after a SIGHUP reload that changed the certificate (every worker then new).
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { makeSite, startServer } from '../fixtures/server';
import { makeTestPki, opensslSkip } from '../fixtures/tls';
import { poll } from '../fixtures/wire';

function connect(port: number, ca: string, version: tls.SecureVersion, session?: Buffer): Promise<{ resumed: boolean; session: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', minVersion: version, maxVersion: version, session });
    let got: Buffer | undefined = undefined;
    let reused = false;
    s.on('session', (b: Buffer) => (got ??= b));
    s.once('secureConnect', () => {
      // Read now: after the close the socket no longer knows.
      reused = s.isSessionReused();
      s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    s.on('data', () => undefined);
    s.once('error', reject);
    s.once('close', () => (got ?? session ? resolve({ resumed: reused, session: (got ?? session)! }) : reject(new Error('no session ticket'))));
  });
}

t.test('2 workers: every reconnect with the saved session resumes', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'index.html': 'x' });
  // Files of its own, so that the reload below can find another certificate in them.
  const served = fs.mkdtempSync(path.join(pki.dir, 'served-'));
  const [cert, key] = [path.join(served, 'cert.pem'), path.join(served, 'key.pem')];
  fs.copyFileSync(pki.ecdsaLocal.cert, cert);
  fs.copyFileSync(pki.ecdsaLocal.key, key);
  const s = await startServer(t, { root, workers: 2, args: ['--tls-cert', cert, '--tls-key', key] });
  const resumes = async (v: tls.SecureVersion, session: Buffer) => {
    let resumed = 0;
    for (let i = 0; i < 20; i++) if ((await connect(s.port, pki.caPem, v, session)).resumed) resumed++;
    return resumed;
  };
  const saved = new Map<tls.SecureVersion, Buffer>();
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const first = await connect(s.port, pki.caPem, v);
    t.equal(first.resumed, false);
    saved.set(v, first.session);
    t.equal(await resumes(v, first.session), 20, `${v}: all 20 resumed`);
  }

  fs.copyFileSync(pki.rsaLocal.key, key);
  fs.copyFileSync(pki.rsaLocal.cert, cert);
  process.kill(s.pid, 'SIGHUP');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload finished'), 20_000);
  // Every old worker gone: from here on only workers forked by the reload answer.
  const retired = () => s.logs.filter((l) => typeof l.msg === 'string' && /^worker \d+ retired after its drain$/.test(l.msg)).length;
  await poll(async () => retired() === 2, 100, 50);
  t.equal(retired(), 2, 'both old workers retired');
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    t.equal(await resumes(v, saved.get(v)!), 20, `${v}: after the reload and the certificate change, all 20 reconnects with the session from before resumed`);
    const fresh = await connect(s.port, pki.caPem, v);
    t.equal(fresh.resumed, false);
    t.equal(await resumes(v, fresh.session), 20, `${v}: a session made after the reload: all 20 resumed`);
  }
});
