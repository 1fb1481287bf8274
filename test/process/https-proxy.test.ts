// The HTTPS listener behind a proxy: with proxyProtocol the PROXY header (v1 or v2) comes
// before the TLS ClientHello on the raw socket, and the client it names is the one the access
// log shows; a connection without a valid header is closed unanswered, as on plain HTTP.
// trustedProxies with X-Forwarded-For works inside the TLS stream. The clients are raw TCP
// sockets that write a header and then run TLS over the same connection (tls.connect({ socket })).
import net from 'node:net';
import { Duplex } from 'node:stream';
import t, { type Test } from 'tap';
import { makeSite, req, startServer, type LogLine, type Server } from '../fixtures/server';
import { proxyV1, proxyV2 } from '../fixtures/proxy-header';
import { makeTestPki, opensslSkip, type TestPki } from '../fixtures/tls';
import { tlsExchange } from '../fixtures/tls-exchange';
import { Client } from '../fixtures/wire';

const TIMEOUT_MS = 600;
const ok = /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nthe file\n$/;

async function start(t: Test, pki: TestPki, args: string[]): Promise<Server> {
  const root = makeSite(t, { 'a.txt': 'the file\n' });
  const tls = ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key];
  return startServer(t, { root, workers: 1, args: ['--log-level', 'debug', '--proxy-protocol-timeout-ms', String(TIMEOUT_MS), ...tls, ...args] });
}

function accessOf(s: Server, path: string): Promise<LogLine> {
  return s.waitForLog((l) => l.kind === 'access' && l.path === path, 5000);
}

function connected(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, '127.0.0.1', () => resolve(raw));
    raw.setNoDelay(true);
    raw.on('error', reject);
  });
}

/** A header written on its own, then TLS over the same TCP connection. */
async function afterHeader(s: Server, pki: TestPki, header: string | Buffer, path: string, extra = '') {
  const raw = await connected(s.port);
  raw.write(header);
  return tlsExchange(s.port, pki.caPem, req(path, `Connection: close\r\n${extra}`), raw);
}

/**
 * A stream for TLS whose first write (the ClientHello) goes out with `header` in front of it,
 * in one write: the server reads the header and the whole ClientHello together.
 */
function withHeaderInFront(raw: net.Socket, header: Buffer): Duplex {
  let first = true;
  const d = new Duplex({
    write(chunk: Buffer, _encoding, done) {
      raw.write(first ? Buffer.concat([header, chunk]) : chunk, done);
      first = false;
    },
    read() {
      raw.resume();
    },
    final(done) {
      raw.end();
      done();
    },
    destroy(err, done) {
      raw.destroy();
      done(err);
    },
  });
  raw.on('data', (chunk: Buffer) => d.push(chunk) || raw.pause());
  raw.on('end', () => d.push(null));
  raw.on('close', () => d.destroy());
  return d;
}

t.test('proxyProtocol on HTTPS: the header before the ClientHello names the client', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const s = await start(t, pki, ['--proxy-protocol', 'true']);

  const v1 = await afterHeader(s, pki, proxyV1('TCP4', '203.0.113.7', '127.0.0.1', 51234, 443), '/a.txt?case=v1');
  t.equal(v1.cn, 'ecdsa-local', 'the handshake ran after the header');
  t.ok(v1.authorized);
  t.match(v1.data.toString('latin1'), ok, 'v1, then TLS: answered');
  t.match(await accessOf(s, '/a.txt?case=v1'), { remote: '203.0.113.7', peer: '127.0.0.1', status: 200 });

  const v2 = await afterHeader(s, pki, proxyV2({ family: 2, source: '2001:db8::42' }), '/a.txt?case=v2');
  t.match(v2.data.toString('latin1'), ok, 'v2 over IPv6, then TLS: answered');
  t.match(await accessOf(s, '/a.txt?case=v2'), { remote: '2001:db8::42', peer: '127.0.0.1' });

  // The header and the whole ClientHello in one segment: nothing more comes until the server answers.
  const raw = await connected(s.port);
  const together = await tlsExchange(s.port, pki.caPem, req('/a.txt?case=together', 'Connection: close\r\n'), withHeaderInFront(raw, proxyV2({ source: '198.51.100.23' })));
  t.match(together.data.toString('latin1'), ok, 'the header and the ClientHello in one write: answered');
  t.match(await accessOf(s, '/a.txt?case=together'), { remote: '198.51.100.23', peer: '127.0.0.1' });

  // After a good header, plain text is still plain text on the TLS port.
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  c.write(proxyV1('TCP4', '203.0.113.7', '127.0.0.1', 1, 443) + req('/a.txt'));
  t.ok(await c.waitClosed(3000), 'closed after the answer');
  t.match(c.data().toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*this port speaks HTTPS/, 'a header, then plain HTTP: the TLS port\'s 400');
});

t.test('proxyProtocol on HTTPS: no valid header closes the connection unanswered, and logged', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const s = await start(t, pki, ['--proxy-protocol', 'true']);
  /** Sent, then closed by the server without one byte, and the debug line saying why. */
  const refused = async (bytes: string | Buffer, reason: string, what: string) => {
    const c = await Client.connect(s.port);
    t.teardown(() => c.destroy());
    c.write(bytes);
    t.ok(await c.waitClosed(TIMEOUT_MS / 2), `${what}: closed by the server at once`);
    t.equal(c.received, 0, `${what}: not one byte of an answer`);
    const line = await s.waitForLog((l) => l.msg === `PROXY protocol: closed a connection from 127.0.0.1: ${reason}`, 3000);
    t.match(line, { level: 20, peer: '127.0.0.1', reason }, `${what}: logged (debug) with the reason`);
  };
  await refused(Buffer.from('160301020001', 'hex'), 'no PROXY protocol header', 'a ClientHello without a header');
  await refused(`PROXY TCP4 203.0.113.7 127.0.0.1 99999 443\r\n`, 'v1: source port is not a number from 0 to 65535', 'a v1 header with a bad port');
  await refused(proxyV2({ version: 1 }), 'v2: version is not 2', 'a v2 header of another version');

  // A real TLS client that sends no header gets a close, not a handshake.
  await t.rejects(tlsExchange(s.port, pki.caPem, req('/a.txt')), 'a TLS client without a header: no handshake');
  const after = await afterHeader(s, pki, proxyV1('TCP4', '203.0.113.8', '127.0.0.1', 1, 443), '/a.txt?case=after');
  t.match(after.data.toString('latin1'), ok, 'the server goes on serving');
});

t.test('trustedProxies on HTTPS: X-Forwarded-For from a trusted peer names the client; from others it is ignored', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const trusted = await start(t, pki, ['--trusted-proxies', '127.0.0.1']);
  const xff = 'X-Forwarded-For: 6.6.6.6, 198.51.100.4\r\nX-Forwarded-Proto: https\r\n';
  const got = await tlsExchange(trusted.port, pki.caPem, req('/a.txt?case=xff', `Connection: close\r\n${xff}`));
  t.match(got.data.toString('latin1'), ok);
  t.match(await accessOf(trusted, '/a.txt?case=xff'), { remote: '198.51.100.4', peer: '127.0.0.1', proto: 'https' });

  const untrusted = await start(t, pki, ['--trusted-proxies', '10.0.0.0/8']);
  await tlsExchange(untrusted.port, pki.caPem, req('/a.txt?case=untrusted', `Connection: close\r\n${xff}`));
  const line = await accessOf(untrusted, '/a.txt?case=untrusted');
  t.equal(line.remote, '127.0.0.1', 'the peer, not the forwarded address');
  t.notOk('peer' in line, 'no peer field when the peer is the client');

  // Both: the PROXY header names a trusted proxy (10.9.9.9), whose X-Forwarded-For names the client.
  const both = await start(t, pki, ['--proxy-protocol', 'true', '--trusted-proxies', '127.0.0.1, 10.0.0.0/8']);
  const viaEdge = await afterHeader(both, pki, proxyV1('TCP4', '10.9.9.9', '127.0.0.1', 1, 443), '/a.txt?case=edge', xff);
  t.match(viaEdge.data.toString('latin1'), ok);
  t.match(await accessOf(both, '/a.txt?case=edge'), { remote: '198.51.100.4', peer: '127.0.0.1' });
});
