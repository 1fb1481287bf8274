// The announced URLs of a host name served on several addresses: the name, then each address;
// with TLS on, https:// URLs.
import t from 'tap';
import type os from 'node:os';
import { listeningRecord, listenUrls, schemeOf, urlOf } from '../../../src/process/listen-urls';

t.test('a name on several addresses: its URL, then one per address', async (t) => {
  t.same(listenUrls('localhost', 8080, {}, ['127.0.0.1', '::1']), ['http://localhost:8080/', 'http://127.0.0.1:8080/', 'http://[::1]:8080/']);
  t.same(listenUrls('localhost', 8080, {}, ['127.0.0.1']), ['http://localhost:8080/'], 'one address: the name alone, as before');
  t.same(listenUrls('myhost', 8080, {}), ['http://myhost:8080/'], 'no addresses given: the name');
  const r = listeningRecord('localhost', 8080, 0, {}, ['127.0.0.1', '::1']);
  t.equal(r.msg, 'listening on http://localhost:8080/, http://127.0.0.1:8080/ and http://[::1]:8080/ (single process)');
  t.same(r.fields, { url: 'http://localhost:8080/', urls: ['http://localhost:8080/', 'http://127.0.0.1:8080/', 'http://[::1]:8080/'], host: 'localhost', port: 8080, workers: 0 });
});

t.test('TLS on: every URL of the main listener says https://', async (t) => {
  t.equal(schemeOf({ tlsCert: '', acmeDomains: [] }), 'http');
  t.equal(schemeOf({ tlsCert: '', acmeDomains: ['example.com'] }), 'https', 'ACME turns HTTPS on');
  t.equal(schemeOf({ tlsCert: '/etc/fleetserve/cert.pem', acmeDomains: [] }), 'https');
  t.equal(urlOf('::1', 8443, 'https'), 'https://[::1]:8443/');
  const eth = { eth0: [{ address: '192.0.2.7', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.0.2.7/24' }] } as unknown as ReturnType<typeof os.networkInterfaces>;
  t.same(listenUrls('0.0.0.0', 8443, eth, ['0.0.0.0'], 'https'), ['https://localhost:8443/', 'https://192.0.2.7:8443/'], 'a wildcard bind: localhost and the addresses');
  const r = listeningRecord('localhost', 8443, 2, {}, ['127.0.0.1', '::1'], 'https');
  t.equal(r.msg, 'listening on https://localhost:8443/, https://127.0.0.1:8443/ and https://[::1]:8443/ with 2 workers');
  t.same(r.fields, { url: 'https://localhost:8443/', urls: ['https://localhost:8443/', 'https://127.0.0.1:8443/', 'https://[::1]:8443/'], host: 'localhost', port: 8443, workers: 2 });
});
