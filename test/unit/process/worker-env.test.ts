// What the primary hands a worker in its environment: the validated configuration and the
// inherited socket, read back exactly; nothing else set.
import t from 'tap';
import { readWorkerEnv, workerEnv } from '../../../src/process/worker-env';
import { run, sandbox } from '../../fixtures/config';

t.test('the configuration and the inherited socket come back as they were handed over', async (t) => {
  const { cwd } = sandbox(t);
  const config = run(['--port', '0', '--workers', '2', '--headers', '[{"glob": "/a/**", "headers": {"X-A": "1"}}]'], {}, cwd);
  const socket = { main: { fd: 3, name: 'https' }, httpPort: { fd: 4, name: 'http' } };
  const env = workerEnv(config, socket);
  t.same(Object.keys(env).sort(), ['FLEETSERVE_WORKER_CONFIG', 'FLEETSERVE_WORKER_INHERITED']);
  t.ok(Object.values(env).every((v) => typeof v === 'string'), 'strings, as an environment holds');
  const back = readWorkerEnv(env);
  t.same(back.config, config);
  t.same(back.inherited, socket);
  t.equal(back.addresses, null);
});

t.test('the addresses the primary resolved come back in order, beside the configuration', async (t) => {
  const { cwd } = sandbox(t);
  const config = run(['--host', 'localhost', '--port', '0'], {}, cwd);
  const env = workerEnv(config, null, ['127.0.0.1', '::1']);
  t.same(Object.keys(env).sort(), ['FLEETSERVE_WORKER_ADDRESSES', 'FLEETSERVE_WORKER_CONFIG']);
  t.same(readWorkerEnv(env).addresses, ['127.0.0.1', '::1']);
  t.same(readWorkerEnv(env).config, config);
});

t.test('the session-ticket keys the primary made come back byte for byte', async (t) => {
  const { cwd } = sandbox(t);
  const config = run(['--port', '0'], {}, cwd);
  const keys = Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 37 + 11) & 0xff));
  const env = workerEnv(config, null, null, keys);
  t.same(Object.keys(env).sort(), ['FLEETSERVE_WORKER_CONFIG', 'FLEETSERVE_WORKER_TICKET_KEYS']);
  t.ok(readWorkerEnv(env).ticketKeys?.equals(keys));
  t.equal(readWorkerEnv(workerEnv(config, null)).ticketKeys, null, 'no keys: none handed over');
});

t.test('without a socket, only the configuration; nothing at all reads as empty', async (t) => {
  const { cwd } = sandbox(t);
  const config = run([], {}, cwd);
  const env = workerEnv(config, null);
  t.same(Object.keys(env), ['FLEETSERVE_WORKER_CONFIG']);
  t.equal(readWorkerEnv(env).inherited, null);
  t.equal(readWorkerEnv(env).addresses, null, 'no addresses: the worker resolves the host itself');
  t.same(readWorkerEnv({}), { config: {}, inherited: null, addresses: null, ticketKeys: null, acmeAnswers: {} });
  // The HTTP-01 answers pending when a worker is forked reach it through its environment.
  const answers = { 'tok-1': 'tok-1.thumb', 'tok-2': 'tok-2.thumb' };
  t.same(readWorkerEnv(workerEnv(config, null, null, null, answers)).acmeAnswers, answers, 'pending ACME answers round-trip');
});
