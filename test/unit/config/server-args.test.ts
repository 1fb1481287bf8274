/** fleetserve's command line (src/config/server-args.ts) with a small flag list: no schema, no files. */
import t from 'tap';
import { CommandLineError } from '../../../src/config/command-line';
import { readServerArgs, type ServerArgs } from '../../../src/config/server-args';

const FLAGS = [
  { key: 'host', flag: 'host' },
  { key: 'port', flag: 'port' },
  { key: 'drainTimeoutMs', flag: 'drain-timeout-ms' },
];

function read(argv: string[]): ServerArgs {
  return readServerArgs(argv, FLAGS);
}

function errorOf(argv: string[]): string {
  try {
    read(argv);
  } catch (err) {
    if (err instanceof CommandLineError) return err.message;
    throw err;
  }
  return 'no error';
}

t.test('flags become [key, value] pairs in order; one directory; --check-config', async (t) => {
  t.same(read(['--port', '80', '--drain-timeout-ms=5', 'public']), {
    kind: 'options',
    args: [['port', '80'], ['drainTimeoutMs', '5']],
    positional: 'public',
    check: false,
  });
  t.same(read(['-p', '1', '-p2', '-p=3', '--port=4', '-a', '::1', '-a=h']), {
    kind: 'options',
    args: [['port', '1'], ['port', '2'], ['port', '3'], ['port', '4'], ['host', '::1'], ['host', 'h']],
    check: false,
  }, '-p and -a as http-server has them, "=" after the letter dropped');
  t.same(read(['--host=a=b']), { kind: 'options', args: [['host', 'a=b']], check: false }, 'a long value keeps its own "="');
  t.same(read(['--port', '-1']), { kind: 'options', args: [['port', '-1']], check: false }, 'a value may start with "-" (convict judges it)');
  t.same(read(['--check-config', '--', '-dir']), { kind: 'options', args: [], positional: '-dir', check: true }, '-- before a directory named like an option');
  t.same(read(['-']), { kind: 'options', args: [], positional: '-', check: false });
});

t.test('help wins, then mistakes, then version', async (t) => {
  t.same(read(['--prot', '80', '-h']), { kind: 'help' });
  t.same(read(['-V']), { kind: 'version' });
  t.same(read(['--version', 'dir']), { kind: 'version' });
  t.match(errorOf(['-V', '--prot']), /^unknown option --prot /);
});

t.test('mistakes are one line with a way forward', async (t) => {
  t.equal(errorOf(['-v']), 'unknown option -v (the version is -V; more logs: --log-level debug)');
  t.equal(errorOf(['--prot', '80']), 'unknown option --prot (did you mean --port?)', 'the nearest flag, not a list');
  t.equal(errorOf(['--frobnicate']), 'unknown option --frobnicate (see --help)', 'nothing near: a pointer to --help');
  t.equal(errorOf(['-x']), 'unknown option -x (see --help)');
  t.equal(errorOf(['-p']), 'option -p needs a value');
  t.equal(errorOf(['--port']), 'option --port needs a value');
  t.equal(errorOf(['--check-config=yes']), 'option --check-config takes no value');
  t.equal(errorOf(['a', 'b']), 'only one directory may be given, got "a" and "b"');
});

t.test('a boolean key: --flag alone, --no-flag, or a boolean word; other flags unchanged', async (t) => {
  const flags = [...FLAGS, { key: 'listing', flag: 'listing', boolean: true }, { key: 'spa', flag: 'spa', boolean: true }];
  const readB = (argv: string[]) => readServerArgs(argv, flags);
  t.same(readB(['mysite', '--listing', '-a', '127.0.0.1']), { kind: 'options', args: [['listing', 'true'], ['host', '127.0.0.1']], positional: 'mysite', check: false });
  t.same(readB(['--listing', '--spa']), { kind: 'options', args: [['listing', 'true'], ['spa', 'true']], check: false });
  t.same(readB(['--no-listing', '--spa', 'off']), { kind: 'options', args: [['listing', 'false'], ['spa', 'off']], check: false });
  t.same(readB(['--listing=0', '--listing', '1']), { kind: 'options', args: [['listing', '0'], ['listing', '1']], check: false });
  t.same(readB(['--port', '--spa']), { kind: 'options', args: [['port', '--spa']], check: false }, 'a value flag still takes the next word, whatever it is');
  t.same(readB(['--listing', 'true']), { kind: 'options', args: [['listing', 'true']], check: false }, '"true" is the value, not a directory');
  t.same(readB(['--listing', './true']), { kind: 'options', args: [['listing', 'true']], positional: './true', positionalAfter: '--listing', check: false }, 'a directory named true is ./true');
  t.same(readB(['--spa', 'maybe']), { kind: 'options', args: [['spa', 'true']], positional: 'maybe', positionalAfter: '--spa', check: false }, 'the directory after a bare switch is marked');
  t.same(readB(['--port', '1', 'maybe']), { kind: 'options', args: [['port', '1']], positional: 'maybe', check: false });
  t.equal(errorOfB(['--lisitng'], flags), 'unknown option --lisitng (did you mean --listing?)');
  t.equal(errorOfB(['--no-lisitng'], flags), 'unknown option --no-lisitng (did you mean --no-listing?)');
  t.equal(errorOfB(['--no-port'], flags), 'unknown option --no-port (see --help)', 'only booleans have a --no- form');
  t.equal(errorOfB(['--drainTimeoutMs', '5'], flags), 'unknown option --drainTimeoutMs (did you mean --drain-timeout-ms?)', 'the key spelled as a flag');
  t.equal(errorOfB(['--hepl'], flags), 'unknown option --hepl (did you mean --help?)');
  t.equal(errorOfB(['-A', 'x'], flags), 'unknown option -A (did you mean -a?)');
  t.equal(errorOfB(['--no-spa=yes'], flags), 'option --no-spa takes no value');
});

function errorOfB(argv: string[], flags: Parameters<typeof readServerArgs>[1]): string {
  try {
    readServerArgs(argv, flags);
  } catch (err) {
    if (err instanceof CommandLineError) return err.message;
    throw err;
  }
  return 'no error';
}
