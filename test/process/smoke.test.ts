import t from 'tap';
import { hasResponses, makeSite, parseResponses, rawExchange, req, startServer } from '../fixtures/server';

t.test('serves a file and a 404 over one keep-alive connection', async (t) => {
  const root = makeSite(t, { 'index.html': '<h1>hi</h1>\n' });
  const s = await startServer(t, { root });
  const { data } = await rawExchange(s.port, req('/') + req('/missing'), { until: hasResponses(2) });
  const [a, b] = parseResponses(data);
  t.equal(a!.status, 200);
  t.equal(a!.body.toString(), '<h1>hi</h1>\n');
  t.equal(b!.status, 404);
});
