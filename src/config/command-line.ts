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
 *
 * A switch that is a setting (`boolean` in its spec: the server's `--listing`) reads as every
 * CLI users know reads it: `--listing` alone is true, `--no-listing` false, `--listing=false`
 * the word given, and `--listing false` takes the next word only when it is a boolean word
 * (BOOLEAN_WORDS), so `--listing -a 127.0.0.1` and `--listing public` leave the next word alone.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  /** Whether the option takes a value (the next word, or after "=" / the short letter). */
  takesValue: boolean;
  /** One letter for the short form, as in `-o FILE`. */
  short?: string;
  /**
   * A true/false setting (with takesValue false): its use always carries a value, "true" when
   * given alone, "false" as `--no-NAME`, else the word after "=" or the next word when that is
   * a boolean word.
   */
  boolean?: boolean;
}

const TRUE_WORDS: ReadonlySet<string> = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['false', '0', 'no', 'off']);

/** The words that mean true or false, in any case: true/false, 1/0, yes/no, on/off. */
export const BOOLEAN_WORDS: readonly string[] = [...TRUE_WORDS, ...FALSE_WORDS];

/** true or false for a boolean word (any case, surrounding blanks ignored), else undefined. */
export function booleanWord(word: string): boolean | undefined {
  const w = word.trim().toLowerCase();
  if (TRUE_WORDS.has(w)) return true;
  if (FALSE_WORDS.has(w)) return false;
  return undefined;
}

/** Options by long name (without "--"). `help` (-h) and `version` (-V) are added by readCommandLine. */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** One option as it was given, in command-line order. */
export interface OptionUse {
  /** The long name from the table. */
  name: string;
  /** As typed: "-o" or "--output" (for messages). */
  rawName: string;
  /** The value of an option that takes one, or of a boolean setting; undefined for a flag. */
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

/** `no-NAME` for every boolean setting NAME, unless the table has an option of that name itself. */
function negations(specs: ReadonlyMap<string, OptionSpec>): Map<string, string> {
  const negated = new Map<string, string>();
  for (const [name, spec] of specs) if (spec.boolean && !specs.has(`no-${name}`)) negated.set(`no-${name}`, name);
  return negated;
}

type Token = ReturnType<typeof parseArgs>['tokens'] extends (infer T)[] | undefined ? T : never;

/**
 * The word after a bare boolean setting, when it is its value: a boolean word standing right
 * after it (not after "--", which makes it a positional). Any other word is left alone.
 */
function nextBooleanWord(index: number, next: Token | undefined): string | undefined {
  if (next?.kind !== 'positional' || next.index !== index + 1) return undefined;
  return booleanWord(next.value) === undefined ? undefined : next.value;
}

/**
 * Reads argv (without node and the script). Asking for help wins over every mistake on the
 * same command line, so `-h` always works; a mistake in the options wins over `--version`.
 * Throws CommandLineError for an unknown option, a missing value or a value given to a flag.
 */
export function readCommandLine(argv: readonly string[], table: OptionTable): CommandLine {
  const specs = new Map(Object.entries({ ...table, ...HELP_AND_VERSION }));
  const negated = negations(specs);
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of specs) {
    config[name] = { type: spec.takesValue ? 'string' : 'boolean', ...(spec.short ? { short: spec.short } : {}) };
  }
  for (const name of negated.keys()) config[name] = { type: 'boolean' };
  const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  const options: OptionUse[] = [];
  const positionals: string[] = [];
  let problem: CommandLineError | undefined;
  let help = false;
  let version = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') {
      // parseArgs reads "-s-" as "-s" then "--"; only a word "--" ends the options.
      if (argv[token.index] !== '--') problem ??= new CommandLineError('unknown-option', '--');
      continue;
    }
    const negatedName = negated.get(token.name);
    const name = negatedName ?? token.name;
    const spec = specs.get(name);
    if (spec === undefined) {
      problem ??= new CommandLineError('unknown-option', token.rawName);
    } else if (spec.takesValue && token.value === undefined) {
      problem ??= new CommandLineError('missing-value', token.rawName);
    } else if (!spec.takesValue && token.value !== undefined && (!spec.boolean || negatedName !== undefined)) {
      problem ??= new CommandLineError('unexpected-value', token.rawName);
    } else if (name === 'help') {
      help = true;
    } else if (name === 'version') {
      version = true;
    } else if (spec.boolean) {
      const next = tokens[i + 1];
      const word = negatedName === undefined && token.value === undefined ? nextBooleanWord(token.index, next) : undefined;
      if (word !== undefined) i++;
      const value = negatedName !== undefined ? 'false' : (token.value ?? word ?? 'true');
      options.push({ name, rawName: token.rawName, value, inline: token.inlineValue === true });
    } else {
      options.push({ name, rawName: token.rawName, value: token.value, inline: token.inlineValue === true });
    }
  }
  if (help) return { kind: 'help' };
  if (problem) throw problem;
  if (version) return { kind: 'version' };
  return { kind: 'options', options, positionals };
}
