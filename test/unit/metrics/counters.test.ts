// What a serving process counts per response: the method and status-class slots, the 304
// and 206 counts, bytes and seconds, and the duration bucket each response falls in.
import t from 'tap';
import { DURATION_BUCKETS, METHOD_LABELS, PrimaryCounters, RequestCounters, STATUS_CLASS_LABELS } from '../../../src/metrics/counters';

const slot = (method: string, statusClass: string) => METHOD_LABELS.indexOf(method as never) * STATUS_CLASS_LABELS.length + STATUS_CLASS_LABELS.indexOf(statusClass as never);

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
    const c = new RequestCounters();
    c.record(method, status, 0, 0);
    const want = new Float64Array(c.requests.length);
    want[slot(label, statusClass)] = 1;
    t.same([...c.requests], [...want], `${method} ${status}: ${label} ${statusClass}`);
  }
});

t.test('304 and 206 are counted on their own; bytes and seconds add up', async (t) => {
  const c = new RequestCounters();
  c.record('GET', 304, 0, 0.001);
  c.record('GET', 206, 100, 0.002);
  c.record('GET', 206, 50, 0.003);
  c.record('GET', 200, 1000, 0.004);
  t.equal(c.notModified, 1);
  t.equal(c.partialContent, 2);
  t.equal(c.responseBytes, 1150);
  t.ok(Math.abs(c.durationSeconds - 0.01) < 1e-12);
});

t.test('a duration falls in the first bucket whose bound it does not exceed; past the last, +Inf', async (t) => {
  const c = new RequestCounters();
  c.record('GET', 200, 0, 0); // the first bucket
  c.record('GET', 200, 0, DURATION_BUCKETS[0]!); // exactly on the bound: still the first
  c.record('GET', 200, 0, 0.0003); // above 0.00025, not above 0.0005
  c.record('GET', 200, 0, 10); // the last bound
  c.record('GET', 200, 0, 11); // past every bound
  const counts = [...c.durationCounts];
  t.equal(counts.length, DURATION_BUCKETS.length + 1);
  t.equal(counts[0], 2);
  t.equal(counts[DURATION_BUCKETS.indexOf(0.0005)], 1);
  t.equal(counts[DURATION_BUCKETS.length - 1], 1);
  t.equal(counts[DURATION_BUCKETS.length], 1, '+Inf');
  t.equal(counts.reduce((a, b) => a + b), 5);
});

t.test('the primary\'s counters start at zero', async (t) => {
  t.same({ ...new PrimaryCounters() }, { workerRestarts: 0, workerDrains: 0, reloads: 0 });
});
