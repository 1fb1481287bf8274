// Which certificate a server name gets (src/tls/sni.ts): RFC 6125 §6.4.3 wildcards (one whole
// left-most label), exact names, case and trailing dots, precedence, and the default for
// everything else — and the same verdicts as OpenSSL's own X509_check_host (no partial
// wildcards, no multi-label wildcards) on certificates made by the test CA.
import crypto from 'node:crypto';
import fs from 'node:fs';
import t from 'tap';
import { buildSniIndex, chooseForServerName, isMatchableDnsName, normalizeHostName, wildcardSuffix } from '../../src/tls/sni';
import { makeTestPki, opensslSkip } from '../fixtures/tls';

const choose = (names: string[], serverName: string | null | undefined) => chooseForServerName(buildSniIndex([{ names, value: 'cert' }], 'default'), serverName);

t.test('exact names: case-insensitive, one trailing dot ignored', (t) => {
  const names = ['a.test', 'WWW.Example.COM'];
  for (const n of ['a.test', 'A.TEST', 'a.Test.', 'www.example.com', 'www.example.com.', 'WWW.EXAMPLE.COM']) t.equal(choose(names, n), 'cert', n);
  for (const n of ['a.test..', 'b.test', 'aa.test', 'a.test.x', '.a.test', 'a.tes', 'x.a.test', 'example.com', ' a.test', 'a.test ']) t.equal(choose(names, n), 'default', JSON.stringify(n));
  t.end();
});

t.test('*.example.com matches exactly one left-most label', (t) => {
  const names = ['*.example.com'];
  for (const n of ['a.example.com', 'WWW.example.com', 'x-1.EXAMPLE.com.', '0.example.com', 'xn--bcher-kva.example.com']) t.equal(choose(names, n), 'cert', n);
  for (const n of ['example.com', 'a.b.example.com', '.example.com', 'a..example.com', 'a.example.co', 'a.example.com.x', 'aexample.com', '*.example.com', 'a.example.com..']) {
    t.equal(choose(names, n), 'default', JSON.stringify(n));
  }
  t.end();
});

t.test('partial, embedded and too-wide wildcards match nothing', (t) => {
  for (const pattern of ['f*.example.com', '*f.example.com', 'f*o.example.com', 'a.*.example.com', '*.*.example.com', '**.example.com', '*.com', '*', '*.', 'example.*', '*example.com']) {
    for (const n of ['foo.example.com', 'f.example.com', 'a.b.example.com', 'a.example.com', 'x.com', 'example.com', 'example.x']) t.equal(choose([pattern], n), 'default', `${pattern} vs ${n}`);
    t.equal(isMatchableDnsName(pattern), false, `${pattern} is not matchable`);
  }
  t.equal(wildcardSuffix('*.b.test'), 'b.test');
  t.equal(wildcardSuffix('*.B.Test.'), 'b.test', 'the suffix is normalised like a name');
  t.equal(wildcardSuffix('*.com'), null);
  t.equal(wildcardSuffix('a.b.test'), null);
  t.end();
});

t.test('no server name, an empty one, or one that is not a host name: the default', (t) => {
  const names = ['a.test', '*.b.test'];
  for (const n of [null, undefined, '', '.', '..', 'a test', 'a.test/x', 'a.test\u0000', 'caf\u00e9.b.test', '\u212a.b.test', 'x.b.test\u212a', 'x'.repeat(255)]) {
    t.equal(choose(names, n), 'default', JSON.stringify(n));
  }
  t.equal(normalizeHostName('\u212a.test'), null, 'the Kelvin sign is not lower-cased into k');
  t.equal(normalizeHostName('A.Test.'), 'a.test');
  t.equal(normalizeHostName('a..test'), null);
  t.end();
});

t.test('precedence: an exact name beats a wildcard, the earlier pair beats a later one', (t) => {
  const index = buildSniIndex(
    [
      { names: ['localhost'], value: 'default-pair' },
      { names: ['*.b.test', 'a.test'], value: 'first' },
      { names: ['x.b.test', 'a.test', '*.c.test'], value: 'second' },
      { names: ['*.c.test', 'c.test'], value: 'third' },
    ],
    'fallback',
  );
  t.equal(chooseForServerName(index, 'x.b.test'), 'second', 'exact x.b.test over the earlier *.b.test');
  t.equal(chooseForServerName(index, 'y.b.test'), 'first');
  t.equal(chooseForServerName(index, 'a.test'), 'first', 'the same exact name twice: the first');
  t.equal(chooseForServerName(index, 'z.c.test'), 'second', 'the same wildcard twice: the first');
  t.equal(chooseForServerName(index, 'c.test'), 'third');
  t.equal(chooseForServerName(index, 'localhost'), 'default-pair');
  t.equal(chooseForServerName(index, 'elsewhere.test'), 'fallback');
  t.end();
});

t.test('the same verdicts as OpenSSL X509_check_host (wildcards on, partial and multi-label off)', { skip: opensslSkip }, (t) => {
  const pki = makeTestPki(t);
  const sans = ['a.test', '*.b.test', 'f*.c.test', 'x.*.d.test', '*.test', 'Mixed.Case.test'];
  const pair = pki.issue({ cn: 'many-names', san: sans.map((n) => `DNS:${n}`), keyType: 'ecdsa' });
  const cert = new crypto.X509Certificate(fs.readFileSync(pair.cert));
  const names = ['a.test', 'A.TEST', 'b.test', 'x.b.test', 'x.y.b.test', 'foo.c.test', 'f.c.test', 'c.test', 'x.q.d.test', 'q.test', 'mixed.case.test', 'other.test', 'test', 'a.b.test'];
  const ours = buildSniIndex([{ names: sans, value: true }], false);
  for (const name of names) {
    const openssl = cert.checkHost(name, { wildcards: true, partialWildcards: false, multiLabelWildcards: false, subject: 'never' }) !== undefined;
    t.equal(chooseForServerName(ours, name), openssl, `${name}: ${openssl ? 'matches' : 'no match'} as OpenSSL says`);
  }
  t.end();
});
