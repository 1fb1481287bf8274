// The HTTPS messages the manual quotes (README.md and docs/https.md) are the lines the
// configuration check prints: each case makes the files the quote names under a temporary
// directory laid out as the quote's paths (/etc/ssl/…, /etc/letsencrypt/live/…), runs the
// check, and compares the line with the directory taken out. And no quote of an HTTPS key's
// message is left that no case produces.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { errorOf } from '../fixtures/config';
import { manualText } from '../fixtures/manual';
import { makeTestPki, opensslSkip } from '../fixtures/tls';

/** The keys whose messages this test owns: a quoted `fleetserve: KEY…` line of one of them must be produced here. */
const HTTPS_KEYS = /^fleetserve: (tlsCert|tlsKey|tlsCertificates(\[\d+\]\.\w+)?|tlsMinVersion|httpPort|httpRedirect|hsts): /;

/** Every quoted line of the manual (in backticks, or a line of its own in a fence) that is an HTTPS key's message. */
function quotedHttpsMessages(text: string): string[] {
  const quoted = [...text.matchAll(/`(fleetserve: [^`\n]*)`/g)].map((m) => m[1]!);
  const lines = text.split('\n').filter((l) => l.startsWith('fleetserve: '));
  return [...new Set([...quoted, ...lines])].filter((q) => HTTPS_KEYS.test(q));
}

t.test('the manual quotes the HTTPS messages as printed', { skip: opensslSkip }, (t) => {
  const pki = makeTestPki(t);
  // The quotes' file system, under one directory: `shown` strips it again.
  const top = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-https-manual-')));
  t.teardown(() => fs.rmSync(top, { recursive: true, force: true }));
  const at = (shown: string, from?: string): string => {
    const file = path.join(top, shown);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (from !== undefined) fs.copyFileSync(from, file);
    return file;
  };
  const cert = at('/etc/ssl/example.com.pem', pki.ecdsaLocal.cert);
  const key = at('/etc/ssl/example.com.key', pki.ecdsaLocal.key);
  const der = at('/etc/ssl/example.com.der');
  execFileSync('openssl', ['x509', '-in', pki.ecdsaLocal.cert, '-outform', 'DER', '-out', der]);
  const rsa = at('/etc/ssl/rsa.key', pki.rsaKey);
  const ipOnly = pki.issue({ cn: 'ip-only', san: ['IP:192.0.2.1'], keyType: 'ecdsa' });
  const ip = at('/etc/ssl/ip.pem', ipOnly.cert);
  const site = at('/srv/www/index.html');
  fs.writeFileSync(site, 'x');
  const root = ['--root', path.dirname(site)];
  const pair = ['--tls-cert', cert, '--tls-key', key];
  const printed = (argv: string[]) => `fleetserve: ${errorOf([...root, ...argv], {}, top)}`.replaceAll(top, '');
  const expected = [
    printed(['--tls-cert', cert]),
    printed(['--tls-cert', at('/etc/letsencrypt/live/example.com/fullchain.pem'), '--tls-key', key]),
    printed(['--tls-cert', der, '--tls-key', key]),
    printed(['--tls-cert', cert, '--tls-key', rsa]),
    printed([...pair, '--tls-certificates', JSON.stringify([{ cert, key }, { cert: ip, key }])]),
    printed(['--tls-certificates', JSON.stringify([{ cert, key }])]),
    printed([...pair, '--hsts', 'includeSubDomains']),
    printed([...pair, '--hsts', 'max-age=1; max-age=2']),
    printed(['--hsts', 'max-age=600']),
  ];
  // Last, as it makes the key file encrypted: the same key under a passphrase.
  execFileSync('openssl', ['pkey', '-in', pki.ecdsaKey, '-aes256', '-passout', 'pass:secret', '-out', key]);
  expected.push(printed(pair));
  for (const line of expected) t.notMatch(line, /\(loaded without error\)|ConfigError|\(message/, `a refusal: ${line}`);

  const text = manualText();
  const quoted = quotedHttpsMessages(text);
  t.ok(quoted.length >= expected.length, `${quoted.length} quoted HTTPS messages`);
  for (const line of expected) t.ok(quoted.includes(line), `quoted as printed: ${line}`);
  t.same(quoted.filter((q) => !expected.includes(q)), [], 'no quoted HTTPS message that the check does not print');
  t.end();
});
