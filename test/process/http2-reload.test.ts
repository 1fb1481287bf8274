// A rolling reload (SIGHUP) under multiplexed HTTP/2 load fails no stream: the old workers'
// sessions get GOAWAY, their streams under way finish, and a client opens its next streams on
// a new connection. A stream the server refused before any byte of it (REFUSED_STREAM, or one
// opened after the GOAWAY) is one a client may retry (RFC 9113 §8.7): it is counted apart and
// retried, as browsers do; any other failure fails the test.
import http2 from 'node:http2';
import t from 'tap';
import { makeSite, startServer } from '../fixtures/server';
import { makeTestPki, opensslSkip } from '../fixtures/tls';

const BODY = Buffer.from('a small file\n'.repeat(200));

type Outcome = 'ok' | 'retryable' | { failed: string };

/** One GET on `client`: 'ok' with the whole body, 'retryable' when refused before any byte. */
function get(client: http2.ClientHttp2Session): Promise<Outcome> {
  return new Promise((resolve) => {
    let req: http2.ClientHttp2Stream;
    try {
      req = client.request({ ':path': '/small.txt' });
    } catch (err) {
      // The session got its GOAWAY (or closed) before this stream could be opened on it.
      resolve((err as NodeJS.ErrnoException).code === 'ERR_HTTP2_GOAWAY_SESSION' || (err as NodeJS.ErrnoException).code === 'ERR_HTTP2_INVALID_SESSION' ? 'retryable' : { failed: String(err) });
      return;
    }
    const chunks: Buffer[] = [];
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('close', () => {
      const body = Buffer.concat(chunks);
      if (status === 200 && body.equals(BODY)) resolve('ok');
      else if (status === 0 && body.length === 0 && req.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) resolve('retryable');
      else resolve({ failed: `status ${status}, ${body.length} bytes, rstCode ${req.rstCode}` });
    });
    req.end();
  });
}

t.test('SIGHUP under multiplexed HTTP/2 load: no stream fails', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'small.txt': BODY });
  const s = await startServer(t, { root, workers: 2, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key] });
  const connect = () => {
    const c = http2.connect(`https://localhost:${s.port}`, { ca: pki.caPem, host: '127.0.0.1', servername: 'localhost' } as http2.SecureClientSessionOptions);
    c.on('error', () => undefined);
    return c;
  };
  const tally = { ok: 0, retried: 0, failed: [] as string[] };
  let reloaded = false;
  // Four clients, each with 10 streams in flight at a time, until the reload has finished; a
  // session that got its GOAWAY (or closed) is replaced by a new connection, as a browser does.
  const client = async () => {
    let gone = false;
    const fresh = () => {
      const c = connect();
      gone = false;
      c.once('goaway', () => (gone = true));
      c.once('close', () => (gone = true));
      return c;
    };
    let session = fresh();
    while (!reloaded) {
      if (gone) session = fresh();
      let outcomes = await Promise.all(Array.from({ length: 10 }, () => get(session)));
      // Refused streams are retried on a new connection, at most three times: each must be
      // answered in the end (a new connection can still reach a worker that began its drain).
      for (let attempt = 0; attempt < 3 && outcomes.includes('retryable'); attempt++) {
        const refused = outcomes.filter((o) => o === 'retryable').length;
        tally.retried += refused;
        session.close();
        session = fresh();
        outcomes = [...outcomes.filter((o) => o !== 'retryable'), ...(await Promise.all(Array.from({ length: refused }, () => get(session))))];
      }
      for (const o of outcomes) {
        if (o === 'ok') tally.ok++;
        else tally.failed.push(o === 'retryable' ? 'refused on three new connections in a row' : o.failed);
      }
    }
    session.close();
  };
  const load = Promise.all([client(), client(), client(), client()]);
  t.teardown(() => (reloaded = true));
  while (tally.ok < 200) await new Promise((r) => setTimeout(r, 20));
  process.kill(s.pid, 'SIGHUP');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload finished'), 30_000);
  const atReload = tally.ok;
  // Some more after the reload, on the new workers.
  while (tally.ok < atReload + 200) await new Promise((r) => setTimeout(r, 20));
  reloaded = true;
  await load;
  t.same(tally.failed, [], `no stream failed (${tally.ok} answered, ${tally.retried} refused before any byte and retried)`);
  t.ok(tally.ok >= atReload + 200, 'streams answered after the reload too');
});
