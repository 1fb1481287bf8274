/**
 * The pure parts of the client's TLS side (src/client/secure.ts): a failed handshake mapped to
 * exit 35 by its code, a failed verification to its one-line reason (exit 60), the -v lines,
 * and the CA sources (--cacert files, the system's CAs).
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import t from 'tap';
import { ClientError } from '../../../src/client/errors';
import { certificateError, describeSession, handshakeError, loadCaFile, systemTrust, verificationProblem } from '../../../src/client/secure';
import { makeTestPki, opensslSkip } from '../../fixtures/tls';

const to = { host: 'example.test', port: 8443, origin: 'example.test:8443' };

t.test('a failed handshake, by its code: exit 35 and why', async (t) => {
  const failed = (code: string | undefined, message: string, reason?: string) =>
    Object.assign(new Error(message), code === undefined ? {} : { code }, reason === undefined ? {} : { reason });
  const cases: [ReturnType<typeof failed>, string][] = [
    [failed('ERR_SSL_WRONG_VERSION_NUMBER', '80EC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:...\n', 'wrong version number'), 'the server does not answer in TLS (wrong version number); is it a plain http:// port?'],
    [failed('ERR_SSL_PACKET_LENGTH_TOO_LONG', 'x', 'packet length too long'), 'the server does not answer in TLS (packet length too long); is it a plain http:// port?'],
    [failed('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'x', 'tlsv1 alert protocol version'), 'no TLS version in common; the client speaks TLS 1.2 and 1.3 (tlsv1 alert protocol version)'],
    [failed('ERR_SSL_UNSUPPORTED_PROTOCOL', 'x', 'unsupported protocol'), 'no TLS version in common; the client speaks TLS 1.2 and 1.3 (unsupported protocol)'],
    [failed('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'), 'the server closed the connection during the handshake (ECONNRESET)'],
    [failed('EPIPE', 'write EPIPE'), 'the server closed the connection during the handshake (EPIPE)'],
    [failed('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'x', 'sslv3 alert handshake failure'), 'sslv3 alert handshake failure (ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE)'],
    [failed(undefined, 'first line\nsecond line'), 'first line'],
  ];
  for (const [err, why] of cases) {
    const e = handshakeError(err, to);
    t.same([e.name, e.code, e.exitCode, e.message], ['TlsHandshakeError', 'FLEETSERVE_CLIENT_TLS_HANDSHAKE', 35, `TLS handshake with example.test:8443 failed: ${why}`], String(err.code));
    t.notMatch(e.message, /\n/, 'one line');
  }
});

t.test('a certificate that fails verification: its reason, one line, exit 60', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const cert = (file: string) => new X509Certificate(fs.readFileSync(file));
  const local = cert(pki.ecdsaLocal.cert);
  const socket = (authorized: boolean, authorizationError?: string) => ({ authorized, authorizationError }) as unknown as tls.TLSSocket;
  t.equal(verificationProblem(socket(true), local, 'localhost'), undefined, 'verified: no problem');
  const cases: [string, X509Certificate | undefined, string][] = [
    ['CERT_HAS_EXPIRED', cert(pki.expired.cert), 'it expired on Feb  1 00:00:00 2020 GMT (CERT_HAS_EXPIRED)'],
    ['CERT_NOT_YET_VALID', cert(pki.expired.cert), 'it is not valid before Jan  1 00:00:00 2020 GMT (CERT_NOT_YET_VALID)'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', cert(pki.ecdsaB.cert), 'it is not for a.test: it names DNS:*.b.test (ERR_TLS_CERT_ALTNAME_INVALID)'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', cert(pki.caFile), 'it is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT); --cacert FILE trusts it'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', local, 'its issuer CN=fleetserve test CA is not a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE); --cacert FILE trusts a CA'],
    ['SELF_SIGNED_CERT_IN_CHAIN', local, 'its issuer CN=fleetserve test CA is not a trusted CA (SELF_SIGNED_CERT_IN_CHAIN); --cacert FILE trusts a CA'],
    ['CERT_REVOKED', local, 'verification failed (CERT_REVOKED)'],
    ['UNABLE_TO_GET_ISSUER_CERT', undefined, 'the server sent no certificate (UNABLE_TO_GET_ISSUER_CERT)'],
  ];
  for (const [code, c, why] of cases) t.equal(verificationProblem(socket(false, code), c, 'a.test'), why, code);
  const e = certificateError('it expired on X (CERT_HAS_EXPIRED)', to);
  t.same([e.name, e.exitCode, e.message], ['CertificateError', 60, 'the certificate of example.test:8443 cannot be verified: it expired on X (CERT_HAS_EXPIRED)']);

  // -v: the lines curl -v writes, from what the socket reports.
  const session = { getProtocol: () => 'TLSv1.2', getCipher: () => ({ standardName: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256' }), alpnProtocol: false } as unknown as tls.TLSSocket;
  const trust = { ca: [], source: 'CAfile: ca.pem' };
  const lines = describeSession(session, local, trust, undefined, false).split('\n');
  t.same(lines, [
    '*  CAfile: ca.pem',
    '* SSL connection using TLSv1.2 / TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    '* ALPN: server did not agree on a protocol',
    '* Server certificate:',
    '*  subject: CN=ecdsa-local',
    `*  start date: ${local.validFrom}`,
    `*  expire date: ${local.validTo}`,
    '*  subjectAltName: DNS:localhost, IP Address:127.0.0.1',
    '*  issuer: CN=fleetserve test CA',
    '*  SSL certificate verify ok.',
    '',
  ]);
  t.match(describeSession(session, local, trust, 'why', true), /^\* {2}SSL certificate verify result: why, continuing anyway \(-k\)\.$/m);
  t.match(describeSession(session, local, trust, 'why', false), /^\* {2}SSL certificate verify failed: why\.$/m);
  t.notMatch(describeSession(session, undefined, trust, 'why', false), /Server certificate/, 'no certificate: no certificate lines');
});

t.test('--cacert files: every PEM certificate; unreadable, empty or broken is exit 77', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-cacert-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bundle = path.join(dir, 'bundle.pem');
  fs.writeFileSync(bundle, `# comment\n${pki.caPem}\r\n${fs.readFileSync(pki.ecdsaLocal.cert, 'utf8')}`);
  const loaded = loadCaFile(bundle);
  t.equal(loaded.ca?.length, 2, 'both certificates');
  t.equal(loaded.source, `CAfile: ${bundle}`);
  t.equal(new X509Certificate(loaded.ca![0]!).subject, 'CN=fleetserve test CA');
  const thrown = (file: string): [string, number, string] => {
    try {
      loadCaFile(file);
    } catch (err) {
      if (err instanceof ClientError) return [err.name, err.exitCode, err.message];
      throw err;
    }
    return ['none', 0, ''];
  };
  t.same(thrown(path.join(dir, 'none.pem')), ['CaFileError', 77, `cannot read the --cacert file ${path.join(dir, 'none.pem')}: ENOENT`]);
  t.same(thrown(dir), ['CaFileError', 77, `cannot read the --cacert file ${dir}: EISDIR`]);
  t.same(thrown(pki.ecdsaKey), ['CaFileError', 77, `the --cacert file ${pki.ecdsaKey} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`]);
  const broken = path.join(dir, 'broken.pem');
  fs.writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  t.match(thrown(broken), ['CaFileError', 77, new RegExp(`^the --cacert file ${broken} holds a certificate that does not parse: `)]);
});

t.test('the system\'s CAs: node:tls\'s store, or the system bundle, else the built-in list', async (t) => {
  const trust = systemTrust();
  const store = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates?.('system') ?? [];
  const bundle = '/etc/ssl/certs/ca-certificates.crt';
  if (store.length > 0) {
    t.same([trust.source, trust.ca], ["CA store: the system's (node:tls)", store], 'node:tls has a system store');
  } else if (fs.existsSync(bundle)) {
    const inFile = fs.readFileSync(bundle, 'latin1').split('-----BEGIN CERTIFICATE-----').length - 1;
    t.same([trust.source, trust.ca?.length], [`CAfile: ${bundle}`, inFile], 'every certificate of the Debian bundle');
    t.ok(inFile > 10, 'ca-certificates is installed');
  } else {
    t.pass(`neither here: ${trust.source}`);
  }
});
