// The announced URLs of a host name served on several addresses: the name, then each address.
import t from 'tap';
import { listeningRecord, listenUrls } from '../../../src/process/listen-urls';

t.test('a name on several addresses: its URL, then one per address', async (t) => {
  t.same(listenUrls('localhost', 8080, {}, ['127.0.0.1', '::1']), ['http://localhost:8080/', 'http://127.0.0.1:8080/', 'http://[::1]:8080/']);
  t.same(listenUrls('localhost', 8080, {}, ['127.0.0.1']), ['http://localhost:8080/'], 'one address: the name alone, as before');
  t.same(listenUrls('myhost', 8080, {}), ['http://myhost:8080/'], 'no addresses given: the name');
  const r = listeningRecord('localhost', 8080, 0, {}, ['127.0.0.1', '::1']);
  t.equal(r.msg, 'listening on http://localhost:8080/, http://127.0.0.1:8080/ and http://[::1]:8080/ (single process)');
  t.same(r.fields, { url: 'http://localhost:8080/', urls: ['http://localhost:8080/', 'http://127.0.0.1:8080/', 'http://[::1]:8080/'], host: 'localhost', port: 8080, workers: 0 });
});
