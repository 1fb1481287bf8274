/**
 * fleetserve's command line, `fleetserve [DIRECTORY] [--key value ...]`, read with the shared
 * reader (command-line.ts) into [config key, value] pairs for convict, at most one directory,
 * and --check-config. The flags come from the config schema (config.ts passes them in).
 */
import { CommandLineError, readCommandLine, type OptionSpec, type OptionTable } from './command-line';

/** A config key and its flag's name: `port` and "port" for `--port`. */
export interface KeyFlag {
  key: string;
  flag: string;
}

/**
 * Short forms by config key, as http-server spells them: -p PORT, -a ADDRESS. Only these two:
 * every other key is set rarely enough that its long name is clearer.
 */
export const SHORT_FLAGS: Readonly<Record<string, string>> = { port: 'p', host: 'a' };

export type ServerArgs =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'options';
      /** [config key, value] in command-line order: a repeated flag's last value wins. */
      args: [key: string, value: string][];
      /** The DIRECTORY argument. */
      positional?: string;
      check: boolean;
    };

/**
 * Reads argv (without node and the script). A flag without "=" takes the next word as its
 * value, even one starting with "-", as convict's own parser does. Throws CommandLineError.
 */
export function readServerArgs(argv: readonly string[], flags: readonly KeyFlag[]): ServerArgs {
  const table: Record<string, OptionSpec> = {};
  const keyOf = new Map<string, string>();
  for (const { key, flag } of flags) {
    const short = SHORT_FLAGS[key];
    table[flag] = { takesValue: true, ...(short ? { short } : {}) };
    keyOf.set(flag, key);
  }
  table['check-config'] = { takesValue: false };
  const line = withHints(() => readCommandLine(argv, table), table);
  if (line.kind !== 'options') return line;
  const [positional, another] = line.positionals;
  if (another !== undefined) {
    throw new CommandLineError('unexpected-positional', another, `only one directory may be given, got ${JSON.stringify(positional)} and ${JSON.stringify(another)}`);
  }
  const args: [string, string][] = [];
  let check = false;
  for (const { name, rawName, value, inline } of line.options) {
    if (name === 'check-config') check = true;
    // "-p=8080" is "-p 8080", as http-server reads it (parseArgs keeps the "=").
    else if (value !== undefined) args.push([keyOf.get(name)!, inline && !rawName.startsWith('--') ? value.replace(/^=/, '') : value]);
  }
  return { kind: 'options', args, ...(positional !== undefined ? { positional } : {}), check };
}

/** An unknown option's message names the known ones, and -v gets a hint of its own. */
function withHints<T>(read: () => T, table: OptionTable): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof CommandLineError) || err.problem !== 'unknown-option') throw err;
    if (err.word === '-v') {
      // curl (and fleetserve-client) read -v as "verbose": refuse it rather than guess.
      throw new CommandLineError(err.problem, err.word, 'unknown option -v (the version is -V; more logs: --log-level debug)');
    }
    const known = Object.keys(table).map((name) => `--${name}`);
    known.push(...Object.values(SHORT_FLAGS).map((c) => `-${c}`), '--help', '-h', '--version', '-V');
    throw new CommandLineError(err.problem, err.word, `${err.message} (see --help; known: ${known.join(' ')})`);
  }
}
