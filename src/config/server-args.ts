/**
 * fleetserve's command line, `fleetserve [DIRECTORY] [--key value ...]`, read with the shared
 * reader (command-line.ts) into [config key, value] pairs for convict, at most one directory,
 * and --check-config. The flags come from the config schema (argv.ts passes them in from schema.ts).
 */
import { CommandLineError, readCommandLine, type OptionSpec, type OptionTable } from './command-line';
import { nearestName } from './nearest-name';

/** A config key and its flag's name: `port` and "port" for `--port`. */
export interface KeyFlag {
  key: string;
  flag: string;
  /** A true/false key: `--flag` alone, `--no-flag`, or `--flag WORD` with a boolean word only. */
  boolean?: boolean;
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
      /**
       * The true/false flag the DIRECTORY argument follows (`--listing maybe`), as typed: the
       * word was not taken as its value, and a message about the directory says so.
       */
      positionalAfter?: string;
      check: boolean;
    };

/**
 * Reads argv (without node and the script). A flag without "=" takes the next word as its
 * value, even one starting with "-", as convict's own parser does; a boolean key's flag takes
 * it only when it is a boolean word (true/false, 1/0, yes/no, on/off), and is true alone.
 * Throws CommandLineError.
 */
export function readServerArgs(argv: readonly string[], flags: readonly KeyFlag[]): ServerArgs {
  const table: Record<string, OptionSpec> = {};
  const keyOf = new Map<string, string>();
  for (const { key, flag, boolean } of flags) {
    const short = SHORT_FLAGS[key];
    table[flag] = { takesValue: !boolean, ...(boolean ? { boolean } : {}), ...(short ? { short } : {}) };
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
  const after = positional === undefined ? undefined : switchBefore(argv, positional, table);
  return { kind: 'options', args, ...(positional !== undefined ? { positional } : {}), ...(after ? { positionalAfter: after } : {}), check };
}

/** The boolean flag, written alone, right before `word` in argv, if any. */
function switchBefore(argv: readonly string[], word: string, table: OptionTable): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    const before = argv[i - 1]!;
    if (argv[i] === word && before.startsWith('--') && table[before.slice(2)]?.boolean) return before;
  }
  return undefined;
}

/**
 * An unknown option's message suggests the nearest known one ("did you mean --port?"), else
 * points to --help; -v gets a hint of its own.
 */
function withHints<T>(read: () => T, table: OptionTable): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof CommandLineError) || err.problem !== 'unknown-option') throw err;
    if (err.word === '-v') {
      // curl (and fleetserve-client) read -v as "verbose": refuse it rather than guess.
      throw new CommandLineError(err.problem, err.word, 'unknown option -v (the version is -V; more logs: --log-level debug)');
    }
    const near = suggestion(err.word, table);
    throw new CommandLineError(err.problem, err.word, `${err.message} (${near ? `did you mean ${near}?` : 'see --help'})`);
  }
}

/** The option nearest to an unknown one as typed: by edit distance for a long one, by case for a letter (-P: -p). */
function suggestion(word: string, table: OptionTable): string | undefined {
  if (/^-[^-]$/.test(word)) {
    const letters = [...Object.values(SHORT_FLAGS), 'h', 'V'];
    const other = letters.find((c) => c !== word[1] && c.toLowerCase() === word[1]!.toLowerCase());
    return other && `-${other}`;
  }
  if (!word.startsWith('--')) return undefined;
  const names = ['help', 'version'];
  for (const [name, spec] of Object.entries(table)) names.push(name, ...(spec.boolean ? [`no-${name}`] : []));
  const near = nearestName(word.slice(2), names);
  return near && `--${near}`;
}
