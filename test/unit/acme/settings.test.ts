// The ACME keys as loadConfig reads them: the list forms of env and flags, the storage default
// ($STATE_DIRECTORY, else a directory under the working directory), and each refused
// combination or value as one line naming the key.
import path from 'node:path';
import t from 'tap';
import { errorOf, run, sandbox } from '../../fixtures/config';

const ACME = ['--acme-domains', 'example.com,www.example.com', '--http-port', '8080'];

t.test('acmeDomains from a flag or env, comma-separated or JSON; HTTPS is on', async (t) => {
  const { cwd } = sandbox(t);
  t.same(run(ACME, {}, cwd).acmeDomains, ['example.com', 'www.example.com']);
  t.same(run(['--http-port', '8080'], { FLEETSERVE_ACME_DOMAINS: '["a.example"]' }, cwd).acmeDomains, ['a.example']);
  t.same(run(ACME, {}, cwd).acmeChallenge, ['http-01'], 'http-01 by default');
  t.equal(run(ACME, {}, cwd).acmeDirectory, 'https://acme-v02.api.letsencrypt.org/directory', "Let's Encrypt production by default");
  t.equal(run(ACME, {}, cwd).acmeRetryMinMs, 60_000, 'a minute at least by default');
});

t.test('acmeChallenge: tls-alpn-01 needs no httpPort; a list keeps its order of preference', async (t) => {
  const { cwd } = sandbox(t);
  t.same(run(['--acme-domains', 'example.com', '--acme-challenge', 'tls-alpn-01'], {}, cwd).acmeChallenge, ['tls-alpn-01']);
  t.same(run([...ACME, '--acme-challenge', 'tls-alpn-01,http-01'], {}, cwd).acmeChallenge, ['tls-alpn-01', 'http-01']);
  t.same(run(ACME, { FLEETSERVE_ACME_CHALLENGE: '["http-01","tls-alpn-01"]' }, cwd).acmeChallenge, ['http-01', 'tls-alpn-01']);
  t.match(errorOf(['--acme-domains', 'example.com', '--acme-challenge', 'tls-alpn-01,http-01'], {}, cwd), /the http-01 challenge needs httpPort/, 'http-01 anywhere in the list needs httpPort');
});

t.test('acmeStorage: as given (absolute), else $STATE_DIRECTORY, else ./fleetserve-acme', async (t) => {
  const { cwd } = sandbox(t);
  t.equal(run(ACME, {}, cwd).acmeStorage, path.join(cwd, 'fleetserve-acme'));
  t.equal(run(ACME, { STATE_DIRECTORY: '/var/lib/fleetserve:/var/lib/other' }, cwd).acmeStorage, '/var/lib/fleetserve');
  t.equal(run([...ACME, '--acme-storage', 'store'], { STATE_DIRECTORY: '/var/lib/fleetserve' }, cwd).acmeStorage, path.join(cwd, 'store'));
});

t.test('refused combinations and values: one line naming the key', async (t) => {
  const { cwd, write } = sandbox(t);
  const cert = write('c.pem', 'x');
  t.equal(
    errorOf([...ACME, '--tls-cert', cert, '--tls-key', cert], {}, cwd),
    'acmeDomains: cannot be used with tlsCert (certificates come either from ACME or from files; remove one)',
  );
  t.equal(
    errorOf(['--acme-domains', 'example.com'], {}, cwd),
    'acmeDomains: the http-01 challenge needs httpPort (the CA fetches http://NAME/.well-known/acme-challenge/ on port 80: set --http-port 80)',
  );
  const cases: [string[], string][] = [
    [['--acme-domains', '*.example.com'], 'a wildcard name, which only a DNS-01 challenge can prove'],
    [['--acme-domains', '192.0.2.1'], 'is an IP address'],
    [['--acme-domains', 'localhost'], 'is not a DNS name'],
    [['--acme-domains', 'bad_name.example'], 'is not a DNS name'],
    [['--acme-domains', 'a.example,a.example'], '"a.example" is listed twice'],
    [['--acme-domains', 'Example.com'], 'must be written in lower case'],
    [[...ACME, '--acme-challenge', 'tls-alpn-01,tls-alpn-01'], '"tls-alpn-01" is listed twice'],
    [[...ACME, '--acme-challenge', ''], 'must name at least one challenge type: http-01, tls-alpn-01'],
    [[...ACME, '--acme-challenge', 'dns-01'], '"dns-01" is not a challenge type fleetserve answers (http-01, tls-alpn-01)'],
    [[...ACME, '--acme-email', 'me at example.com'], '"me at example.com" is not an e-mail address'],
    [[...ACME, '--acme-directory', 'http://ca.example/dir'], 'must be an https:// URL'],
    [[...ACME, '--acme-retry-min-ms', '10'], 'must be a whole number of milliseconds ≥ 1000'],
    [[...ACME, '--acme-storage', path.join(cert, 'store')], `acmeStorage: ${path.join(cert, 'store')} cannot be made: ${cert} is not a directory`],
    [[...ACME, '--acme-storage', cert], `acmeStorage: ${cert} is not a directory`],
  ];
  for (const [argv, part] of cases) {
    const line = errorOf(argv, {}, cwd);
    t.match(line, /^acme\w+: /, `${argv.join(' ')}: names the key`);
    t.ok(line.includes(part), `${argv.join(' ')}: ${line}`);
  }
});
