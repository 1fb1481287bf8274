// Socket activation with HTTPS: two inherited sockets told apart by their names
// (FileDescriptorName=, LISTEN_FDNAMES): "https" is the main listener (TLS), "http" the
// httpPort listener (308 to HTTPS). systemd-socket-activate (Debian's systemd package) holds
// both on 127.0.0.1 and execs fleetserve on the first connection. Sockets fleetserve cannot
// tell apart, or that no listener takes, are a one-line error and exit 2 with nothing served.
import t, { type Test } from 'tap';
import { makeSite, MAIN, rawExchange } from '../fixtures/server';
import { spawnLines, which, type Line } from '../fixtures/lines';
import { machineSkip } from '../fixtures/machine';
import { makeTestPki, opensslSkip, type TestPki } from '../fixtures/tls';
import { tlsExchange } from '../fixtures/tls-exchange';
import { freePort, tryRequest } from '../fixtures/wire';

const skip = machineSkip() || opensslSkip || (which('systemd-socket-activate') ? false : "systemd-socket-activate not found: install Debian's systemd package (.ci/run does)");

const isListening = (l: Line) => typeof l.msg === 'string' && l.msg.startsWith('listening on');
const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;

/**
 * systemd-socket-activate listening on 127.0.0.1 at each of `ports` (fds 3, 4, ...), named
 * `fdnames` (null: no names), running fleetserve with `args` on the first connection.
 */
async function activate(t: Test, ports: number[], fdnames: string | null, args: string[]) {
  const listen = ports.flatMap((p) => ['-l', `127.0.0.1:${p}`]);
  const names = fdnames === null ? [] : [`--fdname=${fdnames}`];
  const proc = spawnLines(t, 'systemd-socket-activate', [...listen, ...names, process.execPath, MAIN, '--log-pretty', 'false', '--access-log', 'false', ...args]);
  await proc.waitForStderr(new RegExp(`Listening on 127\\.0\\.0\\.1:${ports.at(-1)} as ${2 + ports.length}`));
  return proc;
}

function tlsArgs(pki: TestPki, root: string): string[] {
  return ['--root', root, '--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key];
}

t.test('two named sockets: "https" serves TLS, "http" redirects to it; the configured ports stay unbound', { skip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'index.html': 'home\n' });
  for (const mode of [
    { name: 'two workers', workers: '2', order: 'https:http' },
    { name: 'single process, the names in the other order', workers: '0', order: 'http:https' },
  ]) {
    t.test(mode.name, async (t) => {
      const [tlsPort, httpPort, unusedPort, unusedHttpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
      const ports = mode.order === 'https:http' ? [tlsPort, httpPort] : [httpPort, tlsPort];
      const args = [...tlsArgs(pki, root), '--workers', mode.workers, '--host', '127.0.0.1', '--port', String(unusedPort), '--http-port', String(unusedHttpPort)];
      const proc = await activate(t, ports, mode.order, args);
      // The first connection makes systemd-socket-activate exec fleetserve; it waits in the backlog.
      const first = tlsExchange(tlsPort, pki.caPem, GET('/index.html'));
      const line = await proc.waitFor(isListening, 10_000, 'listening line');
      const [httpsFd, httpFd] = mode.order === 'https:http' ? [3, 4] : [4, 3];
      t.match(line, { fd: httpsFd, fdName: 'https', port: tlsPort, httpFd, httpFdName: 'http', httpPort });
      t.match(line.msg, new RegExp(`from the inherited socket fd ${httpsFd} \\(https\\) and httpPort ${httpPort} from the inherited socket fd ${httpFd} \\(http\\).*host, port and httpPort settings ignored`));

      const got = await first;
      t.equal(got.cn, 'ecdsa-local', 'the "https" socket speaks TLS with the configured certificate');
      t.ok(got.authorized, 'verified against the test CA');
      t.match(got.data.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhome\n$/);
      const plainOnTls = await rawExchange(tlsPort, GET('/index.html'));
      t.match(plainOnTls.data.toString('latin1'), /^HTTP\/1\.1 400 [\s\S]*this port speaks HTTPS/, 'plain text on the "https" socket: the TLS listener\'s 400');

      const redirect = await rawExchange(httpPort, GET('/index.html?q=1'));
      t.match(redirect.data.toString('latin1'), /^HTTP\/1\.1 308 /, 'the "http" socket redirects');
      t.match(redirect.data.toString('latin1'), new RegExp(`\\r\\nLocation: https://localhost:${tlsPort}/index\\.html\\?q=1\\r\\n`), 'to the "https" socket\'s port');

      for (const port of [unusedPort, unusedHttpPort]) t.equal((await tryRequest(port)).outcome, 'refused', `the configured port ${port} is not bound`);
      process.kill(line.pid as number, 'SIGTERM');
      t.equal((await proc.exited()).code, 0, 'drains and exits 0');
    });
  }
});

t.test('one unnamed socket with HTTPS: the main listener as before, httpPort bound from the configuration', { skip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'index.html': 'home\n' });
  const [tlsPort, httpPort] = [await freePort(), await freePort()];
  const proc = await activate(t, [tlsPort], null, [...tlsArgs(pki, root), '--workers', '1', '--host', '127.0.0.1', '--http-port', String(httpPort)]);
  const first = tlsExchange(tlsPort, pki.caPem, GET('/index.html'));
  const line = await proc.waitFor(isListening, 10_000, 'listening line');
  t.match(line, { fd: 3, fdName: '', port: tlsPort });
  t.equal(line.msg, `listening on port ${tlsPort} from the inherited socket fd 3 with 1 worker (host and port settings ignored)`);
  t.equal((await first).cn, 'ecdsa-local');
  const redirect = (await rawExchange(httpPort, GET('/a'))).data.toString('latin1');
  t.match(redirect, new RegExp(`^HTTP/1\\.1 308 [\\s\\S]*\\r\\nLocation: https://localhost:${tlsPort}/a\\r\\n`), 'httpPort, bound on host, redirects to the inherited port');
});

t.test('sockets that cannot be told apart or served: one line, exit 2, nothing served', { skip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'index.html': 'home\n' });
  const naming = '"https" for the main listener (host/port) and "http" for httpPort (FileDescriptorName= in their socket units)';
  const tls = [...tlsArgs(pki, root), '--http-port', '1'];
  const cases: { what: string; sockets: number; fdnames: string | null; args: string[]; line: string }[] = [
    { what: 'two sockets without names', sockets: 2, fdnames: null, args: tls, line: `2 inherited sockets need names to tell them apart: ${naming}` },
    { what: 'an unknown name', sockets: 2, fdnames: 'https:web', args: tls, line: `inherited fd 4 is named "web": name the 2 sockets ${naming}` },
    // systemd-socket-activate gives the one name to every socket.
    { what: 'one name for both', sockets: 2, fdnames: 'https', args: tls, line: `both inherited sockets are named "https": name them ${naming}` },
    { what: 'more sockets than listeners', sockets: 3, fdnames: 'https:http:admin', args: tls, line: `3 inherited sockets (LISTEN_FDS=3), but fleetserve serves at most 2: ${naming}` },
    {
      what: 'an "http" socket while httpPort is 0',
      sockets: 2,
      fdnames: 'https:http',
      args: tlsArgs(pki, root),
      line: 'the inherited socket fd 4 is named "http" (the httpPort listener) but httpPort is 0 (off): set httpPort to turn that listener on (the socket\'s own port is served)',
    },
    { what: 'two sockets without HTTPS', sockets: 2, fdnames: 'https:http', args: ['--root', root], line: '2 inherited sockets (LISTEN_FDS=2), but without HTTPS (tlsCert and tlsKey) fleetserve has one listener' },
    { what: 'an "https" socket without HTTPS', sockets: 1, fdnames: 'https', args: ['--root', root], line: 'the inherited socket is named "https" but HTTPS is off: set tlsCert and tlsKey, or rename the socket (FileDescriptorName=)' },
    {
      what: 'an "http" socket alone with HTTPS',
      sockets: 1,
      fdnames: 'http',
      args: tls,
      line: 'the only inherited socket is named "http" (the httpPort listener) but HTTPS is on: the main listener needs a socket named "https"',
    },
  ];
  for (const c of cases) {
    const ports: number[] = [];
    for (let i = 0; i < c.sockets; i++) ports.push(await freePort());
    const proc = await activate(t, ports, c.fdnames, [...c.args, '--workers', '2']);
    const probe = await tryRequest(ports[0]!, '127.0.0.1', 5000); // makes it exec fleetserve
    t.equal((await proc.exited()).code, 2, `${c.what}: exit 2`);
    t.equal(proc.stderr().split('\n').filter((l) => l.startsWith('fleetserve:')).join('\n'), `fleetserve: ${c.line}`, `${c.what}: the one line`);
    t.equal(probe.outcome, 'refused', `${c.what}: the connection was closed without an answer`);
    t.notOk(proc.lines.some(isListening), `${c.what}: no listening line`);
  }
});
