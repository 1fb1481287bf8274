// The single process's role with a fake process: it prints its own failed start (exit 2 for
// a configuration, 1 for an address), announces its addresses and a stop, serves the metrics
// port itself (a port it cannot bind stops the start), reloads in place on SIGHUP unless it
// is stopping (serving the certificate files read again, unless they fail), and says so when
// SIGUSR1 reopens the logs.
import net from 'node:net';
import t from 'tap';
import type { Config } from '../../../src/config/config';
import { ConfigError } from '../../../src/errors';
import type { ServingMetrics } from '../../../src/metrics/serving-metrics';
import { firstServing, InForce, type ServingParts } from '../../../src/process/serving';
import type { Drainer } from '../../../src/process/shutdown';
import { SingleProcess } from '../../../src/process/single-process';
import type { WorkerParts } from '../../../src/process/worker-role';
import type { CertificateSet } from '../../../src/tls/certificates';
import { run, sandbox } from '../../fixtures/config';
import { FakeHost, recordingLoggers } from '../../fixtures/process-fakes';

function setup(readConfig: () => Config = () => {
  throw new ConfigError('not read in this test');
}) {
  const host = new FakeHost();
  const l = recordingLoggers();
  return { host, role: new SingleProcess(l.loggers, readConfig, host), ...l };
}

t.test('a failed start: one line on stderr; a configuration exits 2, an address 1', async (t) => {
  const a = setup();
  a.role.failStart({ kind: 'config', message: 'basicAuth[0].htpasswd: cannot read /x: ENOENT' });
  t.same(a.host.errors, ['fleetserve: basicAuth[0].htpasswd: cannot read /x: ENOENT\n']);
  t.same(a.host.exits, [2]);
  t.equal(a.flushes(), 1);
  const b = setup();
  b.role.failStart({ kind: 'listen', message: 'port 80 on ::1 is already in use' });
  t.same(b.host.errors, ['fleetserve: port 80 on ::1 is already in use\n']);
  t.same(b.host.exits, [1]);
  t.same(b.host.sent, [], 'no primary to tell');
  t.equal(b.role.askPause, null, 'alone it may never stop listening');
  t.equal(b.role.metricsLabel, 'single');
});

t.test('it announces every address it listens on, and an inherited socket', async (t) => {
  const box = sandbox(t);
  const config = run(['--root', box.site, '--host', 'localhost', '--port', '8080'], {}, box.cwd);
  const o = setup();
  o.role.announce({ config, port: 8080, addresses: ['127.0.0.1', '::1'], inherited: null, inheritedAddress: '', httpPortBound: 0 });
  t.equal(o.lines[0]!.msg, 'listening on http://localhost:8080/, http://127.0.0.1:8080/ and http://[::1]:8080/ (single process)');
  t.equal(o.lines[0]!.fields.root, box.site);
  o.role.announce({ config, port: 8080, addresses: [], inherited: { main: { fd: 3, name: 'web' }, httpPort: null }, inheritedAddress: '0.0.0.0', httpPortBound: 0 });
  t.same(o.lines.slice(1).map((l) => [l.level, l.msg]), [['info', 'listening on 0.0.0.0:8080 from the inherited socket fd 3 (web) (single process; host and port settings ignored)']]);
  o.role.announce({ config, port: 8443, addresses: [], inherited: { main: { fd: 3, name: 'https' }, httpPort: { fd: 4, name: 'http' } }, inheritedAddress: '::', httpPortBound: 8080 });
  t.same(
    o.lines.slice(2).map((l) => [l.level, l.msg]),
    [['info', 'listening on :::8443 from the inherited socket fd 3 (https) and httpPort 8080 from the inherited socket fd 4 (http) (single process; host, port and httpPort settings ignored)']],
  );
  t.match(o.lines[2]!.fields, { fd: 3, fdName: 'https', httpFd: 4, httpFdName: 'http', httpPort: 8080 });
});

t.test('it announces a stop with how long it may take', async (t) => {
  const o = setup();
  o.role.announceStop('SIGINT', { drainTimeoutMs: 10_000, preDrainDelayMs: 0 });
  t.same(o.lines, [{ level: 'info', fields: { signal: 'SIGINT', drainTimeoutMs: 10_000, preDrainDelayMs: 0 }, msg: 'SIGINT: draining, up to 10000 ms; Ctrl+C again to stop at once' }]);
});

t.test('SIGHUP reloads in place, except while stopping; SIGUSR1 reopens and says so', async (t) => {
  const box = sandbox(t);
  let keepAlive = '5000';
  const readConfig = () => run(['--root', box.site, '--keep-alive-timeout-ms', keepAlive], {}, box.cwd);
  const o = setup(readConfig);
  const serving: ServingParts = { handler: () => ({ handle: () => null as never, cacheHits: 0, cacheMisses: 0, cacheSize: { entries: 0, bytes: 0 } }), behindProxy: () => null, certificates: () => null };
  const inForce = new InForce(firstServing(readConfig(), serving));
  const drainer = { stopping: false };
  o.role.install({ drainer: drainer as unknown as Drainer, inForce, serving } as WorkerParts);
  keepAlive = '700';
  o.host.emit('SIGHUP');
  t.equal(inForce.current.config.keepAliveTimeoutMs, 700, 'reloaded');
  t.equal(o.lines.at(-1)!.msg, 'reload finished in place: keepAliveTimeoutMs: 5000 → 700');
  drainer.stopping = true;
  keepAlive = '900';
  o.host.emit('SIGHUP');
  t.equal(inForce.current.config.keepAliveTimeoutMs, 700, 'not while stopping');
  t.same(o.lines.at(-1), { level: 'warn', fields: {}, msg: 'SIGHUP while stopping: ignored' });
  o.host.emit('SIGUSR1');
  t.equal(o.reopens(), 1);
  t.equal(o.lines.at(-1)!.msg, 'SIGUSR1: log files reopened');
});

/** A read of the pairs, numbered: one certificate valid until `notAfter` (2099: no warning about it). */
function fakeSet(n: number, notAfter = new Date(Date.UTC(2099, 0, 1))): CertificateSet {
  const info = { dnsNames: [], ipAddresses: [], notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter };
  return { n, defaultPair: { certFile: '/etc/tls/cert.pem', info }, sniPairs: [] } as unknown as CertificateSet;
}

t.test('SIGHUP with TLS: the pairs read with the new configuration replace the ones served; a pair that fails leaves them', async (t) => {
  const box = sandbox(t);
  const readConfig = () => run(['--root', box.site], {}, box.cwd);
  const o = setup(readConfig);
  let reads = 0;
  let bad: string | null = null;
  const serving: ServingParts = {
    handler: () => ({ handle: () => null as never, cacheHits: 0, cacheMisses: 0, cacheSize: { entries: 0, bytes: 0 } }),
    behindProxy: () => null,
    certificates: () => {
      if (bad !== null) throw new ConfigError(bad);
      return fakeSet(++reads);
    },
  };
  const inForce = new InForce(firstServing(readConfig(), serving));
  const replaced: CertificateSet[] = [];
  o.role.install({ drainer: { stopping: false } as unknown as Drainer, inForce, serving, replaceCertificates: (set: CertificateSet) => void replaced.push(set) } as unknown as WorkerParts);
  o.host.emit('SIGHUP');
  t.equal(replaced.length, 1, 'replaced once');
  t.equal(replaced[0], inForce.current.certificates, 'with the pairs of the configuration now in force');
  t.same(replaced[0], fakeSet(2), 'the second read of the files');
  t.same(o.lines.filter((l) => l.level === 'warn').map((l) => l.msg), [], 'a valid certificate: no warning');
  bad = 'tlsKey: /etc/tls/key.pem does not match the certificate in /etc/tls/cert.pem (another ECDSA P-256 key)';
  o.host.emit('SIGHUP');
  t.equal(replaced.length, 1, 'a pair that fails replaces nothing');
  t.same(inForce.current.certificates, fakeSet(2), 'the pairs in force stay');
  t.same(
    o.lines.filter((l) => l.level === 'error').map((l) => l.msg),
    [`reload failed: ${bad}; the configuration in force stays`],
    'one error line naming the file',
  );
});

t.test('SIGHUP with TLS: an expired certificate read by the reload is warned about, from the pairs it read', async (t) => {
  const box = sandbox(t);
  const readConfig = () => run(['--root', box.site], {}, box.cwd);
  const o = setup(readConfig);
  let reads = 0;
  const serving: ServingParts = {
    handler: () => ({ handle: () => null as never, cacheHits: 0, cacheMisses: 0, cacheSize: { entries: 0, bytes: 0 } }),
    behindProxy: () => null,
    certificates: () => fakeSet(++reads, reads > 1 ? new Date(Date.UTC(2020, 1, 1)) : undefined),
  };
  const inForce = new InForce(firstServing(readConfig(), serving));
  o.role.install({ drainer: { stopping: false } as unknown as Drainer, inForce, serving, replaceCertificates: () => undefined } as unknown as WorkerParts);
  o.host.emit('SIGHUP');
  t.same(o.lines.filter((l) => l.level === 'warn').map((l) => l.msg), ['tlsCert: /etc/tls/cert.pem expired on 2020-02-01T00:00:00.000Z (notAfter); clients will refuse it']);
  t.equal(reads, 2, 'the files read once by the reload, not again for the warning');
});

t.test('metrics: a port it cannot bind stops the start before the public port is opened', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const o = setup();
  let listened = false;
  o.role.startMetrics({} as ServingMetrics, { metricsHost: '127.0.0.1', metricsPort: port } as Config, () => (listened = true));
  await new Promise<void>((resolve) => {
    const wait = () => (o.host.exits.length > 0 ? resolve() : setTimeout(wait, 10));
    wait();
  });
  t.same(o.host.errors, [`fleetserve: metrics listener: port ${port} on 127.0.0.1 is already in use\n`]);
  t.same(o.host.exits, [1]);
  t.equal(listened, false, 'the public port was never opened');
});
