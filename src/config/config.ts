/**
 * The configuration's entry: loadConfig reads the sources in their precedence (defaults <
 * JSON file < env < flags), checks every value, and returns the frozen result (or what the
 * command line asked instead: --help, --version, --check-config); helpText is --help.
 *
 * Modules never read process.env or process.argv: main.ts calls loadConfig once with both
 * and passes the frozen result down (workers receive it from the primary, not from argv).
 *
 * Each step is its own module, read in this order: argv.ts (the command line), merge.ts (the
 * JSON file through config-file.ts, env and flags through convict, each key's format),
 * config-paths.ts (relative paths), disk-checks.ts (the root, the log and pid files),
 * cross-checks.ts (keys against each other, the rules); the keys themselves are schema.ts,
 * their formats formats.ts.
 */
import { readArgs, rootHint } from './argv';
import { resolvePaths } from './config-paths';
import { checkAcrossKeys } from './cross-checks';
import { checkOutputFiles, chooseRoot } from './disk-checks';
import { ConfigError } from '../errors';
import { mergeSources } from './merge';
import { DEFS, isBooleanKey, type Config } from './schema';
import { SHORT_FLAGS } from './server-args';
import { checkTlsSettings } from '../tls/settings';
import { checkAcmeSettings } from '../acme/settings';

export type { Config, LogPretty } from './schema';

/** A configuration problem: one line for the user, exit code 2. */
// Defined with the other errors so that a worker can name it without loading convict.
export { ConfigError };

export type CommandLine =
  /** `rootChoice` says how the root was found when none was given (for the start-up log). */
  | { kind: 'run'; config: Config; rootChoice?: string }
  | { kind: 'check'; config: Config }
  | { kind: 'help'; text: string }
  | { kind: 'version' };

/** The --help text, generated from the schema so it can never drift from it. */
export function helpText(): string {
  const lines = [
    'Usage: fleetserve [DIRECTORY] [--key value ...]',
    '',
    'Serves DIRECTORY over HTTP/1.1 with one worker process per core. Without one: ./site when',
    'the working directory has it, else the working directory itself.',
    'Settings come from defaults < a JSON file (--config) < environment < flags. A true/false',
    'flag alone means true (--listing), --no-listing false; it takes the next word only when',
    'that is true/false, 1/0, yes/no or on/off (--listing false, or --listing=false).',
    'Relative paths in the JSON file are resolved against its directory, others against the',
    'working directory.',
    '',
  ];
  for (const [key, def] of Object.entries(DEFS)) {
    const short = SHORT_FLAGS[key] && `-${SHORT_FLAGS[key]}`;
    const negated = isBooleanKey(def) ? `, --no-${def.arg}` : '';
    const shown = key === 'root' ? './site if it exists, else the working directory' : JSON.stringify(def.default);
    lines.push(`  --${def.arg}${negated}${short ? `, ${short}` : ''}  (env ${def.env}, key "${key}", default ${shown})`);
    lines.push(`      ${def.doc}`);
  }
  lines.push('', '  --help, -h       this text', '  --version, -V    print the version');
  lines.push('  --check-config   validate the configuration (same flags, env and file), print "configuration ok" and exit 0, or the error and exit 2', '');
  lines.push('Signals: SIGINT (Ctrl+C) or SIGTERM drain open connections then exit; a second SIGINT exits at once.');
  lines.push('SIGHUP re-reads the configuration and replaces the workers one at a time (a rolling reload).');
  lines.push('SIGUSR1 reopens the log files (after logrotate moved them).');
  return lines.join('\n');
}

/**
 * Loads and validates configuration from explicit argv (without node and script) and env.
 * Throws ConfigError with a one-line message for anything wrong.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string = process.cwd()): CommandLine {
  const split = readArgs(argv);
  if (split.kind === 'help') return { kind: 'help', text: helpText() };
  if (split.kind === 'version') return { kind: 'version' };
  const { values: merged, file, where } = mergeSources(split.args, env, cwd);
  const values = resolvePaths(merged, cwd);
  const { root, rootChoice } = chooseRoot(values.root, cwd, where('root') || rootHint(split.positional, split.positionalAfter));
  const rules = checkAcrossKeys(values, cwd);
  // Before the TLS keys: "ACME and certificate files" is the line to read, not one about a file.
  const acme = checkAcmeSettings(values, env, cwd);
  const config: Config = {
    ...values,
    root,
    config: file ? file.file : '',
    ...checkOutputFiles(values, where),
    // The certificate paths are absolute by now (PATH_KEYS), so they are checked as they are.
    ...checkTlsSettings(values, values, (file) => file),
    ...acme,
    ...rules,
  };
  return { kind: split.check ? 'check' : 'run', config: Object.freeze(config), ...(rootChoice ? { rootChoice } : {}) };
}
