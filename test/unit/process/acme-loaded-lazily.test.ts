// The ACME client (acme-client, axios, node-forge, @peculiar/x509: 26 MiB and a quarter second
// per process) is loaded only by a process that owns ACME: the built primary and worker
// modules, loaded as every process loads them, leave it out; starting ACME brings it in.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { PROJECT } from '../../fixtures/server';

const dist = (m: string) => JSON.stringify(path.join(PROJECT, 'dist', m));

/** The ACME libraries in the module cache of a fresh Node after `code`. */
function loadedAfter(code: string): string[] {
  const out = execFileSync(process.execPath, ['-e', `${code}; console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /node_modules\\/(acme-client|node-forge|@peculiar\\/x509)\\//.test(k)).map((k) => k.split('node_modules/')[1].split('/')[0])))`], { encoding: 'utf8' });
  return [...new Set(JSON.parse(out) as string[])].sort();
}

t.test('the primary and the worker modules load no ACME library', async (t) => {
  t.same(loadedAfter(`require(${dist('process/primary.js')}); require(${dist('process/worker.js')})`), []);
});

t.test('the ACME start module brings them in (the check above can see them)', async (t) => {
  t.same(loadedAfter(`require(${dist('acme/start.js')})`), ['@peculiar', 'acme-client', 'node-forge']);
});
