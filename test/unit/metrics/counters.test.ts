// What a serving process counts per response: the listener, method and status-class slots,
// the 304 and 206 counts and bytes per listener, seconds, and the duration bucket each
// response falls in; and what the HTTPS listener counts per handshake.
import t from 'tap';
import { DURATION_BUCKETS, HANDSHAKE_ERROR_LABELS, LISTENER_LABELS, listenerSlot, METHOD_LABELS, PrimaryCounters, PROTOCOL_LABELS, RequestCounters, STATUS_CLASS_LABELS, TlsCounters } from '../../../src/metrics/counters';

const slot = (method: string, statusClass: string) => METHOD_LABELS.indexOf(method as never) * STATUS_CLASS_LABELS.length + STATUS_CLASS_LABELS.indexOf(statusClass as never);
const both = ['http', 'https'] as const;

t.test('each response lands in its method × status-class slot; anything else is "other" or the nearest class', async (t) => {
  const cases: [string, number, string, string][] = [
    ['GET', 200, 'GET', '2xx'],
    ['HEAD', 304, 'HEAD', '3xx'],
    ['OPTIONS', 204, 'OPTIONS', '2xx'],
    ['POST', 405, 'other', '4xx'],
    ['get', 200, 'other', '2xx'],
    ['GET', 101, 'GET', '1xx'],
    ['GET', 503, 'GET', '5xx'],
    ['GET', 0, 'GET', '1xx'],
    ['GET', 99, 'GET', '1xx'],
    ['GET', 999, 'GET', '5xx'],
  ];
  for (const [method, status, label, statusClass] of cases) {
    const c = new RequestCounters(both);
    c.record('http', method, status, 0, 0);
    const want = new Float64Array(c.requests.length);
    want[slot(label, statusClass)] = 1;
    t.same([...c.requests], [...want], `${method} ${status}: ${label} ${statusClass}`);
  }
});

t.test('304 and 206 are counted on their own; bytes and seconds add up', async (t) => {
  const c = new RequestCounters(both);
  c.record('http', 'GET', 304, 0, 0.001);
  c.record('http', 'GET', 206, 100, 0.002);
  c.record('http', 'GET', 206, 50, 0.003);
  c.record('http', 'GET', 200, 1000, 0.004);
  t.same([...c.notModified], [1, 0]);
  t.same([...c.partialContent], [2, 0]);
  t.same([...c.responseBytes], [1150, 0]);
  t.ok(Math.abs(c.durationSeconds - 0.01) < 1e-12);
});

t.test('each listener has its own slots, in the order of LISTENER_LABELS; the histogram is shared', async (t) => {
  t.same(LISTENER_LABELS.map(listenerSlot), [0, 1], 'the slot of each label is its index');
  const c = new RequestCounters(['https', 'http']);
  t.same(c.listeners, ['https', 'http'], 'the listeners the process has, as given');
  c.record('https', 'GET', 200, 10, 0.001);
  c.record('https', 'HEAD', 304, 0, 0.001);
  c.record('https', 'GET', 206, 5, 0.001);
  c.record('http', 'GET', 308, 0, 0.001);
  const perListener = METHOD_LABELS.length * STATUS_CLASS_LABELS.length;
  const want = new Float64Array(2 * perListener);
  want[perListener + slot('GET', '2xx')] = 2;
  want[perListener + slot('HEAD', '3xx')] = 1;
  want[slot('GET', '3xx')] = 1;
  t.same([...c.requests], [...want]);
  t.same({ bytes: [...c.responseBytes], notModified: [...c.notModified], partial: [...c.partialContent] }, { bytes: [0, 15], notModified: [0, 1], partial: [0, 1] });
  t.equal(c.durationCounts.reduce((a, b) => a + b), 4, 'one histogram for both');
});

t.test('responses by protocol: HTTP/1.1 unless the response was an HTTP/2 stream', async (t) => {
  t.same(PROTOCOL_LABELS, ['HTTP/1.1', 'HTTP/2']);
  const c = new RequestCounters(['https']);
  c.record('https', 'GET', 200, 10, 0.001);
  c.record('https', 'GET', 200, 10, 0.001, true);
  c.record('https', 'GET', 404, 10, 0.001, true);
  t.same([...c.byProtocol], [1, 2]);
});

t.test('TLS: handshakes full or resumed, failures by their fixed reasons', async (t) => {
  const c = new TlsCounters();
  c.handshake(false);
  c.handshake(true);
  c.handshake(true);
  for (const reason of ['timeout', 'protocol', 'protocol', 'no-shared', 'no-shared', 'no-shared', 'other'] as const) c.handshakeFailed(reason);
  t.same([...c.handshakes], [1, 2], '[full, resumed]');
  t.same(HANDSHAKE_ERROR_LABELS, ['timeout', 'protocol', 'no_shared_cipher_or_version', 'other']);
  t.same([...c.handshakeErrors], [1, 2, 3, 1], 'in the order of the labels; "no-shared" is no_shared_cipher_or_version');
});

t.test('a duration falls in the first bucket whose bound it does not exceed; past the last, +Inf', async (t) => {
  const c = new RequestCounters(both);
  c.record('http', 'GET', 200, 0, 0); // the first bucket
  c.record('http', 'GET', 200, 0, DURATION_BUCKETS[0]!); // exactly on the bound: still the first
  c.record('http', 'GET', 200, 0, 0.0003); // above 0.00025, not above 0.0005
  c.record('http', 'GET', 200, 0, 10); // the last bound
  c.record('http', 'GET', 200, 0, 11); // past every bound
  const counts = [...c.durationCounts];
  t.equal(counts.length, DURATION_BUCKETS.length + 1);
  t.equal(counts[0], 2);
  t.equal(counts[DURATION_BUCKETS.indexOf(0.0005)], 1);
  t.equal(counts[DURATION_BUCKETS.length - 1], 1);
  t.equal(counts[DURATION_BUCKETS.length], 1, '+Inf');
  t.equal(counts.reduce((a, b) => a + b), 5);
});

t.test('the primary\'s counters start at zero', async (t) => {
  t.same({ ...new PrimaryCounters() }, { workerRestarts: 0, workerDrains: 0, reloads: 0, acmeRenewals: { success: 0, failure: 0 } });
});
