// The real client behind a proxy, on the real server over raw sockets: PROXY protocol v1 and
// v2 headers (whole, split over several packets, too slow, missing, garbage, from a peer not
// in trustedProxies), and X-Forwarded-For / -Proto from a trusted peer and from untrusted ones.
// What is checked is what reaches the wire (an answer, or a close without a byte) and the
// access log's remote / peer / proto.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { makeSite, rawExchange, req, startServer, type LogLine, type Server } from '../fixtures/server';
import { proxyV1, proxyV2, tlv } from '../fixtures/proxy-header';
import { Client, sleep } from '../fixtures/wire';

const TIMEOUT_MS = 600;
const BODY = 'the file\n';
const ok = /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nthe file\n$/;

function start(t: Test, args: string[]): Promise<Server> {
  const root = makeSite(t, { 'a.txt': BODY });
  return startServer(t, { root, workers: 0, args: ['--log-level', 'debug', ...args] });
}

/** The access line of the request whose target is `path` (each case asks for its own). */
function accessOf(s: Server, path: string): Promise<LogLine> {
  return s.waitForLog((l) => l.kind === 'access' && l.path === path, 5000);
}

/** What one request (after `before`) gets back, the connection closed after it. */
function ask(s: Server, before: string | Buffer, path: string, extra = ''): Promise<{ data: Buffer; closed: boolean; timedOut: boolean }> {
  return rawExchange(s.port, Buffer.concat([Buffer.from(before), Buffer.from(req(path, `Connection: close\r\n${extra}`))]));
}

/**
 * Sent (then, with `end`, the client's FIN), then closed by the server without one byte of an
 * answer; and the debug line saying why. A reset or a failed write counts as closed: the server
 * may close before the bytes are out.
 */
async function refused(t: Test, s: Server, bytes: string | Buffer, reason: string, what: string, end = false): Promise<void> {
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  c.write(bytes);
  if (end) c.sock.end();
  t.ok(await c.waitClosed(TIMEOUT_MS / 2), `${what}: closed by the server at once`);
  t.equal(c.received, 0, `${what}: not one byte of an answer`);
  const line = await s.waitForLog((l) => l.msg === `PROXY protocol: closed a connection from 127.0.0.1: ${reason}`, 3000);
  t.match(line, { level: 20, peer: '127.0.0.1', reason }, `${what}: logged (debug) with the reason`);
}

t.test('proxyProtocol: v1 and v2 headers name the client; the access log shows it, and the peer beside it', async (t) => {
  const s = await start(t, ['--proxy-protocol', 'true', '--proxy-protocol-timeout-ms', String(TIMEOUT_MS)]);

  const v1 = await ask(s, proxyV1('TCP4', '203.0.113.7', '127.0.0.1', 51234, 80), '/a.txt?case=v1');
  t.match(v1.data.toString('latin1'), ok, 'v1 TCP4: answered');
  t.match(await accessOf(s, '/a.txt?case=v1'), { remote: '203.0.113.7', peer: '127.0.0.1', status: 200 });

  const v1six = await ask(s, proxyV1('TCP6', '2001:DB8::0:7', '::1', 51234, 80), '/a.txt?case=v1-tcp6');
  t.match(v1six.data.toString('latin1'), ok, 'v1 TCP6: answered');
  t.match(await accessOf(s, '/a.txt?case=v1-tcp6'), { remote: '2001:db8::7', peer: '127.0.0.1' });

  // v2 over IPv6 with TLVs, then two pipelined requests in the same packet: both answered.
  const header = proxyV2({ family: 2, source: '2001:db8::42', sourcePort: 4711, tlvs: Buffer.concat([tlv(0x01, Buffer.from('http/1.1')), tlv(0x04, Buffer.alloc(0))]) });
  const two = await rawExchange(s.port, Buffer.concat([header, Buffer.from(req('/a.txt?case=v2-1') + req('/a.txt?case=v2-2', 'Connection: close\r\n'))]));
  t.equal(two.data.toString('latin1').match(/HTTP\/1\.1 200 OK/g)?.length, 2, 'v2 TCP6: both pipelined requests answered');
  for (const path of ['/a.txt?case=v2-1', '/a.txt?case=v2-2']) t.match(await accessOf(s, path), { remote: '2001:db8::42', peer: '127.0.0.1' }, path);

  const v2four = await ask(s, proxyV2({ source: '198.51.100.23' }), '/a.txt?case=v2-tcp4');
  t.match(v2four.data.toString('latin1'), ok);
  t.match(await accessOf(s, '/a.txt?case=v2-tcp4'), { remote: '198.51.100.23', peer: '127.0.0.1' });

  // LOCAL (a proxy's own health check) and UNKNOWN name nobody: the peer is the client, no peer field.
  const local = await ask(s, proxyV2({ command: 0, family: 0, transport: 0 }), '/a.txt?case=local');
  t.match(local.data.toString('latin1'), ok, 'v2 LOCAL: answered');
  const localLine = await accessOf(s, '/a.txt?case=local');
  t.equal(localLine.remote, '127.0.0.1');
  t.notOk('peer' in localLine, 'no peer field when the peer is the client');
  const unknown = await ask(s, 'PROXY UNKNOWN\r\n', '/a.txt?case=unknown');
  t.match(unknown.data.toString('latin1'), ok, 'v1 UNKNOWN: answered');
  t.match(await accessOf(s, '/a.txt?case=unknown'), { remote: '127.0.0.1' });

  // A header and a request that arrive in several packets.
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  c.sock.setNoDelay(true);
  const whole = Buffer.concat([proxyV2({ source: '192.0.2.200' }), Buffer.from(req('/a.txt?case=split', 'Connection: close\r\n'))]);
  for (const [from, to] of [[0, 1], [1, 7], [7, 13], [13, 15], [15, 20], [20, 30], [30, whole.length]] as const) {
    c.write(whole.subarray(from, to));
    await sleep(20); // separate packets: the server reads each part on its own
  }
  await c.waitFor((d) => d.toString('latin1').endsWith(BODY), 3000, 'the answer');
  t.match(c.data().toString('latin1'), ok, 'a header split over seven packets: answered');
  t.match(await accessOf(s, '/a.txt?case=split'), { remote: '192.0.2.200', peer: '127.0.0.1' });
});

t.test('proxyProtocol: a connection without a valid header is closed unanswered, and logged', async (t) => {
  const s = await start(t, ['--proxy-protocol', 'true', '--proxy-protocol-timeout-ms', String(TIMEOUT_MS)]);
  await refused(t, s, req('/a.txt'), 'no PROXY protocol header', 'plain HTTP');
  const warning = await s.waitForLog((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('PROXY protocol:'), 3000);
  t.equal(warning.msg, 'PROXY protocol: 1 connection closed without a valid header (the last from 127.0.0.1: no PROXY protocol header)', 'the first one is a warning at once');
  await refused(t, s, crypto.randomBytes(64).fill(0x41, 0, 1), 'no PROXY protocol header', 'garbage');
  await refused(t, s, `PROXY TCP4 203.0.113.7 127.0.0.1 99999 80\r\n${req('/a.txt')}`, 'v1: source port is not a number from 0 to 65535', 'a v1 header with a bad port');
  await refused(t, s, Buffer.concat([proxyV2({ version: 1 }), Buffer.from(req('/a.txt'))]), 'v2: version is not 2', 'a v2 header of another version');
  await refused(t, s, `PROXY TCP4 ${'1'.repeat(120)}`, 'v1: no CRLF within 107 bytes', 'a v1 line that never ends');
  t.equal(s.logs.filter((l) => l.level === 40 && String(l.msg).startsWith('PROXY protocol:')).length, 1, 'the later ones wait for the next summary (at most one every 10 s)');

  // Too slow: part of a header, then a byte every 100 ms. The limit counts from the accept
  // (not from the last byte), so the trickle does not extend it.
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  const connectedAt = performance.now();
  c.write('PROXY UNKNOWN ');
  const trickle = setInterval(() => c.closed || c.write('x'), 100);
  t.teardown(() => clearInterval(trickle));
  t.ok(await c.waitClosed(TIMEOUT_MS * 4), 'the slow header is cut');
  clearInterval(trickle);
  const after = c.closedAt - connectedAt;
  t.ok(after >= TIMEOUT_MS - 20 && after < TIMEOUT_MS * 1.5, `closed ${Math.round(after)} ms after connecting (limit ${TIMEOUT_MS} ms)`);
  t.equal(c.received, 0, 'without one byte of an answer');
  await s.waitForLog((l) => l.msg === `PROXY protocol: closed a connection from 127.0.0.1: no complete PROXY header within ${TIMEOUT_MS} ms`, 3000);

  // A header cut by the client's close, and a connection that sends nothing and closes: only the first is worth a line.
  await refused(t, s, 'PROXY TCP4 203.0.113.7', 'closed by the peer within its PROXY header', 'a header cut by the peer', true);
  const silent = await Client.connect(s.port);
  silent.sock.end();
  t.ok(await silent.waitClosed(2000), 'a connection that sent nothing closes');
  const v1 = await ask(s, proxyV1('TCP4', '203.0.113.8', '127.0.0.1', 1, 80), '/a.txt?case=after');
  t.match(v1.data.toString('latin1'), ok, 'the server goes on serving');
  await accessOf(s, '/a.txt?case=after');
  t.equal(s.logs.filter((l) => String(l.msg).startsWith('PROXY protocol: closed a connection')).length, 7, 'six refusals and the slow one logged; the silent close not');
});

t.test('proxyProtocol with trustedProxies: only listed peers may connect; X-Forwarded-For is read past a trusted header source', async (t) => {
  const outside = await start(t, ['--proxy-protocol', 'true', '--trusted-proxies', '10.0.0.0/8, ::1']);
  await refused(t, outside, Buffer.concat([Buffer.from(proxyV1('TCP4', '203.0.113.7', '127.0.0.1', 1, 80)), Buffer.from(req('/a.txt'))]), 'peer not in trustedProxies', 'a valid header from 127.0.0.1, which is not in 10.0.0.0/8');

  const s = await start(t, ['--proxy-protocol', 'true', '--trusted-proxies', '127.0.0.1, 10.0.0.0/8']);
  // HAProxy in TCP mode behind a CDN: the header names the CDN's edge (trusted), whose X-Forwarded-For names the client.
  const viaEdge = await ask(s, proxyV1('TCP4', '10.9.9.9', '127.0.0.1', 1, 80), '/a.txt?case=edge', 'X-Forwarded-For: 6.6.6.6, 198.51.100.4\r\nX-Forwarded-Proto: https\r\n');
  t.match(viaEdge.data.toString('latin1'), ok);
  t.match(await accessOf(s, '/a.txt?case=edge'), { remote: '198.51.100.4', peer: '127.0.0.1', proto: 'https' });
  // The header names a client that is no proxy: its own X-Forwarded-For is its own invention.
  const direct = await ask(s, proxyV1('TCP4', '203.0.113.7', '127.0.0.1', 1, 80), '/a.txt?case=client-xff', 'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n');
  t.match(direct.data.toString('latin1'), ok);
  const line = await accessOf(s, '/a.txt?case=client-xff');
  t.match(line, { remote: '203.0.113.7', peer: '127.0.0.1' });
  t.notOk('proto' in line, 'nor is its X-Forwarded-Proto believed');
});

t.test('X-Forwarded-For and -Proto from a trusted peer: the rightmost untrusted address is the client', async (t) => {
  const s = await start(t, ['--trusted-proxies', '127.0.0.1, 10.0.0.0/8']);
  const cases: [string, string, Record<string, unknown>][] = [
    ['one', 'X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n', { remote: '203.0.113.9', peer: '127.0.0.1', proto: 'https' }],
    ['spoofed', 'X-Forwarded-For: 1.2.3.4, 203.0.113.9\r\n', { remote: '203.0.113.9', peer: '127.0.0.1' }],
    ['chain', 'X-Forwarded-For: 1.2.3.4, 203.0.113.9, 10.1.2.3\r\nX-Forwarded-Proto: http\r\n', { remote: '203.0.113.9', peer: '127.0.0.1', proto: 'http' }],
    ['two-fields', 'X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 203.0.113.10\r\n', { remote: '203.0.113.10', peer: '127.0.0.1' }],
    ['malformed', 'X-Forwarded-For: 203.0.113.9, not-an-ip, 10.1.2.3\r\n', { remote: '10.1.2.3', peer: '127.0.0.1' }],
    ['malformed-last', 'X-Forwarded-For: 203.0.113.9, not-an-ip\r\n', { remote: '127.0.0.1' }],
    ['ipv6-port', 'X-Forwarded-For: [2001:db8::9]:443\r\n', { remote: '2001:db8::9', peer: '127.0.0.1' }],
    ['none', '', { remote: '127.0.0.1' }],
  ];
  const answers = await Promise.all(cases.map(([name, extra]) => ask(s, '', `/a.txt?case=${name}`, extra)));
  answers.forEach((a, i) => t.match(a.data.toString('latin1'), ok, `${cases[i]![0]}: answered`));
  for (const [name, , want] of cases) {
    const line = await accessOf(s, `/a.txt?case=${name}`);
    t.match(line, want, name);
    if (!('peer' in want)) t.notOk('peer' in line, `${name}: no peer field`);
    if (!('proto' in want)) t.notOk('proto' in line, `${name}: no proto field`);
  }
  // Believed per request: on one keep-alive connection, the second request carries no header.
  const kept = await rawExchange(s.port, req('/a.txt?case=keep-1', 'X-Forwarded-For: 203.0.113.77\r\n') + req('/a.txt?case=keep-2', 'Connection: close\r\n'));
  t.equal(kept.data.toString('latin1').match(/HTTP\/1\.1 200 OK/g)?.length, 2);
  t.match(await accessOf(s, '/a.txt?case=keep-1'), { remote: '203.0.113.77', peer: '127.0.0.1' });
  t.notOk('peer' in (await accessOf(s, '/a.txt?case=keep-2')), 'the next request on the connection: the peer again');
  // A request the parser refuses has no fields to believe: the peer.
  await rawExchange(s.port, 'GET /x HTTP/1.1\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n');
  t.match(await s.waitForLog((l) => l.kind === 'access' && l.status === 400, 5000), { remote: '127.0.0.1' });
});

for (const [what, args] of [
  ['trustedProxies empty', []],
  ['trustedProxies 10.0.0.0/8, which excludes 127.0.0.1', ['--trusted-proxies', '10.0.0.0/8, ::1']],
] as const) {
  t.test(`X-Forwarded-For and -Proto from an untrusted peer are ignored (${what})`, async (t) => {
    const s = await start(t, [...args]);
    const r = await ask(s, '', '/a.txt?case=untrusted', 'X-Forwarded-For: 1.2.3.4, 203.0.113.9\r\nX-Forwarded-Proto: https\r\n');
    t.match(r.data.toString('latin1'), ok);
    const line = await accessOf(s, '/a.txt?case=untrusted');
    t.equal(line.remote, '127.0.0.1', 'the peer, whatever the header says');
    t.notOk('peer' in line || 'proto' in line, 'no peer, no proto');
  });
}

t.test('proxyProtocol: a drain waits for a header being read, then answers its request with Connection: close', async (t) => {
  const s = await start(t, ['--proxy-protocol', 'true', '--proxy-protocol-timeout-ms', '5000']);
  const c = await Client.connect(s.port);
  t.teardown(() => c.destroy());
  const header = proxyV2({ source: '198.51.100.61' });
  c.write(header.subarray(0, 10));
  // Accepts are taken from the queue in order: once a later connection is answered, this one is accepted too.
  t.match((await ask(s, proxyV2(), '/a.txt?case=later')).data.toString('latin1'), ok);
  process.kill(s.pid, 'SIGTERM');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining: '), 3000);
  c.write(Buffer.concat([header.subarray(10), Buffer.from(req('/a.txt?case=drain'))]));
  await c.waitFor((d) => d.toString('latin1').endsWith(BODY), 3000, 'the answer');
  t.match(c.data().toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n/, 'answered, with Connection: close');
  t.same(await s.exited(), { code: 0, signal: null }, 'then the drain ends cleanly');
  t.match(s.logs.find((l) => l.kind === 'access' && l.path === '/a.txt?case=drain'), { remote: '198.51.100.61' });
});

t.test('a reload in place (single process) applies proxyProtocol and trustedProxies to new connections', async (t) => {
  const root = makeSite(t, { 'a.txt': BODY });
  const file = path.join(path.dirname(root), 'fleetserve.json');
  fs.writeFileSync(file, JSON.stringify({ root }));
  const s = await startServer(t, { workers: 0, args: ['--config', file] });
  const plain = await ask(s, '', '/a.txt?case=before', 'X-Forwarded-For: 203.0.113.1\r\n');
  t.match(plain.data.toString('latin1'), ok, 'before: plain HTTP');
  t.match(await accessOf(s, '/a.txt?case=before'), { remote: '127.0.0.1' });
  fs.writeFileSync(file, JSON.stringify({ root, proxyProtocol: true, trustedProxies: ['127.0.0.1', '10.0.0.0/8'] }));
  process.kill(s.pid, 'SIGHUP');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload finished in place'), 5000);
  const r = await rawExchange(s.port, req('/a.txt'));
  t.equal(r.data.length, 0, 'after: plain HTTP is closed unanswered');
  const proxied = await ask(s, proxyV1('TCP4', '10.2.3.4', '127.0.0.1', 1, 80), '/a.txt?case=after', 'X-Forwarded-For: 203.0.113.1\r\n');
  t.match(proxied.data.toString('latin1'), ok, 'after: a PROXY header is required, and enough');
  t.match(await accessOf(s, '/a.txt?case=after'), { remote: '203.0.113.1', peer: '127.0.0.1' });
});
