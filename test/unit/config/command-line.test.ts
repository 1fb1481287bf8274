/** The command-line reader both bins share (src/config/command-line.ts), with plain argv arrays. */
import t from 'tap';
import { BOOLEAN_WORDS, booleanWord, CommandLineError, readCommandLine, type CommandLine, type OptionTable } from '../../../src/config/command-line';

const TABLE: OptionTable = {
  output: { takesValue: true, short: 'o' },
  header: { takesValue: true, short: 'H' },
  silent: { takesValue: false, short: 's' },
  verbose: { takesValue: false, short: 'v' },
  pipeline: { takesValue: false },
};

function read(argv: string[]): CommandLine {
  return readCommandLine(argv, TABLE);
}

/** [name, value] of each option, and the positionals. */
function words(argv: string[]): { options: [string, string | undefined][]; positionals: string[] } {
  const r = read(argv);
  if (r.kind !== 'options') throw new Error(`expected options, got ${r.kind}`);
  return { options: r.options.map((o) => [o.name, o.value]), positionals: r.positionals };
}

function problemOf(argv: string[]): string {
  try {
    read(argv);
  } catch (err) {
    if (err instanceof CommandLineError) return `${err.problem} ${err.word}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

t.test('long and short forms, attached values, groups, in command-line order', async (t) => {
  t.same(words(['--output', 'a', '--output=b', '-o', 'c', '-od', 'x']), {
    options: [['output', 'a'], ['output', 'b'], ['output', 'c'], ['output', 'd']],
    positionals: ['x'],
  });
  t.same(words(['-svo', 'f']).options, [['silent', undefined], ['verbose', undefined], ['output', 'f']], '-svo f: a group, the last takes the next word');
  t.same(words(['-sHX-A: 1']).options, [['silent', undefined], ['header', 'X-A: 1']], 'a value-taking letter in a group takes the rest');
  t.same(words(['-H', 'A: 1', '-H', 'B: 2']).options, [['header', 'A: 1'], ['header', 'B: 2']], 'a repeated option keeps every value, in order');
  const r = read(['-oF', '--output=G', '--output', 'H']);
  t.same(r.kind === 'options' && r.options.map((o) => [o.rawName, o.inline]), [['-o', true], ['--output', true], ['--output', false]], 'as typed, and whether attached');
});

t.test('values and positionals that look like options', async (t) => {
  t.same(words(['-o', '-']).options, [['output', '-']], 'a value may be "-"');
  t.same(words(['--output', '-x']).options, [['output', '-x']], 'or start with "-" (parseArgs strict mode would refuse it)');
  t.same(words(['--output', '--']).options, [['output', '--']], 'even "--" is a value after an option that takes one');
  t.same(words(['-o', '']).options, [['output', '']], 'an empty next word is a value');
  t.same(words(['--output=']).options, [['output', '']], '--name= gives an empty value (the bin decides whether that is allowed)');
  t.same(words(['-', 'a']).positionals, ['-', 'a'], '"-" alone is a positional');
  t.same(words(['-s', '--', '-v', '--output', 'x']), { options: [['silent', undefined]], positionals: ['-v', '--output', 'x'] }, 'after --, only positionals');
});

t.test('help and version are the same for every table', async (t) => {
  t.same(read(['-h']), { kind: 'help' });
  t.same(read(['--help']), { kind: 'help' });
  t.same(read(['-V']), { kind: 'version' });
  t.same(read(['--version']), { kind: 'version' });
  t.same(read(['--bogus', '-o', 'x', '--help', 'a', 'b']), { kind: 'help' }, 'asking for help wins over every mistake');
  t.same(read(['-sh']), { kind: 'help' }, 'also inside a group');
  t.equal(problemOf(['-V', '--bogus']), 'unknown-option --bogus: unknown option --bogus', 'a mistake wins over --version');
  t.equal(problemOf(['-o', '--help']), 'no error', '"-o --help": --help is the value of -o');
  t.same(words(['--', '--help']).positionals, ['--help'], 'after --, --help is a positional');
});

t.test('mistakes: one line each, naming the option as typed', async (t) => {
  const cases: [string[], string][] = [
    [['--bogus'], 'unknown-option --bogus: unknown option --bogus'],
    [['--bogus=1'], 'unknown-option --bogus: unknown option --bogus'],
    [['-x'], 'unknown-option -x: unknown option -x'],
    [['-sZ'], 'unknown-option -Z: unknown option -Z'],
    [['-o'], 'missing-value -o: option -o needs a value'],
    [['--output'], 'missing-value --output: option --output needs a value'],
    [['-s', '--output'], 'missing-value --output: option --output needs a value'],
    [['--pipeline=yes'], 'unexpected-value --pipeline: option --pipeline takes no value'],
    [['--help=1'], 'unexpected-value --help: option --help takes no value'],
    [['-s-'], 'unknown-option --: unknown option --'],
    [['--bogus', '-x'], 'unknown-option --bogus: unknown option --bogus'],
    [['--__proto__'], 'unknown-option --__proto__: unknown option --__proto__'],
    [['--constructor', 'x'], 'unknown-option --constructor: unknown option --constructor'],
  ];
  for (const [argv, expected] of cases) t.equal(problemOf(argv), expected, JSON.stringify(argv));
  t.equal(new CommandLineError('unknown-option', '-v', 'a hint').message, 'a hint', 'a bin may word a problem itself');
  t.equal(new CommandLineError('unexpected-positional', 'b').message, 'unexpected argument "b"');
});

t.test('a boolean setting: alone true, --no-NAME false, a value after "=" or as a boolean next word', async (t) => {
  const table: OptionTable = { listing: { takesValue: false, boolean: true }, spa: { takesValue: false, boolean: true }, host: { takesValue: true, short: 'a' } };
  const uses = (argv: string[]) => {
    const r = readCommandLine(argv, table);
    if (r.kind !== 'options') throw new Error(r.kind);
    return { options: r.options.map((o) => [o.rawName, o.value, o.inline]), positionals: r.positionals };
  };
  t.same(uses(['mysite', '--listing', '-a', '127.0.0.1']), { options: [['--listing', 'true', false], ['-a', '127.0.0.1', false]], positionals: ['mysite'] }, 'alone, before another option');
  t.same(uses(['--listing', '--spa']).options, [['--listing', 'true', false], ['--spa', 'true', false]], 'two in a row');
  t.same(uses(['--listing']).options, [['--listing', 'true', false]], 'last on the line');
  t.same(uses(['--no-listing', 'x']), { options: [['--no-listing', 'false', false]], positionals: ['x'] }, '--no-NAME is false and takes no word');
  t.same(uses(['--listing=false', 'true']), { options: [['--listing', 'false', true]], positionals: ['true'] }, 'after "=": the value; the next word is left alone');
  t.same(uses(['--listing=maybe']).options, [['--listing', 'maybe', true]], 'any word after "=" (the bin judges it)');
  for (const word of ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', 'TRUE', 'Off']) {
    t.same(uses(['--listing', word, 'dir']), { options: [['--listing', word, false]], positionals: ['dir'] }, `the next word ${word} is the value`);
  }
  t.same(uses(['--listing', 'public']), { options: [['--listing', 'true', false]], positionals: ['public'] }, 'any other next word is a positional');
  t.same(uses(['--listing', '--', 'true']), { options: [['--listing', 'true', false]], positionals: ['true'] }, 'after --, "true" is a positional');
  t.same(uses(['--listing', '']), { options: [['--listing', 'true', false]], positionals: [''] }, 'an empty word is not a boolean word');
  t.equal(problemOfTable(['--no-listing=yes'], table), 'unexpected-value --no-listing: option --no-listing takes no value');
  t.equal(problemOfTable(['--no-host'], table), 'unknown-option --no-host: unknown option --no-host', 'only boolean settings have a --no- form');
  t.equal(problemOfTable(['--no-pipeline'], TABLE), 'unknown-option --no-pipeline: unknown option --no-pipeline', 'nor do plain flags (the client\'s)');
  t.same(words(['--pipeline', 'true']), { options: [['pipeline', undefined]], positionals: ['true'] }, 'a plain flag never takes a word');
});

t.test('boolean words', async (t) => {
  t.same(BOOLEAN_WORDS, ['true', '1', 'yes', 'on', 'false', '0', 'no', 'off']);
  t.same(['TRUE', ' on ', 'Yes', '1', 'off', '0', 'No', 'FALSE'].map(booleanWord), [true, true, true, true, false, false, false, false]);
  t.same(['', 'maybe', '2', 'y', 'enabled'].map(booleanWord), [undefined, undefined, undefined, undefined, undefined]);
});

function problemOfTable(argv: string[], table: OptionTable): string {
  try {
    readCommandLine(argv, table);
  } catch (err) {
    if (err instanceof CommandLineError) return `${err.problem} ${err.word}: ${err.message}`;
    throw err;
  }
  return 'no error';
}
