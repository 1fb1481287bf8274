// The manual (README.md and the pages in docs/) renders as meant on a CommonMark renderer
// (markdown-it), documents every config key in the README, links only to pages and headings
// that exist, and quotes messages exactly as the programs print them.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import MarkdownIt from 'markdown-it';
import t, { type Test } from 'tap';
import { ConfigError, helpText, loadConfig } from '../../src/config/config';
import { describeListenError } from '../../src/errors';
import { listeningRecord } from '../../src/process/listen-urls';
import { prettyMessage } from '../../src/logs/logger';
import { countOf } from '../../src/plural';
import { EXIT } from '../../src/client/errors';
import { stopAnnouncement } from '../../src/process/shutdown';
import { runClient } from '../fixtures/client/harness';
import { isDraft, MANUAL_PAGES, readPage } from '../fixtures/manual';
import { PROJECT, spawnServer } from '../fixtures/server';

type Token = ReturnType<InstanceType<typeof MarkdownIt>['parse']>[number];
const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})/;

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

interface Page {
  name: string;
  text: string;
  lines: string[];
  tokens: Token[];
  /** Line numbers (0-based) inside fenced code blocks, fence lines included. */
  inFence: Set<number>;
  /** `h2 Name` for every heading, by its line. */
  headings: Map<number, string>;
  anchors: string[];
}

function readManualPage(name: string): Page {
  const text = readPage(name);
  const tokens = new MarkdownIt().parse(text, {});
  const inFence = new Set<number>();
  for (const tok of tokens.filter((x) => x.type === 'fence')) for (let i = tok.map![0]; i < tok.map![1]; i++) inFence.add(i);
  const headings = new Map<number, string>();
  tokens.forEach((tok, i) => {
    if (tok.type === 'heading_open') headings.set(tok.map![0], `${tok.tag} ${tokens[i + 1]!.content}`);
  });
  const anchors = [...headings.values()].map((h) => slug(h.slice(3)));
  return { name, text, lines: text.split('\n'), tokens, inFence, headings, anchors };
}

const pages = MANUAL_PAGES.map(readManualPage);
const readme = pages[0]!;
const text = readme.text;
const lines = readme.lines;
const page = (name: string) => pages.find((p) => p.name === name) ?? readManualPage(name);
/** Every line of every page. */
const allLines = pages.flatMap((p) => p.lines);

function linksOf(p: Page): string[] {
  const links: string[] = [];
  for (const tok of p.tokens) for (const child of tok.children ?? []) if (child.type === 'link_open') links.push(String(child.attrGet('href') ?? ''));
  return links;
}

t.test('the manual: the README and the pages in docs/, each linked from the README', (t) => {
  t.ok(pages.length >= 5, `${pages.length} pages: ${MANUAL_PAGES.join(', ')}`);
  const linked = new Set(linksOf(readme).map((h) => h.split('#')[0]));
  for (const p of pages.slice(1)) t.ok(linked.has(p.name), `the README links to ${p.name}`);
  t.ok(Buffer.byteLength(text) <= 45 * 1024, `the README is read in ten minutes: ${Buffer.byteLength(text)} bytes (at most 45 KiB; reference goes to docs/)`);
  t.end();
});

t.test('no page holds a merge conflict left behind', (t) => {
  for (const p of pages) {
    const markers = p.lines.flatMap((l, i) => (/^(<{7}|={7}|>{7})( |$)/.test(l) && !p.inFence.has(i) ? [i + 1] : []));
    t.same(markers, [], `${p.name}: no conflict marker lines`);
  }
  t.end();
});

t.test('every fence opens and closes where it should', (t) => {
  let total = 0;
  for (const p of pages) {
    const fences = p.tokens.filter((x) => x.type === 'fence');
    total += fences.length;
    for (const f of fences) {
      const [start, end] = f.map!;
      const where = `${p.name}: the fence opened on line ${start + 1}`;
      t.ok(end <= p.lines.length && /^ {0,3}(`{3,}|~{3,})\s*$/.test(p.lines[end - 1] ?? ''), `${where} is closed by a bare fence line (line ${end}), not by the end of the document`);
      const inner = f.content.split('\n').filter((l) => FENCE_LINE.test(l));
      t.same(inner, [], `${where} holds no line that looks like a fence (a fence followed by text does not close it)`);
    }
    const fenceLines = p.lines.filter((l) => FENCE_LINE.test(l));
    t.equal(fenceLines.length, fences.length * 2, `${p.name}: every fence-looking line opens or closes a block`);
    t.same(p.tokens.filter((x) => x.type === 'code_block').map((x) => x.map![0] + 1), [], `${p.name}: no accidental indented code block`);
  }
  t.ok(total > 10, `${total} fenced blocks`);
  t.end();
});

t.test('every heading outside code renders as a heading, and the sections are there', (t) => {
  for (const p of pages) {
    p.lines.forEach((line, i) => {
      const m = /^(#{1,6}) (.*)$/.exec(line);
      if (!m || p.inFence.has(i)) return;
      t.equal(p.headings.get(i), `h${m[1]!.length} ${m[2]}`, `${p.name} line ${i + 1} is a heading: ${line}`);
    });
    const h1 = [...p.headings.values()].filter((h) => h.startsWith('h1 '));
    t.equal(h1.length, 1, `${p.name}: one title`);
    t.same(p.anchors.filter((a, i) => p.anchors.indexOf(a) !== i), [], `${p.name}: no two headings with one anchor`);
  }
  const sections: Record<string, string[]> = {
    'README.md': ['Set-up', 'Running', 'Configuration', 'Signals and graceful drain', 'Logs', 'The client: `fleetserve-client`', 'Performance', 'Documentation', 'Development'],
    'docs/operations.md': ['Reload (SIGHUP)', 'Health and pre-drain', 'Checking a configuration', 'Metrics', 'Log files and rotation', 'Running under systemd'],
    'docs/deployment.md': ['Behind a proxy', 'Scaling out behind a load balancer'],
    'docs/http-behaviour.md': ['How requests are handled', 'What fleetserve does for each request header', 'Static-file behaviour', 'Redirect rules'],
    'docs/security.md': ['Limits and timeouts', 'Basic authentication'],
    'docs/client.md': ['Options', 'Exit codes', 'Examples'],
    'docs/performance.md': ['How it is measured', 'Where a request\'s time goes', 'Memory'],
    'docs/development.md': ['Architecture', 'Layout', 'Tests'],
  };
  for (const [name, wanted] of Object.entries(sections)) {
    const h2 = [...page(name).headings.values()].filter((h) => h.startsWith('h2 ')).map((h) => h.slice(3));
    for (const s of wanted) t.ok(h2.includes(s), `${name}: ## ${s}`);
  }
  t.end();
});

t.test('links lead to pages and headings that exist, inside the repository', (t) => {
  const local = linksOf(readme).filter((h) => h.startsWith('#'));
  t.ok(local.length >= 3, 'the README links to its own sections');
  for (const p of pages) {
    for (const href of linksOf(p)) {
      if (/^https?:\/\//.test(href)) continue;
      const [file = '', anchor] = href.split('#') as [string, string | undefined];
      const target = file === '' ? p.name : path.relative(PROJECT, path.resolve(PROJECT, path.dirname(p.name), file));
      const where = `${p.name}: ${href}`;
      if (target.startsWith('..') || path.isAbsolute(target) || /^[a-z]+:/i.test(file)) {
        t.fail(`${where} leads outside the repository`);
        continue;
      }
      t.ok(fs.existsSync(path.join(PROJECT, target)), `${where}: ${target} exists`);
      t.notOk(isDraft(target), `${where}: not a work note (-draft.md)`);
      if (anchor === undefined) continue;
      const to = MANUAL_PAGES.includes(target) ? page(target) : undefined;
      t.ok(to?.anchors.includes(anchor), `${where} is a heading of ${target}`);
    }
  }
  t.end();
});

t.test('nothing outside the repository, every config key documented', (t) => {
  const scripts = (JSON.parse(fs.readFileSync(path.join(PROJECT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  for (const p of pages) {
    t.notMatch(p.text, /shared\/|DESIGN\.md|\/work\//, `${p.name}: no path outside the repository`);
    for (const [, name] of p.text.matchAll(/npm run ([\w:-]+)/g)) t.ok(scripts[name!], `${p.name}: npm run ${name} exists`);
    for (const [, file] of p.text.matchAll(/`((?:scripts|config|src|test)\/[\w./-]+\.\w+|docs\/[\w.-]+\.md)`/g)) t.ok(fs.existsSync(path.join(PROJECT, file!)), `${p.name}: ${file} exists`);
  }
  const help = helpText();
  const listed = [...help.matchAll(/^ {2}--([\w-]+)(?:, --no-[\w-]+)?(?:, (-\w))? {2}\(env (\w+), key "(\w+)"/gm)];
  const keys = Object.keys((loadConfig([], {}, PROJECT) as { config: object }).config);
  t.same(listed.map((m) => m[4]).sort(), keys.sort(), 'the help lists every key (booleans with their --no- form)');
  for (const m of listed) {
    const [, flag, short, env, key] = m;
    const row = lines.find((l) => l.startsWith(`| \`${key}\` |`));
    t.ok(row, `a table row for ${key} in the README`);
    if (!row) continue;
    t.match(row, `\`--${flag}\``, `${key}: its flag`);
    if (short) t.match(row, `\`${short}\``, `${key}: its short flag`);
    t.match(row, `\`${env}\``, `${key}: its env var`);
  }
  t.end();
});

const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every quoted line of the manual that starts with `prefix` (inside backticks or on its own line), on any page. */
function quotes(prefix: string): string[] {
  const re = new RegExp(`(?:^|\`)(${escape(prefix)}[^\`\\n]*)`, 'gm');
  return pages.flatMap((p) => [...p.text.matchAll(re)].map((m) => m[1]!));
}

/** The manual quotes `prefix` at least once, and every time as `printed`. */
function quotedAs(t: Test, prefix: string, printed: string): void {
  const found = quotes(prefix);
  t.ok(found.length > 0, `the manual quotes ${JSON.stringify(prefix)}`);
  for (const q of found) t.equal(q, printed, `quoted as printed: ${prefix}`);
}

/** What a person reads: line breaks and runs of spaces are one space. */
const prose = (x: string) => x.replace(/\s+/g, ' ');

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
  quotedAs(t, 'fleetserve: port 6789', `fleetserve: ${describeListenError(errno('EADDRINUSE'), '0.0.0.0', 6789)}`);
  quotedAs(t, 'fleetserve: permission denied', `fleetserve: ${describeListenError(errno('EACCES'), '0.0.0.0', 80)}`);
  quotedAs(t, 'fleetserve: address 10.1.2.3', `fleetserve: ${describeListenError(errno('EADDRNOTAVAIL'), '10.1.2.3', 6789)}`);
  quotedAs(t, 'fleetserve: port: ', configError(['--port', '99999']));
  quotedAs(t, 'fleetserve: root: /home/me/public', configError(['--root', 'public'], '/home/me'));
  quotedAs(t, 'fleetserve: unknown option -v', configError(['-v']));
  quotedAs(t, 'fleetserve: unknown option --prot', configError(['--prot', '80']));
  quotedAs(t, 'fleetserve: lisitng: ', fileError({ lisitng: true }, '/etc', 'fleetserve.json'));
  quotedAs(t, 'fleetserve: root: /etc/', fileError({ root: 'public' }, '/etc', 'fleetserve.json'));
  quotedAs(t, 'fleetserve: root: /srv/www', configError(['--config', 'config/production.json']).replaceAll(PROJECT, '/home/me/fleetserve'));
  const reloads = allLines.filter((l) => l.includes('"reload failed: headres')).map((l) => JSON.parse(l) as { reason?: string });
  t.ok(reloads.length > 0, 'the manual shows a failed reload');
  for (const reload of reloads) t.equal(`fleetserve: ${reload.reason}`, fileError({ headres: [] }, '/home/me', 'fleetserve.json'), 'the reload example\'s reason');
  quotedAs(t, 'fleetserve: pidFile: directory', configError(['--pid-file', '/run/fleetserve/fleetserve.pid']));
  quotedAs(t, 'fleetserve: healthPath: ', configError(['--health-path', 'healthz']));
  quotedAs(t, 'fleetserve: corsOrigins: ', configError(['--cors', '--cors-origins', '["https://app.example/"]']));
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
  const stops = allLines.filter((l) => l.startsWith('{') && l.includes('"msg":"SIG') && l.includes(': draining')).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(stops.length >= 2, 'the manual shows stop lines');
  for (const st of stops) {
    const timing = { drainTimeoutMs: st.drainTimeoutMs as number, preDrainDelayMs: st.preDrainDelayMs as number };
    t.equal(st.msg, stopAnnouncement(st.signal as NodeJS.Signals, countOf(st.workers as number, 'worker'), timing, st.reloading as boolean), `the stop line: ${String(st.msg)}`);
  }
  const ctrlC = { worker: 'primary', signal: 'SIGINT', workers: 2, drainTimeoutMs: 10000, preDrainDelayMs: 0, reloading: false };
  t.match(text, `^C[14:30:37.964] INFO: ${prettyMessage({ ...ctrlC, msg: stopAnnouncement('SIGINT', '2 workers', ctrlC) })}\n`, 'the Ctrl+C line as the terminal shows it');
  t.match(prose(text), stopAnnouncement('SIGINT', '', ctrlC), 'the single process');

  // And the process prints the port line exactly so (address and port aside).
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const s = spawnServer({ args: ['-a', '127.0.0.1', '-p', String(port), '--workers', '0'] });
  t.teardown(() => s.kill());
  t.same(await s.exited(8000), { code: 1, signal: null });
  t.equal(s.stderr(), quotes('fleetserve: port 6789')[0]!.replace('6789', String(port)).replace('0.0.0.0', '127.0.0.1') + '\n');
});

t.test("the client's exit-code table has a row for each code of its catalogue, and no other", async (t) => {
  const client = page('docs/client.md').text;
  const section = client.slice(client.indexOf('## Exit codes'), client.indexOf('## Examples'));
  const rows = [...section.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
  t.same(rows, Object.values(EXIT).sort((a, b) => a - b));
});

t.test('quoted client messages are the ones it prints', async (t) => {
  const cases: [string[], string, number][] = [
    [['127.0.0.1:1/'], 'fleetserve-client: connection refused by', 7],
    [['ftp://127.0.0.1:6789/'], 'fleetserve-client: unsupported scheme', 1],
    [['http://127.0.0.1:6789/a', 'http://localhost:6789/b'], 'fleetserve-client: all URLs', 2],
  ];
  for (const [args, prefix, code] of cases) {
    const r = await runClient(args);
    t.equal(r.code, code, `${args.join(' ')}: exit ${code}`);
    quotedAs(t, prefix, r.stderr.replace(/\n$/, ''));
    t.equal(r.stderr, `${quotes(prefix)[0]}\n`, `${args.join(' ')}: one line`);
    const shown = pages.filter((p) => new RegExp(`${escape(quotes(prefix)[0] ?? prefix)}\\n${code}\\n`).test(p.text));
    t.ok(shown.length > 0, `${prefix}: shown with its exit code`);
  }
});
