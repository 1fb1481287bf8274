// The HTTPS keys of the configuration (src/config/config.ts, src/tls/settings.ts): defaults, every
// source (flag, env, JSON file), paths made absolute, each bad input refused by its exact line
// (at load, so --check-config and a start refuse the same, exit 2), and the certificate
// warnings the process logs at start.
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadCertificateSet, certificateWarnings } from '../../src/tls/settings';
import { errorOf, run } from '../fixtures/config';
import { makeSite, spawnServer } from '../fixtures/server';
import { makeTestPki, opensslSkip, type TestPki } from '../fixtures/tls';

t.test('defaults: HTTPS off', (t) => {
  const cwd = makeSite(t, { 'index.html': 'x' });
  const c = run([], {}, cwd);
  t.same(
    { tlsCert: c.tlsCert, tlsKey: c.tlsKey, tlsCertificates: c.tlsCertificates, tlsMinVersion: c.tlsMinVersion, httpPort: c.httpPort, httpRedirect: c.httpRedirect, hsts: c.hsts },
    { tlsCert: '', tlsKey: '', tlsCertificates: [], tlsMinVersion: 'TLSv1.2', httpPort: 0, httpRedirect: true, hsts: '' },
  );
  t.equal(errorOf(['--tls-min-version', 'TLSv1.1'], {}, cwd), 'tlsMinVersion: must be one of the possible values: ["TLSv1.2","TLSv1.3"]: value was "TLSv1.1"');
  t.equal(errorOf(['--http-redirect=maybe'], {}, cwd), 'httpRedirect: must be true or false (or 1/0, yes/no, on/off): value was "maybe"');
  t.equal(errorOf(['--http-port', '70000'], {}, cwd), 'httpPort: must be a port number from 0 to 65535: value was 70000');
  t.end();
});

t.test('with the test CA', { skip: opensslSkip }, (t) => {
  const pki = makeTestPki(t);
  const cwd = pki.dir;
  fs.writeFileSync(path.join(cwd, 'index.html'), 'x');
  const rel = (p: string) => path.relative(cwd, p);
  const base = ['--root', '.', '--tls-cert', rel(pki.ecdsaLocal.cert), '--tls-key', rel(pki.ecdsaLocal.key)];

  t.test('every source; paths absolute in the result', (t) => sources(t, pki, cwd, base, rel));
  t.test('each bad input, by its exact line', (t) => refusals(t, pki, cwd, base, rel));

  t.test('warnings: expired and expiring certificates start, with a line naming the notAfter', (t) => {
    const entries = [{ cert: rel(pki.rsaA.cert), key: rel(pki.rsaKey) }, { cert: rel(pki.expiringSoon.cert), key: rel(pki.ecdsaKey) }];
    const c = run(['--root', '.', '--tls-cert', rel(pki.expired.cert), '--tls-key', rel(pki.ecdsaKey), '--tls-certificates', JSON.stringify(entries)], {}, cwd);
    const warnings = certificateWarnings(loadCertificateSet(c));
    t.equal(warnings.length, 2, warnings.join('\n'));
    t.equal(warnings[0], `tlsCert: ${pki.expired.cert} expired on 2020-02-01T00:00:00.000Z (notAfter); clients will refuse it`);
    t.match(warnings[1], new RegExp(`^tlsCertificates\\[1\\]\\.cert: ${pki.expiringSoon.cert} expires on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(notAfter\\), in 4 days$`));
    t.same(certificateWarnings(loadCertificateSet(run(base, {}, cwd))), [], 'a valid certificate: none');
    t.end();
  });

  t.test('--check-config and a start refuse a bad pair with the same line, exit 2', async (t) => {
    const line = `fleetserve: tlsKey: ${pki.rsaKey} does not match the certificate in ${pki.ecdsaLocal.cert} (an RSA 2048 key for an ECDSA P-256 certificate)\n`;
    const bad = ['--host', '127.0.0.1', '--port', '0', '--workers', '1', '--root', cwd, '--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.rsaKey];
    for (const args of [['--check-config', ...bad], bad]) {
      const s = spawnServer({ args });
      t.teardown(() => s.kill());
      t.same(await s.exited(10_000), { code: 2, signal: null }, `${args[0]}: exit 2`);
      t.equal(s.stderr(), line, `${args[0]}: the one line`);
      t.equal(s.stdout(), '', `${args[0]}: nothing on stdout (nothing started)`);
    }
    const ok = spawnServer({ args: ['--check-config', '--root', cwd, '--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaKey, '--http-port', '8443', '--hsts', 'max-age=600'] });
    t.teardown(() => ok.kill());
    t.same(await ok.exited(10_000), { code: 0, signal: null });
    t.equal(ok.stdout(), 'configuration ok\n');
  });
  t.end();
});

function sources(t: Test, pki: TestPki, cwd: string, base: string[], rel: (p: string) => string): void {
  const c = run([...base, '--tls-min-version', 'TLSv1.3', '--http-port', '8080', '--http-redirect', 'no', '--hsts', 'max-age=63072000; includeSubDomains'], {}, cwd);
  t.equal(c.tlsCert, pki.ecdsaLocal.cert, 'a relative path made absolute against the working directory');
  t.equal(c.tlsKey, pki.ecdsaLocal.key);
  t.equal(c.tlsMinVersion, 'TLSv1.3');
  t.equal(c.httpPort, 8080);
  t.equal(c.httpRedirect, false);
  t.equal(c.hsts, 'max-age=63072000; includeSubDomains');
  const entries = [{ cert: rel(pki.rsaA.cert), key: rel(pki.rsaKey) }, { cert: pki.ecdsaB.cert, key: pki.ecdsaKey }];
  const absolute = [{ cert: pki.rsaA.cert, key: pki.rsaKey }, { cert: pki.ecdsaB.cert, key: pki.ecdsaKey }];
  t.same(run([...base, '--tls-certificates', JSON.stringify(entries)], {}, cwd).tlsCertificates, absolute, 'flag (JSON)');
  t.same(run(base, { FLEETSERVE_TLS_CERTIFICATES: JSON.stringify(entries) }, cwd).tlsCertificates, absolute, 'env (JSON)');
  const env = { FLEETSERVE_TLS_CERT: rel(pki.rsaLocal.cert), FLEETSERVE_TLS_KEY: rel(pki.rsaKey), FLEETSERVE_TLS_MIN_VERSION: 'TLSv1.3', FLEETSERVE_HTTP_PORT: '81', FLEETSERVE_HTTP_REDIRECT: 'false', FLEETSERVE_HSTS: 'max-age=1' };
  const e = run(['--root', '.'], env, cwd);
  t.same([e.tlsCert, e.tlsKey, e.tlsMinVersion, e.httpPort, e.httpRedirect, e.hsts], [pki.rsaLocal.cert, pki.rsaKey, 'TLSv1.3', 81, false, 'max-age=1'], 'env');
  const file = path.join(cwd, 'https.json');
  fs.writeFileSync(file, JSON.stringify({ tlsCert: pki.ecdsaLocal.cert, tlsKey: pki.ecdsaKey, tlsCertificates: [{ cert: pki.rsaA.cert, key: pki.rsaKey }], httpPort: 80, hsts: 'max-age=5' }));
  const f = run(['--root', '.', '--config', file], {}, cwd);
  t.same([f.tlsCert, f.tlsCertificates, f.httpPort, f.hsts], [pki.ecdsaLocal.cert, [{ cert: pki.rsaA.cert, key: pki.rsaKey }], 80, 'max-age=5'], 'JSON file');
  t.end();
}

function refusals(t: Test, pki: TestPki, cwd: string, base: string[], rel: (p: string) => string): void {
  const abs = (p: string) => path.join(cwd, p);
  fs.writeFileSync(abs('not-pem.txt'), 'hello\n');
  const ipOnly = pki.issue({ cn: 'ip-only', san: ['IP:127.0.0.2', 'DNS:*.com', 'DNS:f*.x.test'], keyType: 'ecdsa' });
  const certs = (...entries: { cert: string; key: string }[]) => ['--tls-certificates', JSON.stringify(entries)];
  const cases: [string[], string][] = [
    [['--tls-cert', rel(pki.ecdsaLocal.cert)], 'tlsCert: given without tlsKey (set both, or neither)'],
    [['--tls-key', rel(pki.ecdsaKey)], 'tlsKey: given without tlsCert (set both, or neither)'],
    [['--tls-cert', 'missing.pem', '--tls-key', rel(pki.ecdsaKey)], `tlsCert: cannot read ${abs('missing.pem')}: ENOENT`],
    [['--tls-cert', rel(pki.ecdsaLocal.cert), '--tls-key', 'missing.key'], `tlsKey: cannot read ${abs('missing.key')}: ENOENT`],
    [['--tls-cert', 'db', '--tls-key', rel(pki.ecdsaKey)], `tlsCert: cannot read ${abs('db')}: EISDIR`],
    [['--tls-cert', 'not-pem.txt', '--tls-key', rel(pki.ecdsaKey)], `tlsCert: ${abs('not-pem.txt')} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`],
    [['--tls-cert', rel(pki.ecdsaLocal.cert), '--tls-key', 'not-pem.txt'], `tlsKey: ${abs('not-pem.txt')} is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)`],
    [['--tls-cert', rel(pki.ecdsaLocal.cert), '--tls-key', rel(pki.rsaKey)], `tlsKey: ${pki.rsaKey} does not match the certificate in ${pki.ecdsaLocal.cert} (an RSA 2048 key for an ECDSA P-256 certificate)`],
    [['--tls-cert', rel(pki.rsaLocal.cert), '--tls-key', rel(pki.ecdsaKey)], `tlsKey: ${pki.ecdsaKey} does not match the certificate in ${pki.rsaLocal.cert} (an ECDSA P-256 key for an RSA 2048 certificate)`],
    [['--tls-cert', rel(pki.ecdsaLocal.cert), '--tls-key', rel(pki.strayEcdsaKey)], `tlsKey: ${pki.strayEcdsaKey} does not match the certificate in ${pki.ecdsaLocal.cert} (another ECDSA P-256 key)`],
    [[...base, ...certs({ cert: rel(pki.rsaA.cert), key: rel(pki.rsaKey) }, { cert: 'missing.pem', key: rel(pki.ecdsaKey) })], `tlsCertificates[1].cert: cannot read ${abs('missing.pem')}: ENOENT`],
    [[...base, ...certs({ cert: rel(pki.rsaA.cert), key: 'not-pem.txt' })], `tlsCertificates[0].key: ${abs('not-pem.txt')} is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)`],
    [[...base, ...certs({ cert: rel(pki.rsaA.cert), key: rel(pki.ecdsaKey) })], `tlsCertificates[0].key: ${pki.ecdsaKey} does not match the certificate in ${pki.rsaA.cert} (an ECDSA P-256 key for an RSA 2048 certificate)`],
    [[...base, ...certs({ cert: rel(ipOnly.cert), key: rel(pki.ecdsaKey) })], `tlsCertificates[0].cert: ${ipOnly.cert} has no DNS name in its subjectAltName that SNI could choose it by`],
    [[...base, '--tls-certificates', '{"cert":"a","key":"b"}'], 'tlsCertificates: must be an array of {"cert": FILE, "key": FILE}: value was "{\\"cert\\":\\"a\\",\\"key\\":\\"b\\"}"'],
    [[...base, '--tls-certificates', '[{"cert":"a"}]'], 'tlsCertificates: must be an array of {"cert": FILE, "key": FILE}: entry 0 is {"cert":"a"}: value was [{"cert":"a"}]'],
    [[...base, '--tls-certificates', '[{"cert":"a","key":"b","extra":1}]'], 'tlsCertificates: must be an array of {"cert": FILE, "key": FILE}: entry 0 is {"cert":"a","key":"b","extra":1}: value was [{"cert":"a","key":"b","extra":1}]'],
    [[...base, '--tls-certificates', '[{"cert":"","key":"b"}]'], 'tlsCertificates: must be an array of {"cert": FILE, "key": FILE}: entry 0 is {"cert":"","key":"b"}: value was [{"cert":"","key":"b"}]'],
    [[...base, '--tls-certificates', 'not json'], 'tlsCertificates: must be an array of {"cert": FILE, "key": FILE}: value was "not json"'],
    [['--root', '.', ...certs({ cert: rel(pki.rsaA.cert), key: rel(pki.rsaKey) })], 'tlsCertificates: needs tlsCert and tlsKey too (the certificate for clients without SNI or with a name none of these has)'],
    [['--root', '.', '--http-port', '8080'], 'httpPort: needs tlsCert and tlsKey, or acmeDomains (the HTTP port exists to send clients to HTTPS)'],
    [[...base, '--port', '8443', '--http-port', '8443'], 'httpPort: 8443 is also port (the HTTPS listener); the HTTP listener needs a port of its own'],
    [[...base, '--metrics-port', '9100', '--http-port', '9100'], 'httpPort: 9100 is also metricsPort; the HTTP listener needs a port of its own'],
    [['--root', '.', '--hsts', 'max-age=600'], 'hsts: needs tlsCert and tlsKey, or acmeDomains (Strict-Transport-Security is only sent over HTTPS)'],
    [[...base, '--hsts', 'includeSubDomains'], 'hsts: has no max-age (RFC 6797 requires it; browsers ignore the header without it); for example "max-age=63072000; includeSubDomains": value was "includeSubDomains"'],
    [[...base, '--hsts', 'max-age=1\nX: y'], 'hsts: contains a control character (CR, LF, NUL, …) or a character above U+00FF: value was "max-age=1\\nX: y"'],
  ];
  for (const [argv, says] of cases) t.equal(errorOf(argv, {}, cwd), says, says);
  t.end();
}
