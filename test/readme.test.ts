// The README renders as meant on a CommonMark renderer (markdown-it), documents every config
// key, links only to headings that exist, and quotes messages exactly as the programs print them.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import MarkdownIt from 'markdown-it';
import t from 'tap';
import { ConfigError, helpText, loadConfig } from '../src/config/config';
import { describeListenError } from '../src/errors';
import { listeningRecord } from '../src/process/listen-urls';
import { prettyMessage } from '../src/logs/logger';
import { countOf } from '../src/plural';
import { EXIT } from '../src/client/errors';
import { stopAnnouncement } from '../src/process/shutdown';
import { runClient } from './fixtures/client/harness';
import { PROJECT, spawnServer } from './fixtures/server';

const text = fs.readFileSync(path.join(PROJECT, 'README.md'), 'utf8');
const lines = text.split('\n');
const tokens = new MarkdownIt().parse(text, {});
const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})/;

/** Line numbers (0-based) inside fenced code blocks, fence lines included. */
const inFence = new Set<number>();
for (const tok of tokens.filter((x) => x.type === 'fence')) for (let i = tok.map![0]; i < tok.map![1]; i++) inFence.add(i);

t.test('every fence opens and closes where it should', (t) => {
  const fences = tokens.filter((x) => x.type === 'fence');
  t.ok(fences.length > 10, `${fences.length} fenced blocks`);
  for (const f of fences) {
    const [start, end] = f.map!;
    const where = `the fence opened on line ${start + 1}`;
    t.ok(end <= lines.length && /^ {0,3}(`{3,}|~{3,})\s*$/.test(lines[end - 1] ?? ''), `${where} is closed by a bare fence line (line ${end}), not by the end of the document`);
    const inner = f.content.split('\n').filter((l) => FENCE_LINE.test(l));
    t.same(inner, [], `${where} holds no line that looks like a fence (a fence followed by text does not close it)`);
  }
  const fenceLines = lines.map((l, i) => [l, i] as const).filter(([l]) => FENCE_LINE.test(l));
  t.equal(fenceLines.length, fences.length * 2, 'every fence-looking line opens or closes a block');
  t.same(tokens.filter((x) => x.type === 'code_block').map((x) => x.map![0] + 1), [], 'no accidental indented code block');
  t.end();
});

t.test('every heading outside code renders as a heading, and the sections are there', (t) => {
  const rendered = new Map<number, string>();
  tokens.forEach((tok, i) => {
    if (tok.type === 'heading_open') rendered.set(tok.map![0], `${tok.tag} ${tokens[i + 1]!.content}`);
  });
  lines.forEach((line, i) => {
    const m = /^(#{1,6}) (.*)$/.exec(line);
    if (!m || inFence.has(i)) return;
    t.equal(rendered.get(i), `h${m[1]!.length} ${m[2]}`, `line ${i + 1} is a heading: ${line}`);
  });
  const h2 = [...rendered.values()].filter((h) => h.startsWith('h2 ')).map((h) => h.slice(3));
  for (const name of ['Set-up', 'Running', 'Configuration', 'Signals and graceful drain', 'Logs', 'How requests are handled', 'What fleetserve does for each request header', 'Static-file behaviour', 'The client: `fleetserve-client`', 'Performance', 'Development']) {
    t.ok(h2.includes(name), `## ${name}`);
  }
  t.end();
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

t.test('links to sections lead to headings that exist', (t) => {
  const anchors = new Set<string>();
  tokens.forEach((tok, i) => {
    if (tok.type === 'heading_open') anchors.add(slug(tokens[i + 1]!.content));
  });
  const links: string[] = [];
  for (const tok of tokens) for (const child of tok.children ?? []) if (child.type === 'link_open') links.push(String(child.attrGet('href') ?? ''));
  const local = links.filter((h) => h.startsWith('#'));
  t.ok(local.length >= 3, 'the README links to its own sections');
  for (const href of local) t.ok(anchors.has(href.slice(1)), `${href} is a heading`);
  t.end();
});

t.test('nothing outside the repository, every config key documented', (t) => {
  t.notMatch(text, /shared\/|DESIGN\.md/, 'no path outside the repository');
  const scripts = (JSON.parse(fs.readFileSync(path.join(PROJECT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  for (const [, name] of text.matchAll(/npm run ([\w:-]+)/g)) t.ok(scripts[name!], `npm run ${name} exists`);
  for (const [, file] of text.matchAll(/`((?:scripts|config|src|test)\/[\w./-]+\.\w+)`/g)) t.ok(fs.existsSync(path.join(PROJECT, file!)), `${file} exists`);
  const help = helpText();
  const listed = [...help.matchAll(/^ {2}--([\w-]+)(?:, --no-[\w-]+)?(?:, (-\w))? {2}\(env (\w+), key "(\w+)"/gm)];
  const keys = Object.keys((loadConfig([], {}, PROJECT) as { config: object }).config);
  t.same(listed.map((m) => m[4]).sort(), keys.sort(), 'the help lists every key (booleans with their --no- form)');
  for (const m of listed) {
    const [, flag, short, env, key] = m;
    const row = lines.find((l) => l.startsWith(`| \`${key}\` |`));
    t.ok(row, `a table row for ${key}`);
    if (!row) continue;
    t.match(row, `\`--${flag}\``, `${key}: its flag`);
    if (short) t.match(row, `\`${short}\``, `${key}: its short flag`);
    t.match(row, `\`${env}\``, `${key}: its env var`);
  }
  t.end();
});

/** The README's quoted line that starts with `prefix` (inside backticks or on its own line). */
function quoted(prefix: string): string {
  const m = new RegExp(`(?:^|\`)(${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^\`\\n]*)`, 'm').exec(text);
  return m ? m[1]! : `(no line starting with ${JSON.stringify(prefix)} in the README)`;
}

function configError(argv: string[], cwd = PROJECT): string {
  try {
    loadConfig(argv, {}, cwd);
    return '(no error)';
  } catch (err) {
    return err instanceof ConfigError ? `fleetserve: ${err.message}` : String(err);
  }
}

/** The error for a JSON file holding `data`, as if the file were `shownDir/name`. */
function fileError(data: object, shownDir: string, name: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-readme-')));
  try {
    fs.writeFileSync(path.join(dir, name), JSON.stringify(data));
    return configError(['--config', path.join(dir, name)]).replaceAll(dir, shownDir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

t.test('quoted server messages are the ones it prints', async (t) => {
  const errno = (code: string) => Object.assign(new Error(code), { code });
  t.equal(quoted('fleetserve: port 6789'), `fleetserve: ${describeListenError(errno('EADDRINUSE'), '0.0.0.0', 6789)}`);
  t.equal(quoted('fleetserve: permission denied'), `fleetserve: ${describeListenError(errno('EACCES'), '0.0.0.0', 80)}`);
  t.equal(quoted('fleetserve: address 10.1.2.3'), `fleetserve: ${describeListenError(errno('EADDRNOTAVAIL'), '10.1.2.3', 6789)}`);
  t.equal(quoted('fleetserve: port: '), configError(['--port', '99999']));
  t.equal(quoted('fleetserve: root: '), configError(['--root', 'public'], '/home/me'));
  t.equal(quoted('fleetserve: unknown option -v'), configError(['-v']));
  t.equal(quoted('fleetserve: unknown option --prot'), configError(['--prot', '80']));
  t.equal(quoted('fleetserve: lisitng: '), fileError({ lisitng: true }, '/etc', 'fleetserve.json'));
  t.equal(quoted('fleetserve: root: /etc/'), fileError({ root: 'public' }, '/etc', 'fleetserve.json'));
  t.equal(quoted('fleetserve: root: /srv/www'), configError(['--config', 'config/production.json']).replaceAll(PROJECT, '/home/me/fleetserve'));
  const reload = JSON.parse(lines.find((l) => l.includes('"reload failed: ')) ?? '{}') as { reason?: string };
  t.equal(`fleetserve: ${reload.reason}`, fileError({ headres: [] }, '/home/me', 'fleetserve.json'), 'the reload example\'s reason');
  t.equal(quoted('fleetserve: pidFile: directory'), configError(['--pid-file', '/run/fleetserve/fleetserve.pid']));
  t.match(text, `INFO: ${(loadConfig([], {}, PROJECT) as { rootChoice?: string }).rootChoice}\n`, 'the root note, as logged from a checkout');

  // The start-up line, JSON and pretty, for a machine whose one network address is 192.0.2.2.
  const eth = { eth0: [{ address: '192.0.2.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.0.2.2/24' }] } as never;
  const r = listeningRecord('0.0.0.0', 6789, 2, eth);
  const json = lines.find((l) => l.startsWith('{') && l.includes('"urls"'));
  t.ok(json, 'the README shows the JSON listening line');
  const shown = JSON.parse(json ?? '{}') as Record<string, unknown>;
  t.same({ url: shown.url, urls: shown.urls, host: shown.host, port: shown.port, workers: shown.workers, msg: shown.msg }, { ...r.fields, msg: r.msg });
  const pretty = prettyMessage({ ...shown });
  t.match(text, `INFO: ${pretty}\n`, 'the pretty block is what the terminal shows for that line');

  // Every stop line shown is the one the primary writes for its fields, and the pretty block shows it as a terminal does.
  const stops = lines.filter((l) => l.startsWith('{') && l.includes('"msg":"SIG') && l.includes(': draining')).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(stops.length >= 2, 'the README shows stop lines');
  for (const st of stops) {
    const timing = { drainTimeoutMs: st.drainTimeoutMs as number, preDrainDelayMs: st.preDrainDelayMs as number };
    t.equal(st.msg, stopAnnouncement(st.signal as NodeJS.Signals, countOf(st.workers as number, 'worker'), timing, st.reloading as boolean), `the stop line: ${String(st.msg)}`);
  }
  const ctrlC = { worker: 'primary', signal: 'SIGINT', workers: 2, drainTimeoutMs: 10000, preDrainDelayMs: 0, reloading: false };
  t.match(text, `^C[14:30:37.964] INFO: ${prettyMessage({ ...ctrlC, msg: stopAnnouncement('SIGINT', '2 workers', ctrlC) })}\n`, 'the Ctrl+C line as the terminal shows it');
  t.match(text, stopAnnouncement('SIGINT', '', ctrlC).replace('up to ', 'up to\n'), 'the single process');

  // And the process prints the port line exactly so (address and port aside).
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const s = spawnServer({ args: ['-a', '127.0.0.1', '-p', String(port), '--workers', '0'] });
  t.teardown(() => s.kill());
  t.same(await s.exited(8000), { code: 1, signal: null });
  t.equal(s.stderr(), quoted('fleetserve: port 6789').replace('6789', String(port)).replace('0.0.0.0', '127.0.0.1') + '\n');
});

t.test("the client's exit-code table has a row for each code of its catalogue, and no other", async (t) => {
  const client = text.slice(text.indexOf('## The client: `fleetserve-client`'));
  const section = client.slice(client.indexOf('### Exit codes'), client.indexOf('### Examples'));
  const rows = [...section.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
  t.same(rows, Object.values(EXIT).sort((a, b) => a - b));
});

t.test('quoted client messages are the ones it prints', async (t) => {
  const cases: [string[], string, number][] = [
    [['127.0.0.1:1/'], 'fleetserve-client: connection refused by', 7],
    [['https://127.0.0.1:6789/'], 'fleetserve-client: https://', 1],
    [['http://127.0.0.1:6789/a', 'http://localhost:6789/b'], 'fleetserve-client: all URLs', 2],
  ];
  for (const [args, prefix, code] of cases) {
    const r = await runClient(args);
    t.equal(r.code, code, `${args.join(' ')}: exit ${code}`);
    t.equal(r.stderr, quoted(prefix) + '\n', `${args.join(' ')}: the README's line`);
    t.match(text, new RegExp(`${quoted(prefix).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n${code}\\n`), 'and its exit code');
  }
});
