/**
 * Reading a command line against a table of options, shared by both bins (fleetserve and
 * fleetserve-client), so that both follow one convention: `--name value`, `--name=value`,
 * `-n value`, `-nVALUE`, grouped short flags (`-sI`, `-viL`), `--` ending the options,
 * `-h`/`--help` and `-V`/`--version`.
 *
 * node:util's parseArgs splits the words. It runs non-strict and hands back its tokens, for
 * two reasons: in strict mode it refuses a value that starts with "-" ("-o -", "--port -1"),
 * which both bins accept as given, and its messages span three lines; here every mistake is
 * one line in our words: "unknown option --x", "option -o needs a value", "option --pipeline
 * takes no value". What parseArgs does not express, the bins do on the tokens: the server's
 * `-p=8080` (a short option's inline value starting with "=") and its hint for `-v`, the
 * client's repeated `-H` in order.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  /** Whether the option takes a value (the next word, or after "=" / the short letter). */
  takesValue: boolean;
  /** One letter for the short form, as in `-o FILE`. */
  short?: string;
}

/** Options by long name (without "--"). `help` (-h) and `version` (-V) are added by readCommandLine. */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** One option as it was given, in command-line order. */
export interface OptionUse {
  /** The long name from the table. */
  name: string;
  /** As typed: "-o" or "--output" (for messages). */
  rawName: string;
  /** The value of an option that takes one; undefined for a flag. */
  value: string | undefined;
  /** Whether the value was attached (`--name=value`, `-nVALUE`) rather than the next word. */
  inline: boolean;
}

export type CommandLine =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'options'; options: OptionUse[]; positionals: string[] };

export type CommandLineProblem = 'unknown-option' | 'missing-value' | 'unexpected-value' | 'unexpected-positional';

const MESSAGES: Readonly<Record<CommandLineProblem, (word: string) => string>> = {
  'unknown-option': (option) => `unknown option ${option}`,
  'missing-value': (option) => `option ${option} needs a value`,
  'unexpected-value': (option) => `option ${option} takes no value`,
  'unexpected-positional': (word) => `unexpected argument ${JSON.stringify(word)}`,
};

/**
 * A command line that does not fit; `word` is the option as typed (or the extra argument). A
 * bin may give a message of its own (a hint) for the same problem.
 */
export class CommandLineError extends Error {
  override readonly name = 'CommandLineError';
  constructor(
    readonly problem: CommandLineProblem,
    readonly word: string,
    message: string = MESSAGES[problem](word),
  ) {
    super(message);
  }
}

/** The convention both bins share. */
const HELP_AND_VERSION: OptionTable = {
  help: { takesValue: false, short: 'h' },
  version: { takesValue: false, short: 'V' },
};

/**
 * Reads argv (without node and the script). Asking for help wins over every mistake on the
 * same command line, so `-h` always works; a mistake in the options wins over `--version`.
 * Throws CommandLineError for an unknown option, a missing value or a value given to a flag.
 */
export function readCommandLine(argv: readonly string[], table: OptionTable): CommandLine {
  const specs = new Map(Object.entries({ ...table, ...HELP_AND_VERSION }));
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of specs) {
    config[name] = { type: spec.takesValue ? 'string' : 'boolean', ...(spec.short ? { short: spec.short } : {}) };
  }
  const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  const options: OptionUse[] = [];
  const positionals: string[] = [];
  let problem: CommandLineError | undefined;
  let help = false;
  let version = false;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') {
      // parseArgs reads "-s-" as "-s" then "--"; only a word "--" ends the options.
      if (argv[token.index] !== '--') problem ??= new CommandLineError('unknown-option', '--');
      continue;
    }
    const spec = specs.get(token.name);
    if (spec === undefined) {
      problem ??= new CommandLineError('unknown-option', token.rawName);
    } else if (spec.takesValue && token.value === undefined) {
      problem ??= new CommandLineError('missing-value', token.rawName);
    } else if (!spec.takesValue && token.value !== undefined) {
      problem ??= new CommandLineError('unexpected-value', token.rawName);
    } else if (token.name === 'help') {
      help = true;
    } else if (token.name === 'version') {
      version = true;
    } else {
      options.push({ name: token.name, rawName: token.rawName, value: token.value, inline: token.inlineValue === true });
    }
  }
  if (help) return { kind: 'help' };
  if (problem) throw problem;
  if (version) return { kind: 'version' };
  return { kind: 'options', options, positionals };
}
