// What a reload changes (pure): the keys that differ, what a cluster or a single process
// cannot apply (kept as in force, reported), and how a change is written in a log line.
import t from 'tap';
import type { Config } from '../../../src/config/config';
import { DEFS } from '../../../src/config/schema';
import { applicable, changedKeys, CLUSTER_RESTART_KEYS, describeChanges, SINGLE_RESTART_KEYS, singleRestartKeys } from '../../../src/process/reload';
import { run, sandbox } from '../../fixtures/config';

t.test('reload keys: changed keys in schema order, with both values; arrays and objects compared by value', async (t) => {
  const { cwd } = sandbox(t);
  const base = run(['--port', '8000', '--workers', '2'], {}, cwd);
  t.same(changedKeys(base, base), {}, 'nothing');
  t.same(changedKeys(base, { ...base, headers: [...base.headers] }), {}, 'an equal array is no change');
  const next: Config = { ...base, logLevel: 'debug', port: 8001, immutablePaths: [] };
  const changes = changedKeys(base, next);
  t.same(Object.keys(changes), ['port', 'logLevel', 'immutablePaths'], 'in schema order, not in the order they were changed');
  t.same(changes.port, { old: 8000, new: 8001 });
  t.same(changes.immutablePaths, { old: base.immutablePaths, new: [] });
});

t.test('applicable: keys a reload cannot apply keep their values in force and are reported', async (t) => {
  const { cwd } = sandbox(t);
  const base = run(['--port', '8000', '--workers', '2'], {}, cwd);
  const next: Config = { ...base, port: 8001, scheduling: 'rr', metricsPort: 9100, cacheControl: 'no-cache' };
  const cluster = applicable(base, next, CLUSTER_RESTART_KEYS);
  t.same(cluster.needRestart, { scheduling: { old: 'none', new: 'rr' }, metricsPort: { old: 0, new: 9100 } });
  t.same([cluster.config.port, cluster.config.scheduling, cluster.config.metricsPort, cluster.config.cacheControl], [8001, 'none', 0, 'no-cache'], 'a cluster applies a new port; not the scheduling or metrics');
  t.ok(Object.isFrozen(cluster.config), 'frozen, like a loaded configuration');
  const single = applicable({ ...base, workers: 0 }, { ...next, workers: 0 }, SINGLE_RESTART_KEYS);
  t.same(Object.keys(single.needRestart), ['port', 'scheduling', 'metricsPort'], 'a single process keeps its socket');
  t.equal(single.config.port, 8000);
  t.equal(single.config.cacheControl, 'no-cache');
  const toSingle = applicable(base, { ...base, workers: 0 }, CLUSTER_RESTART_KEYS);
  t.same(toSingle.needRestart, { workers: { old: 2, new: 0 } }, 'a cluster cannot become a single process');
  t.equal(toSingle.config.workers, 2);
  t.same(applicable(base, { ...base, workers: 3 }, CLUSTER_RESTART_KEYS).needRestart, {}, 'but it can change its count');
  const toCluster = applicable({ ...base, workers: 0 }, { ...base, workers: 2 }, SINGLE_RESTART_KEYS);
  t.same(toCluster.needRestart, { workers: { old: 0, new: 2 } }, 'nor a single process a cluster');
});

t.test('a single process: new certificate files apply in place, turning TLS on or off needs a restart', async (t) => {
  const { cwd } = sandbox(t);
  const plain = run(['--workers', '0'], {}, cwd);
  const tls: Config = { ...plain, tlsCert: '/etc/tls/cert.pem', tlsKey: '/etc/tls/key.pem', hsts: 'max-age=60' };
  const renewed: Config = { ...tls, tlsCert: '/etc/tls/new/cert.pem', tlsKey: '/etc/tls/new/key.pem', tlsCertificates: [{ cert: '/etc/tls/a.pem', key: '/etc/tls/a.key' }] };
  const inPlace = applicable(tls, renewed, singleRestartKeys(tls, renewed));
  t.same(inPlace.needRestart, {}, 'other files, TLS on before and after: applied');
  t.equal(inPlace.config.tlsCert, '/etc/tls/new/cert.pem');
  t.same(inPlace.config.tlsCertificates, renewed.tlsCertificates);
  const on = applicable(plain, tls, singleRestartKeys(plain, tls));
  t.same(Object.keys(on.needRestart), ['tlsCert', 'tlsKey', 'hsts'], 'plain HTTP cannot turn into HTTPS in place');
  t.same([on.config.tlsCert, on.config.tlsKey, on.config.hsts], ['', '', ''], 'all kept as in force');
  const off = applicable(tls, plain, singleRestartKeys(tls, plain));
  t.same(Object.keys(off.needRestart), ['tlsCert', 'tlsKey', 'hsts'], 'nor HTTPS into plain HTTP');
  t.equal(off.config.tlsCert, '/etc/tls/cert.pem');
  const min = applicable(tls, { ...tls, tlsMinVersion: 'TLSv1.3', httpPort: 8080 }, singleRestartKeys(tls, tls));
  t.same(Object.keys(min.needRestart), ['httpPort', 'tlsMinVersion'], "the HTTP port's socket and the TLS policy the acceptor was made with");
  t.same(applicable(tls, renewed, CLUSTER_RESTART_KEYS).needRestart, {}, 'a cluster applies all of them (new workers)');
});

t.test('the restart-only keys are keys of the schema', async (t) => {
  for (const key of [...CLUSTER_RESTART_KEYS, ...SINGLE_RESTART_KEYS]) t.ok(Object.hasOwn(DEFS, key), key);
});

t.test('describeChanges: key: old → new, as JSON', async (t) => {
  t.equal(describeChanges({}), 'no configuration change');
  t.equal(describeChanges({ port: { old: 8000, new: 8001 } }), 'port: 8000 → 8001');
  t.equal(describeChanges({ cacheControl: { old: 'a', new: 'b' }, corsOrigins: { old: [], new: ['https://x.example'] } }), 'cacheControl: "a" → "b", corsOrigins: [] → ["https://x.example"]');
});
