// http/access.ts: one response → one access record and one count, with what the access log
// shows (the client behind a proxy, the peer, cut responses, refused heads); nothing at all
// when both are off.
import t, { type Test } from 'tap';
import { reportResponse, type ClientAddresses } from '../../../src/http/access';
import type { AccessRecord, LoggedRequest } from '../../../src/http/types';
import { METHOD_LABELS, RequestCounters, STATUS_CLASS_LABELS } from '../../../src/metrics/counters';

const HTTP = { name: 'http', tls: undefined } as const;
const direct: ClientAddresses = { remote: '127.0.0.1', peer: '127.0.0.1', listener: HTTP };

function request(over: Partial<LoggedRequest> = {}): LoggedRequest {
  return { method: 'GET', target: '/a.txt?x=1', minor: 1, headers: { host: 'x' }, ...over };
}

/** The one record a call gives (fails the test when it gives none or more). */
function recordOf(t: Test, call: (sink: (r: AccessRecord) => void) => void): AccessRecord {
  const records: AccessRecord[] = [];
  call((r) => records.push(r));
  t.equal(records.length, 1, 'one record per response');
  return records[0]!;
}

const slot = (method: string, statusClass: string) => METHOD_LABELS.indexOf(method as never) * STATUS_CLASS_LABELS.length + STATUS_CLASS_LABELS.indexOf(statusClass as never);

t.test('a complete response: every field of the record', async (t) => {
  const started = performance.now() - 12.5;
  const req = request({ headers: { host: 'x', referer: 'http://x/from', 'user-agent': 'curl/8' } });
  const before = performance.now();
  const r = recordOf(t, (sink) => reportResponse(sink, null, direct, req, 200, 1234, null, started));
  const after = performance.now();
  t.same(
    { ...r, ms: 0 },
    {
      method: 'GET',
      path: '/a.txt?x=1',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 1234,
      completed: true,
      reason: null,
      ms: 0,
      remote: '127.0.0.1',
      referer: 'http://x/from',
      userAgent: 'curl/8',
      peer: undefined,
      proto: undefined,
      listener: 'http',
    },
  );
  t.ok(r.ms >= Math.floor((before - started) * 1000) / 1000 && r.ms <= after - started + 0.001, `ms measured from started (${r.ms})`);
  t.equal(Math.round(r.ms * 1000), r.ms * 1000, 'rounded to microseconds');
  t.ok('peer' in r && 'proto' in r, 'peer and proto are present (undefined), so every record has one shape');
});

t.test('HTTP/1.0, and absent Referer and User-Agent are empty strings', async (t) => {
  const r = recordOf(t, (sink) => reportResponse(sink, null, direct, request({ minor: 0, method: 'HEAD' }), 304, 0, null, performance.now()));
  t.match(r, { method: 'HEAD', protocol: 'HTTP/1.0', status: 304, referer: '', userAgent: '' });
});

t.test('a cut response: not completed, its reason, and the bytes the kernel took', async (t) => {
  for (const reason of ['client-closed', 'send-timeout', 'drain-deadline', 'forced', 'file-error'] as const) {
    const r = recordOf(t, (sink) => reportResponse(sink, null, direct, request(), 200, 65536, reason, performance.now()));
    t.match(r, { completed: false, reason, bytes: 65536, status: 200 }, reason);
  }
});

t.test('a head refused before its request line was valid: "-" for method, path and protocol', async (t) => {
  const r = recordOf(t, (sink) => reportResponse(sink, null, direct, null, 400, 0, null, performance.now()));
  t.match(r, { method: '-', path: '-', protocol: '-', status: 400, bytes: 0, completed: true, reason: null, remote: '127.0.0.1', referer: '', userAgent: '', peer: undefined, proto: undefined });
  const cut = recordOf(t, (sink) => reportResponse(sink, null, direct, null, 444, 0, 'client-closed', performance.now()));
  t.match(cut, { method: '-', completed: false, reason: 'client-closed' });
});

t.test('behind a PROXY header: the client is remote, the proxy is the peer', async (t) => {
  const proxied: ClientAddresses = { remote: '203.0.113.7', peer: '10.0.0.2', listener: HTTP };
  const r = recordOf(t, (sink) => reportResponse(sink, null, proxied, request(), 200, 0, null, performance.now()));
  t.match(r, { remote: '203.0.113.7', peer: '10.0.0.2', proto: undefined });
  const refused = recordOf(t, (sink) => reportResponse(sink, null, proxied, null, 400, 0, null, performance.now()));
  t.match(refused, { remote: '203.0.113.7', peer: '10.0.0.2' }, 'also for a refused head');
});

t.test("a trusted proxy's X-Forwarded-For names the client, X-Forwarded-Proto its scheme", async (t) => {
  const viaProxy: ClientAddresses = { remote: '10.0.0.2', peer: '10.0.0.2', listener: HTTP };
  const req = request({ forwarded: { for: '198.51.100.9', proto: 'https' } });
  const r = recordOf(t, (sink) => reportResponse(sink, null, viaProxy, req, 200, 5, null, performance.now()));
  t.match(r, { remote: '198.51.100.9', peer: '10.0.0.2', proto: 'https' });
  const noProto = recordOf(t, (sink) => reportResponse(sink, null, viaProxy, request({ forwarded: { for: '198.51.100.9', proto: undefined } }), 200, 5, null, performance.now()));
  t.match(noProto, { remote: '198.51.100.9', peer: '10.0.0.2', proto: undefined });
  // The forwarded client is the proxy itself (a request from the proxy's host): no peer to show.
  const self = recordOf(t, (sink) => reportResponse(sink, null, viaProxy, request({ forwarded: { for: '10.0.0.2', proto: 'http' } }), 200, 5, null, performance.now()));
  t.match(self, { remote: '10.0.0.2', peer: undefined, proto: 'http' });
});

t.test('counters: one count per response, in its slot, with its bytes and seconds; no record without a sink', async (t) => {
  const c = new RequestCounters(['http']);
  const started = performance.now() - 20;
  reportResponse(null, c, direct, request(), 200, 100, null, started);
  reportResponse(null, c, direct, request({ method: 'HEAD' }), 304, 0, null, performance.now());
  reportResponse(null, c, direct, null, 400, 0, null, performance.now());
  reportResponse(null, c, direct, request(), 200, 50, 'client-closed', performance.now());
  const want = new Float64Array(c.requests.length);
  want[slot('GET', '2xx')] = 2;
  want[slot('HEAD', '3xx')] = 1;
  want[slot('other', '4xx')] = 1;
  t.same([...c.requests], [...want], 'a refused head ("-") counts as other');
  t.equal(c.responseBytes[0], 150, 'the bytes the kernel took, of the cut one too');
  t.equal(c.notModified[0], 1);
  t.ok(c.durationSeconds >= 0.02 && c.durationSeconds < 1, `seconds add up (${c.durationSeconds})`);
});

t.test('the record and the count measure the same duration', async (t) => {
  const c = new RequestCounters(['http']);
  const r = recordOf(t, (sink) => reportResponse(sink, c, direct, request(), 200, 7, null, performance.now() - 5));
  t.equal(c.responseBytes[0], 7);
  t.ok(Math.abs(c.durationSeconds * 1000 - r.ms) < 0.001, `${c.durationSeconds * 1000} ms ≈ ${r.ms} ms`);
});

t.test('both off: nothing recorded, nothing counted, and no clock read', async (t) => {
  const realNow = performance.now;
  let reads = 0;
  performance.now = () => {
    reads++;
    return realNow.call(performance);
  };
  t.teardown(() => {
    performance.now = realNow;
  });
  reportResponse(null, null, direct, request(), 200, 1, null, 0);
  t.equal(reads, 0, 'the hot path pays a null check only');
  const c = new RequestCounters(['http']);
  reportResponse(null, c, direct, request(), 200, 1, null, 0);
  t.equal(reads, 1, 'with counters on: one clock read');
});
