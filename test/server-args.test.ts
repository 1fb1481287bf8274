/** fleetserve's command line (src/server-args.ts) with a small flag list: no schema, no files. */
import t from 'tap';
import { CommandLineError } from '../src/command-line';
import { readServerArgs, type ServerArgs } from '../src/server-args';

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
  t.equal(errorOf(['--prot', '80']), 'unknown option --prot (see --help; known: --host --port --drain-timeout-ms --check-config -p -a --help -h --version -V)');
  t.equal(errorOf(['-x']), 'unknown option -x (see --help; known: --host --port --drain-timeout-ms --check-config -p -a --help -h --version -V)');
  t.equal(errorOf(['-p']), 'option -p needs a value');
  t.equal(errorOf(['--port']), 'option --port needs a value');
  t.equal(errorOf(['--check-config=yes']), 'option --check-config takes no value');
  t.equal(errorOf(['a', 'b']), 'only one directory may be given, got "a" and "b"');
});
