// acme/ca-answers.ts: what the CA answered, as the error the manager logs — a problem
// document's detail and type, an answer that is no problem document, a request with no answer —
// and, through acme-client's own axios on 127.0.0.1, that badNonce is still left to acme-client
// while every other error answer becomes a CaProblem.
import http from 'node:http';
import t from 'tap';
import * as acme from 'acme-client';
import { answerProblem, CaProblem, explainCaAnswers, isProblem, unansweredProblem } from '../../../src/acme/ca-answers';

const REQ = 'POST https://ca.example/new-order';

t.test('a problem document: the detail and the type', async (t) => {
  const p = answerProblem({ status: 400, statusText: 'Bad Request', headers: {}, data: '{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"no"}' }, REQ);
  t.equal(p.message, `the CA answered ${REQ} with 400 Bad Request: no (urn:ietf:params:acme:error:rejectedIdentifier)`);
  t.ok(isProblem(p, 'rejectedIdentifier'));
  t.notOk(isProblem(p, 'accountDoesNotExist'));
  t.notOk(isProblem(new Error('rejectedIdentifier'), 'rejectedIdentifier'), 'a message is not a type');
  t.equal(answerProblem({ status: 500, statusText: '', headers: {}, data: { detail: 'down' } }, REQ).message, `the CA answered ${REQ} with 500: down`, 'parsed already, no type');
});

t.test('no problem document: the content type and the start of the body', async (t) => {
  const html = answerProblem({ status: 502, statusText: 'Bad Gateway', headers: { 'content-type': 'text/html' }, data: `<html>\n${'x'.repeat(500)}` }, REQ);
  t.equal(html.message, `the CA answered ${REQ} with 502 Bad Gateway and no problem document (text/html: "<html> ${'x'.repeat(113)}")`);
  t.equal(html.type, null);
  t.match(answerProblem({ status: 503, statusText: '', headers: {}, data: '' }, REQ).message, /\(no content type: an empty body\)$/);
});

t.test('no answer: the cause', async (t) => {
  t.equal(unansweredProblem(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), REQ).message, `the CA did not answer ${REQ} (connect ECONNREFUSED 127.0.0.1:1)`);
  t.equal(unansweredProblem(Object.assign(new Error('timeout of 30000ms exceeded'), { code: 'ECONNABORTED' }), REQ).message, `the CA did not answer ${REQ} (no answer in time: timeout of 30000ms exceeded)`);
  t.equal(unansweredProblem(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), REQ).message, `the CA did not answer ${REQ} (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate)`);
  t.equal(unansweredProblem(new Error('x'), REQ).status, 0);
});

t.test("through acme-client's axios: error answers thrown, badNonce and success returned", async (t) => {
  const server = http.createServer((req, res) => {
    const [status, type] = req.url === '/nonce' ? [400, 'badNonce'] : req.url === '/ok' ? [200, ''] : [403, 'unauthorized'];
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify(type ? { type: `urn:ietf:params:acme:error:${type}`, detail: type } : { ok: true }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  explainCaAnswers(acme.axios);
  explainCaAnswers(acme.axios); // once: a second call adds nothing
  const opts = { validateStatus: null };
  t.equal((await acme.axios.get(`${base}/ok`, opts)).status, 200);
  t.equal((await acme.axios.get(`${base}/nonce`, opts)).status, 400, 'badNonce is acme-client\'s to retry');
  const err = await acme.axios.get(`${base}/denied`, opts).catch((e: unknown) => e);
  t.ok(err instanceof CaProblem && isProblem(err, 'unauthorized'), 'an error answer is a CaProblem');
  t.equal((err as Error).message, `the CA answered GET ${base}/denied with 403 Forbidden: unauthorized (urn:ietf:params:acme:error:unauthorized)`);
  const gone = await acme.axios.get('http://127.0.0.1:1/dir', opts).catch((e: unknown) => e);
  t.match((gone as Error).message, /^the CA did not answer GET http:\/\/127\.0\.0\.1:1\/dir \(connect ECONNREFUSED/, 'no answer: named, not a TypeError');
});
