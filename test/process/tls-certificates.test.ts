// Certificate pairs (src/tls/certificates.ts): what a pair says about itself (names, dates, key
// type, the chain kept leaf first), the PEM forms accepted, every refusal as a
// CertificateError with its exact message, and the validity warnings.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { CertificateError } from '../../src/errors';
import { parseSubjectAltName, readPair, validityWarning, type CertificateInfo } from '../../src/tls/certificates';
import { makeTestPki, opensslSkip, type TestPki } from '../fixtures/tls';

t.test('subjectAltName text as Node prints it', (t) => {
  t.same(parseSubjectAltName('DNS:a.test, DNS:*.b.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'), { dns: ['a.test', '*.b.test'], ip: ['127.0.0.1', '0:0:0:0:0:0:0:1'] });
  t.same(parseSubjectAltName(undefined), { dns: [], ip: [] }, 'no extension');
  t.same(parseSubjectAltName(''), { dns: [], ip: [] });
  t.same(parseSubjectAltName('email:x@y.test, DNS:a.test, URI:https://q.test/a, b'), { dns: ['a.test'], ip: [] }, 'other kinds skipped, a comma inside a value kept to its entry');
  t.same(parseSubjectAltName('DNS:"a, DNS:b.test", DNS:c.test'), { dns: ['a, DNS:b.test', 'c.test'], ip: [] }, 'a quoted value is one value');
  t.same(parseSubjectAltName('DNS:"q\\"uote", DNS:d.test'), { dns: ['q"uote', 'd.test'], ip: [] }, 'JSON escapes in a quoted value');
  t.same(parseSubjectAltName('othername:<unsupported>, DNS:e.test'), { dns: ['e.test'], ip: [] });
  t.end();
});

t.test('validity warnings name the notAfter (or notBefore)', (t) => {
  const info = (notBefore: string, notAfter: string): CertificateInfo => ({ dnsNames: [], ipAddresses: [], notBefore: new Date(notBefore), notAfter: new Date(notAfter), keyType: 'ECDSA P-256', subject: 'CN=x', fingerprint256: '' });
  const now = new Date('2030-06-01T00:00:00Z');
  const where = 'tlsCert: /etc/c.pem';
  t.equal(validityWarning(info('2030-01-01T00:00:00Z', '2030-09-01T00:00:00Z'), where, now), null, 'three months left: nothing');
  t.equal(validityWarning(info('2030-01-01T00:00:00Z', '2030-06-15T00:00:01Z'), where, now), null, 'just over 14 days: nothing');
  t.equal(validityWarning(info('2030-01-01T00:00:00Z', '2030-06-15T00:00:00Z'), where, now), 'tlsCert: /etc/c.pem expires on 2030-06-15T00:00:00.000Z (notAfter), in 14 days');
  t.equal(validityWarning(info('2030-01-01T00:00:00Z', '2030-06-02T12:00:00Z'), where, now), 'tlsCert: /etc/c.pem expires on 2030-06-02T12:00:00.000Z (notAfter), in 1 day');
  t.equal(validityWarning(info('2030-01-01T00:00:00Z', '2030-06-01T05:00:00Z'), where, now), 'tlsCert: /etc/c.pem expires on 2030-06-01T05:00:00.000Z (notAfter), in less than a day');
  t.equal(validityWarning(info('2030-01-01T00:00:00Z', '2030-06-01T00:00:00Z'), where, now), 'tlsCert: /etc/c.pem expired on 2030-06-01T00:00:00.000Z (notAfter); clients will refuse it');
  t.equal(validityWarning(info('2030-07-01T00:00:00Z', '2031-01-01T00:00:00Z'), where, now), 'tlsCert: /etc/c.pem is not valid before 2030-07-01T00:00:00.000Z (notBefore); clients will refuse it until then');
  t.end();
});

t.test('pairs made by the test CA', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const file = (name: string, text: string) => {
    const p = path.join(pki.dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const read = (p: string) => fs.readFileSync(p, 'utf8');
  const ossl = (args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

  t.test('what a pair says', (t) => {
    const ec = readPair(pki.ecdsaLocal.cert, pki.ecdsaLocal.key);
    t.same(ec.info.dnsNames, ['localhost']);
    t.same(ec.info.ipAddresses, ['127.0.0.1']);
    t.equal(ec.info.keyType, 'ECDSA P-256');
    t.equal(ec.info.subject, 'CN=ecdsa-local');
    t.equal(ec.certFile, pki.ecdsaLocal.cert);
    t.equal(ec.keyFile, pki.ecdsaLocal.key);
    t.equal(readPair(pki.rsaB.cert, pki.rsaB.key).info.keyType, 'RSA 2048');
    t.same(readPair(pki.rsaB.cert, pki.rsaB.key).info.dnsNames, ['*.b.test']);
    const old = readPair(pki.expired.cert, pki.expired.key).info;
    t.equal(old.notBefore.toISOString(), '2020-01-01T00:00:00.000Z');
    t.equal(old.notAfter.toISOString(), '2020-02-01T00:00:00.000Z');
    const soon = readPair(pki.expiringSoon.cert, pki.expiringSoon.key).info;
    const left = soon.notAfter.getTime() - Date.now();
    t.ok(left > 4.9 * 86400e3 && left <= 5 * 86400e3, `notAfter 5 days from now (${left} ms)`);
    t.end();
  });

  t.test('the chain is kept, leaf first; other blocks in the files are left out', (t) => {
    const chain = file('chain.pem', read(pki.rsaA.cert) + read(pki.caFile));
    const p = readPair(chain, pki.rsaA.key);
    t.equal(p.cert.match(/BEGIN CERTIFICATE/g)?.length, 2, 'both certificates');
    t.equal(pki.cnOf(p.cert), 'rsa-a', 'the leaf first');
    t.equal(p.info.subject, 'CN=rsa-a', 'described by its leaf');
    const combined = file('combined.pem', read(pki.ecdsaA.cert) + read(pki.ecdsaKey));
    const c = readPair(combined, combined);
    t.notMatch(c.cert, /PRIVATE KEY/, 'a key in the certificate file is not sent as part of the chain');
    t.notMatch(c.key, /CERTIFICATE/, 'only the key block is the key');
    const crlf = file('crlf.pem', read(pki.ecdsaA.cert).replace(/\n/g, '\r\n'));
    t.equal(readPair(crlf, pki.ecdsaKey).info.subject, 'CN=ecdsa-a', 'CRLF line ends');
    t.end();
  });

  t.test('the private key forms openssl writes', (t) => {
    const traditionalEc = file('trad-ec.key', ossl(['ec', '-in', pki.ecdsaKey]));
    t.match(read(traditionalEc), /BEGIN EC PRIVATE KEY/);
    t.equal(readPair(pki.ecdsaA.cert, traditionalEc).info.keyType, 'ECDSA P-256', 'SEC 1 (EC PRIVATE KEY)');
    const withParams = file('params-ec.key', ossl(['ecparam', '-name', 'prime256v1']) + read(traditionalEc));
    t.equal(readPair(pki.ecdsaA.cert, withParams).info.keyType, 'ECDSA P-256', 'EC PARAMETERS before the key (openssl ecparam -genkey)');
    const traditionalRsa = file('trad-rsa.key', ossl(['rsa', '-in', pki.rsaKey, '-traditional']));
    t.match(read(traditionalRsa), /BEGIN RSA PRIVATE KEY/);
    t.equal(readPair(pki.rsaA.cert, traditionalRsa).info.keyType, 'RSA 2048', 'PKCS#1 (RSA PRIVATE KEY)');
    t.end();
  });

  t.test('refusals, each naming its file', (t) => refusals(t, pki, file, ossl));
});

function refusals(t: Test, pki: TestPki, file: (name: string, text: string) => string, ossl: (args: string[]) => string): void {
  const refusal = (cert: string, key: string): string => {
    try {
      readPair(cert, key);
      return '(accepted)';
    } catch (err) {
      if (!(err instanceof CertificateError)) return `(not a CertificateError: ${String(err)})`;
      t.equal(err.code, 'FLEETSERVE_TLS_CERTIFICATE');
      return `${err.role} ${err.file === (err.role === 'cert' ? cert : key) ? 'file' : `(file ${err.file})`}: ${err.message}`;
    }
  };
  const missing = path.join(pki.dir, 'missing.pem');
  const dir = path.join(pki.dir, 'db');
  const empty = file('empty.pem', '');
  const der = file('cert.der', ossl(['x509', '-in', pki.ecdsaA.cert, '-outform', 'DER']));
  const badBody = file('bad-body.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const badSecond = file('bad-second.pem', fs.readFileSync(pki.ecdsaA.cert, 'utf8') + '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const badKey = file('bad-key.pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  const encrypted = file('enc.key', ossl(['pkey', '-in', pki.rsaKey, '-aes256', '-passout', 'pass:secret']));
  const encryptedTraditional = file('enc-trad.key', ossl(['rsa', '-in', pki.rsaKey, '-aes256', '-traditional', '-passout', 'pass:secret']));
  const x25519 = file('x25519.key', ossl(['genpkey', '-algorithm', 'X25519']));
  const weak = file('weak.key', ossl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024']));
  const ed = file('ed.key', ossl(['genpkey', '-algorithm', 'ED25519']));
  const cases: [string, string, string][] = [
    [missing, pki.ecdsaKey, `cert file: cannot read ${missing}: ENOENT`],
    [pki.ecdsaA.cert, missing, `key file: cannot read ${missing}: ENOENT`],
    [dir, pki.ecdsaKey, `cert file: cannot read ${dir}: EISDIR`],
    [empty, pki.ecdsaKey, `cert file: ${empty} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`],
    [der, pki.ecdsaKey, `cert file: ${der} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`],
    [pki.ecdsaKey, pki.ecdsaKey, `cert file: ${pki.ecdsaKey} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`],
    [badBody, pki.ecdsaKey, `cert file: ${badBody}: the certificate cannot be parsed (wrong tag)`],
    [badSecond, pki.ecdsaKey, `cert file: ${badSecond}: certificate 2 of 2 cannot be parsed (wrong tag)`],
    [pki.ecdsaA.cert, pki.ecdsaA.cert, `key file: ${pki.ecdsaA.cert} is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)`],
    [pki.ecdsaA.cert, empty, `key file: ${empty} is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)`],
    [pki.ecdsaA.cert, badKey, `key file: ${badKey}: the private key cannot be parsed (unsupported)`],
    [pki.rsaA.cert, encrypted, `key file: ${encrypted} is encrypted; fleetserve needs the key without a passphrase (openssl pkey -in KEY -out PLAIN)`],
    [pki.rsaA.cert, encryptedTraditional, `key file: ${encryptedTraditional} is encrypted; fleetserve needs the key without a passphrase (openssl pkey -in KEY -out PLAIN)`],
    [pki.ecdsaA.cert, x25519, `key file: ${x25519}: X25519 keys cannot sign a TLS handshake (use ECDSA P-256 or RSA 2048)`],
    [pki.rsaA.cert, weak, `key file: ${weak}: an RSA key of 1024 bits is too weak (at least 2048)`],
    [pki.ecdsaA.cert, pki.rsaKey, `key file: ${pki.rsaKey} does not match the certificate in ${pki.ecdsaA.cert} (an RSA 2048 key for an ECDSA P-256 certificate)`],
    [pki.rsaA.cert, pki.ecdsaKey, `key file: ${pki.ecdsaKey} does not match the certificate in ${pki.rsaA.cert} (an ECDSA P-256 key for an RSA 2048 certificate)`],
    [pki.ecdsaA.cert, pki.strayEcdsaKey, `key file: ${pki.strayEcdsaKey} does not match the certificate in ${pki.ecdsaA.cert} (another ECDSA P-256 key)`],
    [pki.rsaA.cert, ed, `key file: ${ed} does not match the certificate in ${pki.rsaA.cert} (an Ed25519 key for an RSA 2048 certificate)`],
  ];
  for (const [cert, key, says] of cases) t.equal(refusal(cert, key), says, says);
  t.end();
}
