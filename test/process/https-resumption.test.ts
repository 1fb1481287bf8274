// Session resumption across workers (the primary's ticket keys, src/process/primary.ts and
// worker-env.ts): with 2 workers, 20 reconnects with a saved session all resume, TLS 1.2 and 1.3.
import tls from 'node:tls';
import t from 'tap';
import { makeSite, startServer } from '../fixtures/server';
import { makeTestPki, opensslSkip } from '../fixtures/tls';

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
  const s = await startServer(t, { root, workers: 2, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key] });
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const first = await connect(s.port, pki.caPem, v);
    t.equal(first.resumed, false);
    let resumed = 0;
    for (let i = 0; i < 20; i++) if ((await connect(s.port, pki.caPem, v, first.session)).resumed) resumed++;
    t.equal(resumed, 20, `${v}: all 20 resumed`);
  }
});
