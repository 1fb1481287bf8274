// http2/node-version.ts: HTTP/2 only on a Node with the flood fixes.
import t from 'tap';
import { http2Refusal } from '../../../src/http2/node-version';

t.test('the fixed versions and later serve HTTP/2', async (t) => {
  for (const v of ['v20.20.2', '20.20.3', '20.21.0', 'v22.22.2', '22.23.5', '24.14.1', '24.22.3', '25.8.2', '26.0.0', '30.1.2']) t.equal(http2Refusal(v), null, v);
  t.equal(http2Refusal(process.version), null, `this Node (${process.version}) is one of them`);
});

t.test('older ones and the odd lines without the fix are refused, naming the versions needed', async (t) => {
  t.equal(http2Refusal('v20.20.1'), 'Node 20.20.1 lacks the HTTP/2 fix for CVE-2026-21714 (in 20.20.2); HTTP/2 needs Node 20.20.2, 22.22.2 or 24.14.1 or later');
  t.equal(http2Refusal('v20.8.0'), 'Node 20.8.0 lacks the HTTP/2 fix for CVE-2026-21714 (in 20.20.2); HTTP/2 needs Node 20.20.2, 22.22.2 or 24.14.1 or later');
  t.match(http2Refusal('22.22.1'), /^Node 22\.22\.1 lacks .*\(in 22\.22\.2\)/);
  t.match(http2Refusal('24.14.0'), /^Node 24\.14\.0 lacks .*\(in 24\.14\.1\)/);
  t.match(http2Refusal('25.8.1'), /\(in 25\.8\.2\)/);
  t.equal(http2Refusal('v23.11.1'), 'Node 23.11.1 has no fix for CVE-2026-21714 (an HTTP/2 session leak); HTTP/2 needs Node 20.20.2, 22.22.2 or 24.14.1 or later');
  t.match(http2Refusal('18.20.8'), /^Node 18\.20\.8 has no fix/);
  t.equal(http2Refusal('nightly'), 'Node nightly is not a version this server knows');
});
