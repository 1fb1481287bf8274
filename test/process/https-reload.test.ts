// Certificates reloaded on SIGHUP (src/process/rolling-reload.ts, serving.ts, worker.ts): the
// rolling reload's new workers read the certificate files again, so new connections get the
// new certificate while keep-alive TLS clients see no failed request; a bad new pair is
// refused by the primary's check, and the old certificate stays in service with one error
// line naming the file. A single process (--workers 0) serves over TLS, and replaces its
// certificate in place, keeping its session-ticket keys: sessions from before still resume.
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { makeSite, spawnServer, type LogLine, type Server } from '../fixtures/server';
import { makeTestPki, opensslSkip, type TestPair, type TestPki } from '../fixtures/tls';
import { bigBuffer, poll, sleep } from '../fixtures/wire';

const SMALL = Buffer.from('small file\n'.repeat(90));
const LARGE = bigBuffer(200 * 1024);

const msgIs = (re: RegExp) => (l: LogLine) => typeof l.msg === 'string' && re.test(l.msg);
const count = (s: Server, re: RegExp) => s.logs.filter(msgIs(re)).length;
const errorLines = (s: Server) => s.logs.filter((l) => l.level >= 50).map((l) => l.msg);

/** The files the server is configured with: a pair is "installed" by copying it over them. */
interface PairFiles {
  cert: string;
  key: string;
  install(pair: { cert: string; key: string }): void;
}

function pairFiles(pki: TestPki, first: TestPair): PairFiles {
  const dir = fs.mkdtempSync(path.join(pki.dir, 'served-'));
  const files = {
    cert: path.join(dir, 'cert.pem'),
    key: path.join(dir, 'key.pem'),
    install(pair: { cert: string; key: string }) {
      fs.copyFileSync(pair.key, files.key);
      fs.copyFileSync(pair.cert, files.cert);
    },
  };
  files.install(first);
  return files;
}

async function launch(t: Test, root: string, files: PairFiles, workers: number): Promise<Server> {
  const s = spawnServer({ args: ['--host', '127.0.0.1', '--port', '0', '--workers', String(workers), '--log-pretty', 'false', '--root', root, '--tls-cert', files.cert, '--tls-key', files.key] });
  t.teardown(() => s.kill());
  const line = await s.waitForLog(msgIs(/^listening on/));
  return { ...s, port: line.port as number };
}

/** The worker pids of a primary, from /proc (Linux). */
function children(pid: number): number[] {
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number).sort();
}

type Exchange = { kind: 'response'; status: number; close: boolean; body: Buffer } | { kind: 'closed-before-response' } | { kind: 'broken'; why: string };

/** One keep-alive TLS connection: a request, then exactly one Content-Length framed response. */
class TlsKeepAlive {
  private buf: Buffer = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | null = null;
  private constructor(
    private readonly sock: tls.TLSSocket,
    /** The subject CN of the certificate the server presented. */
    readonly cn: string,
  ) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static open(port: number, pki: TestPki, opts: tls.ConnectionOptions = {}): Promise<TlsKeepAlive> {
    return new Promise((resolve, reject) => {
      const sock = tls.connect({ port, host: '127.0.0.1', ca: pki.caPem, servername: 'localhost', ...opts });
      sock.on('error', () => undefined);
      sock.once('secureConnect', () => resolve(new TlsKeepAlive(sock, pki.cnOf(sock.getPeerX509Certificate()!.raw))));
      sock.once('close', () => reject(new Error('closed before the handshake completed')));
    });
  }

  async exchange(p: string, timeoutMs: number, close = false): Promise<Exchange> {
    this.sock.write(`GET ${p} HTTP/1.1\r\nHost: localhost\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
    const until = performance.now() + timeoutMs;
    let r: Exchange | null;
    while ((r = this.takeResponse()) === null) {
      const left = until - performance.now();
      if (left <= 0) return { kind: 'broken', why: `no whole response within ${timeoutMs} ms` };
      await this.nextChunkOrClose(left);
    }
    return r;
  }

  /** The response whole in the buffer (taken out of it), what the close left, or null: wait. */
  private takeResponse(): Exchange | null {
    const end = this.buf.indexOf('\r\n\r\n');
    const head = end === -1 ? '' : this.buf.subarray(0, end).toString('latin1');
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
    if (end !== -1 && this.buf.length >= end + 4 + len) {
      const body = this.buf.subarray(end + 4, end + 4 + len);
      this.buf = this.buf.subarray(end + 4 + len);
      return { kind: 'response', status: Number(head.split(' ')[1]), close: /\r\nconnection: *close/i.test(head), body };
    }
    if (!this.closed) return null;
    return this.buf.length === 0 ? { kind: 'closed-before-response' } : { kind: 'broken', why: `closed after ${this.buf.length} bytes of a response` };
  }

  private nextChunkOrClose(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

interface LoadStats {
  ok: number;
  /** A reused connection closed before any byte of the response: retried on a new one (RFC 9112 §9.3.1). */
  retried: number;
  failures: string[];
  /** Each new connection: when it was opened (test clock) and the certificate it got. */
  connections: { at: number; cn: string }[];
}

/**
 * One client of the load, as in the plain-HTTP reload test: requests one after another on a
 * keep-alive TLS connection, every response checked byte for byte, a new connection after a
 * Connection: close; only a request on a reused connection closed before any byte of its
 * answer is retried. With `closeEach`, every request is the first on its connection.
 */
async function loadClient(port: number, pki: TestPki, stats: LoadStats, stop: () => boolean, open: TlsKeepAlive[], closeEach: boolean): Promise<void> {
  let conn: TlsKeepAlive | null = null;
  let reused = false;
  for (let i = 0; i < 3000 && !stop(); i++) {
    const [p, expected] = i % 8 === 7 ? ['/b.bin', LARGE] : ['/a.txt', SMALL];
    for (let attempt = 0; ; attempt++) {
      if (conn === null) {
        const at = performance.now();
        try {
          conn = await TlsKeepAlive.open(port, pki);
        } catch (err) {
          stats.failures.push(`${p}: a new connection failed: ${(err as Error).message}`);
          break;
        }
        open.push(conn);
        stats.connections.push({ at, cn: conn.cn });
        reused = false;
      }
      const r = await conn.exchange(p, 5000, closeEach);
      const verdict = judge(r, reused && attempt < 3, expected);
      if (verdict === 'retry') stats.retried++;
      else if (verdict === 'ok') stats.ok++;
      else stats.failures.push(`${p}: ${verdict}`);
      reused = r.kind === 'response';
      if (r.kind !== 'response' || r.close) {
        conn.close();
        conn = null;
      }
      if (verdict !== 'retry') break;
    }
    await sleep(4);
  }
  conn?.close();
}

/**
 * What an exchange counts as: 'ok', 'retry' (a reused connection closed before any byte of
 * the answer, which `mayRetry` allows), or what failed.
 */
function judge(r: Exchange, mayRetry: boolean, expected: Buffer): 'ok' | 'retry' | string {
  if (r.kind === 'closed-before-response') return mayRetry ? 'retry' : 'closed before a response on a new connection';
  if (r.kind === 'broken') return r.why;
  return r.status === 200 && r.body.equals(expected) ? 'ok' : `status ${r.status}, ${r.body.length} bytes, not the file`;
}

/** The CN a new connection gets now. */
async function cnNow(port: number, pki: TestPki): Promise<string> {
  const c = await TlsKeepAlive.open(port, pki);
  c.close();
  return c.cn;
}

t.test('certificate reload', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'a.txt': SMALL, 'b.bin': LARGE });
  const renewed = pki.issue({ cn: 'renewed-local', san: ['DNS:localhost', 'IP:127.0.0.1'], keyType: 'ecdsa' });

  await t.test('SIGHUP under TLS keep-alive load: new connections get the new certificate, no request fails', async (t) => {
    const files = pairFiles(pki, pki.ecdsaLocal);
    const s = await launch(t, root, files, 2);
    t.equal(s.logs.find(msgIs(/^listening on/))!.msg, `listening on https://127.0.0.1:${s.port}/ with 2 workers`, 'the listening line says https://');
    t.equal(await cnNow(s.port, pki), 'ecdsa-local');

    const stats: LoadStats = { ok: 0, retried: 0, failures: [], connections: [] };
    let stopped = false;
    const open: TlsKeepAlive[] = [];
    t.teardown(() => open.forEach((c) => c.close()));
    // Four keep-alive clients, and two that use a new connection (a full handshake) per request.
    const load = Promise.all(Array.from({ length: 6 }, (_, i) => loadClient(s.port, pki, stats, () => stopped, open, i >= 4)));
    // The load is under way (every client connected and answered) before the first reload.
    await poll(async () => stats.connections.length >= 6 && stats.ok >= 6 * 5, 60, 25);

    const steps: [TestPair, string][] = [
      [pki.rsaLocal, 'rsa-local'],
      [renewed, 'renewed-local'],
    ];
    let settledAt = 0;
    for (const [n, [pair, cn]] of steps.entries()) {
      files.install(pair);
      // The first reload signals the primary only, the second the whole group, as a terminal hangup does.
      if (n === 0) process.kill(s.pid, 'SIGHUP');
      else s.signalGroup('SIGHUP');
      await s.waitForLog((l) => msgIs(/^reload finished/)(l) && count(s, /^reload finished/) === n + 1, 20_000);
      const finished = s.logs.filter(msgIs(/^reload finished/))[n]!;
      t.match(finished.msg, new RegExp(`^reload finished: 2 workers replaced in \\d+ ms, listening on https://127\\.0\\.0\\.1:${s.port}/; no configuration change$`), `reload ${n + 1}: same paths, new files`);
      await poll(async () => count(s, /^worker \d+ retired after its drain/) === 2 * (n + 1), 100, 50);
      t.equal(count(s, /^worker \d+ retired after its drain/), 2 * (n + 1), `reload ${n + 1}: the old workers drained and exited 0`);
      settledAt = performance.now();
      t.equal(await cnNow(s.port, pki), cn, `reload ${n + 1}: a new connection gets the new certificate (${cn})`);
    }
    // New connections after the last reload has settled, and the volume asserted below (a
    // loaded machine answers fewer per second), then the load stops.
    await poll(async () => stats.connections.filter((c) => c.at > settledAt).length >= 10 && stats.ok >= 300 && stats.connections.length > 100, 600, 25);
    stopped = true;
    await load;

    t.comment(`load: ${stats.ok} responses byte-exact, ${stats.retried} retried after a clean close before any byte on a reused connection, ${stats.connections.length} connections`);
    t.same(stats.failures, [], 'zero failed requests');
    t.ok(stats.ok >= 300, `hundreds of requests (${stats.ok})`);
    t.ok(stats.connections.length > 100, `many were the first on their connection (${stats.connections.length} handshakes)`);
    t.same([...new Set(stats.connections.map((c) => c.cn))], ['ecdsa-local', 'rsa-local', 'renewed-local'], 'the load ran across both reloads, in order');
    const late = stats.connections.filter((c) => c.at > settledAt);
    t.ok(late.length > 0, 'connections after the last reload');
    t.same([...new Set(late.map((c) => c.cn))], ['renewed-local'], 'every connection after the last reload gets the renewed certificate');
    t.same(errorLines(s), [], 'no error lines');
    t.equal(count(s, /died|replacing it/), 0, 'no worker died');
    process.kill(s.pid, 'SIGTERM');
    t.equal((await s.exited(10_000)).code, 0, 'drains cleanly afterwards');
  });

  await t.test('a bad new pair: the old certificate stays in service, one error line naming the file', async (t) => {
    const files = pairFiles(pki, pki.ecdsaLocal);
    const s = await launch(t, root, files, 2);
    const pids = children(s.pid);
    const stays = 'the configuration in force stays, no worker was replaced';
    const bad: [what: string, make: () => void, line: string][] = [
      ['a key of another certificate', () => files.install({ cert: pki.ecdsaLocal.cert, key: pki.strayEcdsaKey }), `tlsKey: ${files.key} does not match the certificate in ${files.cert} (another ECDSA P-256 key)`],
      ['a key of another type', () => files.install({ cert: pki.rsaLocal.cert, key: pki.ecdsaKey }), `tlsKey: ${files.key} does not match the certificate in ${files.cert} (an ECDSA P-256 key for an RSA 2048 certificate)`],
      ['an unreadable key file', () => fs.rmSync(files.key), `tlsKey: cannot read ${files.key}: ENOENT`],
      [
        'a certificate file that is not PEM',
        () => {
          files.install(pki.ecdsaLocal);
          fs.writeFileSync(files.cert, 'not a certificate\n');
        },
        `tlsCert: ${files.cert} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`,
      ],
    ];
    for (const [i, [what, make, line]] of bad.entries()) {
      make();
      process.kill(s.pid, 'SIGHUP');
      await s.waitForLog((l) => msgIs(/^reload failed/)(l) && count(s, /^reload failed/) === i + 1, 10_000);
      t.same(errorLines(s).slice(i), [`reload failed: ${line}; ${stays}`], `${what}: exactly one error line, naming the file`);
      t.equal(errorLines(s).length, i + 1, `${what}: one error line per failed reload`);
      t.equal(await cnNow(s.port, pki), 'ecdsa-local', `${what}: the old certificate is still served`);
      t.same(children(s.pid), pids, `${what}: the same workers`);
    }
    t.equal(count(s, /^reload finished/), 0, 'no reload finished');
    files.install(pki.rsaLocal);
    process.kill(s.pid, 'SIGHUP');
    await s.waitForLog(msgIs(/^reload finished/), 20_000);
    t.equal(await cnNow(s.port, pki), 'rsa-local', 'a good pair afterwards is put in service');
    process.kill(s.pid, 'SIGTERM');
    t.equal((await s.exited(10_000)).code, 0);
  });

  await t.test('single process (--workers 0): serves over TLS, replaces its certificate in place, sessions still resume', async (t) => {
    const files = pairFiles(pki, pki.ecdsaLocal);
    const s = await launch(t, root, files, 0);
    t.equal(s.logs.find(msgIs(/^listening on/))!.msg, `listening on https://127.0.0.1:${s.port}/ (single process)`, 'the listening line says https://');
    const first = await TlsKeepAlive.open(s.port, pki);
    const r = await first.exchange('/a.txt', 5000, true);
    t.same(r.kind === 'response' && [r.status, r.body.equals(SMALL), first.cn], [200, true, 'ecdsa-local'], 'served over TLS');
    first.close();
    const before = { 'TLSv1.2': await session(s.port, pki, 'TLSv1.2'), 'TLSv1.3': await session(s.port, pki, 'TLSv1.3') };

    files.install(pki.rsaLocal);
    process.kill(s.pid, 'SIGHUP');
    const done = await s.waitForLog(msgIs(/^reload finished in place/), 5000);
    t.equal(done.msg, 'reload finished in place: no configuration change', 'same paths, new files');
    t.equal(await cnNow(s.port, pki), 'rsa-local', 'a new connection gets the new certificate');
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      t.equal((await session(s.port, pki, v, before[v].session)).resumed, true, `${v}: a session from before the reload resumes (the ticket keys stayed)`);
      const after = await session(s.port, pki, v);
      t.same([after.resumed, after.cn], [false, 'rsa-local'], `${v}: a full handshake gets the new certificate`);
      t.equal((await session(s.port, pki, v, after.session)).resumed, true, `${v}: and its session resumes`);
    }

    files.install({ cert: pki.rsaLocal.cert, key: pki.ecdsaKey });
    process.kill(s.pid, 'SIGHUP');
    await s.waitForLog(msgIs(/^reload failed/), 5000);
    t.same(errorLines(s), [`reload failed: tlsKey: ${files.key} does not match the certificate in ${files.cert} (an ECDSA P-256 key for an RSA 2048 certificate); the configuration in force stays`], 'one error line naming the file');
    t.equal(await cnNow(s.port, pki), 'rsa-local', 'the certificate in force stays');
    t.equal(s.proc.exitCode, null, 'still running');
    process.kill(s.pid, 'SIGTERM');
    t.equal((await s.exited(10_000)).code, 0);
  });
});

/** A connection with `version` (resuming `saved` if given) that asks for / and reads to the end. */
function session(port: number, pki: TestPki, version: tls.SecureVersion, saved?: Buffer): Promise<{ resumed: boolean; cn: string; session: Buffer }> {
  return new Promise((resolve, reject) => {
    const c = tls.connect({ port, host: '127.0.0.1', ca: pki.caPem, servername: 'localhost', minVersion: version, maxVersion: version, session: saved });
    let got: Buffer | undefined;
    let resumed = false;
    let cn = '';
    c.on('session', (b: Buffer) => (got ??= b));
    c.once('secureConnect', () => {
      // Read now: after the close the socket no longer knows.
      resumed = c.isSessionReused();
      const cert = c.getPeerX509Certificate();
      cn = cert ? pki.cnOf(cert.raw) : '(none)';
      c.write('GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    c.on('data', () => undefined);
    c.once('error', reject);
    c.once('close', () => (got ?? saved ? resolve({ resumed, cn, session: (got ?? saved)! }) : reject(new Error('no session ticket'))));
  });
}
