/**
 * fleetserve-client's command line → ClientOptions (pure, no I/O). The words are split by the
 * shared reader (src/config/command-line.ts); this file gives each option its meaning and checks
 * its value. Where to connect is read by target.ts, -H by request.ts.
 */
import { CommandLineError, readCommandLine, type OptionTable, type OptionUse } from '../config/command-line';
import { isToken } from '../http/token';
import { ClientError, EXIT, type ExitCode, UsageError } from './errors';
import { parseHeader } from './request';
import type { HeaderField } from './response-grammar';
import { parseTarget, remoteFileName, type Target } from './target';
import { parseWriteOut, type WriteOutPart } from './write-out';

/** Where to connect (host, port, authority, paths, tls: target.ts) and how to ask. */
export interface ClientOptions extends Target {
  /** --cacert: the PEM file of the CAs to trust instead of the system's. */
  cacert: string | undefined;
  /** -k: a certificate that fails verification is used anyway (the failure is shown with -v). */
  insecure: boolean;
  /** The request method: GET, HEAD with -I, or what -X says. */
  method: string;
  /** -I: the response head is the output. */
  headOnly: boolean;
  /** -v: the request and response heads, and what the client does, on stderr. */
  verbose: boolean;
  /** -i: each response head goes to the output before its body. */
  include: boolean;
  /** -f: the body of a response with a status of 400 or more is not written. */
  fail: boolean;
  /** --compressed: ask for every coding node:zlib decodes, and write bodies decoded. */
  compressed: boolean;
  /** -L: follow redirects, at most maxRedirs per path. */
  follow: boolean;
  maxRedirs: number;
  /** -w: written to stdout after each transfer. */
  writeOut: WriteOutPart[] | undefined;
  /** -O: one file per path, named after its last segment (in the working directory). */
  remoteNames: string[] | undefined;
  /** -H fields in order; an empty value drops the default field of that name. */
  headers: HeaderField[];
  /** undefined: stdout; "-": stdout even for binary bodies on a terminal; else a file path. */
  output: string | undefined;
  /** -s: no progress bar, and no error lines unless -S (curl's meaning: -v still shows, as in curl -sv). */
  silent: boolean;
  /** -S: error lines even with -s. */
  showError: boolean;
  pipeline: boolean;
  /** 0 means no limit. */
  connectTimeoutMs: number;
  timeoutMs: number;
  /** -m: the longest one path's transfer may take, connecting and redirects included; 0 means no limit. */
  maxTimeMs: number;
}

export type ParsedArgs =
  | { kind: 'run'; options: ClientOptions }
  | { kind: 'help' }
  | { kind: 'version' }
  /** A mistake on the command line: usage (2), or a URL that is malformed (3) or neither http:// nor https:// (1). */
  | { kind: 'error'; message: string; exitCode: ExitCode };

const OPTIONS: OptionTable = {
  verbose: { takesValue: false, short: 'v' },
  include: { takesValue: false, short: 'i' },
  fail: { takesValue: false, short: 'f' },
  compressed: { takesValue: false },
  request: { takesValue: true, short: 'X' },
  location: { takesValue: false, short: 'L' },
  'max-redirs': { takesValue: true },
  'remote-name': { takesValue: false, short: 'O' },
  'write-out': { takesValue: true, short: 'w' },
  output: { takesValue: true, short: 'o' },
  head: { takesValue: false, short: 'I' },
  // Repeatable: every -H is kept, in order (the reader hands back each use).
  header: { takesValue: true, short: 'H' },
  silent: { takesValue: false, short: 's' },
  'show-error': { takesValue: false, short: 'S' },
  pipeline: { takesValue: false },
  'connect-timeout': { takesValue: true },
  timeout: { takesValue: true },
  'max-time': { takesValue: true, short: 'm' },
  cacert: { takesValue: true },
  insecure: { takesValue: false, short: 'k' },
  // Known so that it gets its own answer, not "unknown option".
  http2: { takesValue: false },
};

/** Parses argv (without node and the script). Never throws for a bad command line. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  try {
    return parse(argv);
  } catch (err) {
    if (err instanceof CommandLineError) return { kind: 'error', message: err.message, exitCode: EXIT.USAGE };
    if (err instanceof ClientError) return { kind: 'error', message: err.message, exitCode: err.exitCode };
    throw err;
  }
}

function parse(argv: readonly string[]): ParsedArgs {
  const line = readCommandLine(argv, OPTIONS);
  if (line.kind !== 'options') return line;
  const given = new Set(line.options.map((o) => o.name));
  if (given.has('http2')) throw new UsageError('--http2: this client speaks HTTP/1.1 only (the server offers HTTP/2 to clients that do, such as curl --http2)');
  const values = readValues(line.options);
  const remoteName = given.has('remote-name');
  const follow = given.has('location');
  const pipeline = given.has('pipeline');
  const headOnly = given.has('head');
  if (remoteName && values.output !== undefined) throw new UsageError('-O and -o cannot be combined: -O names the files itself');
  if (follow && pipeline) throw new UsageError('-L and --pipeline cannot be combined: a redirect decides the next request');
  const target = parseTarget(line.positionals);
  const { requestMethod, ...rest } = values;
  return {
    kind: 'run',
    options: {
      ...target,
      ...rest,
      insecure: given.has('insecure'),
      method: requestMethod ?? (headOnly ? 'HEAD' : 'GET'),
      headOnly,
      verbose: given.has('verbose'),
      include: given.has('include'),
      fail: given.has('fail'),
      compressed: given.has('compressed'),
      follow,
      remoteNames: remoteName ? target.paths.map(remoteFileName) : undefined,
      silent: given.has('silent'),
      showError: given.has('show-error'),
      pipeline,
    },
  };
}

/** The options that take a value, with their defaults; -X's method before -I decides it. */
type ValueOptions = Pick<ClientOptions, 'headers' | 'output' | 'maxRedirs' | 'writeOut' | 'connectTimeoutMs' | 'timeoutMs' | 'maxTimeMs' | 'cacert'> & {
  requestMethod: string | undefined;
};

/** The values, in command-line order: the first bad one is the one reported, the last good one counts. */
function readValues(options: readonly OptionUse[]): ValueOptions {
  const v: ValueOptions = {
    headers: [],
    output: undefined,
    requestMethod: undefined,
    maxRedirs: 10,
    writeOut: undefined,
    connectTimeoutMs: 10_000,
    timeoutMs: 30_000,
    maxTimeMs: 0,
    cacert: undefined,
  };
  for (const { name, value = '' } of options) {
    switch (name) {
      case 'output':
        if (value === '') throw new UsageError('-o needs a file name (or "-" for stdout)');
        v.output = value;
        break;
      case 'request':
        if (!isToken(value)) throw new UsageError(`bad method "${value}" for -X (a token such as GET, DELETE or PURGE)`);
        v.requestMethod = value;
        break;
      case 'max-redirs':
        if (!/^\d{1,4}$/.test(value)) throw new UsageError(`bad --max-redirs value "${value}" (a whole number)`);
        v.maxRedirs = Number(value);
        break;
      case 'write-out':
        v.writeOut = parseWriteOutArg(value);
        break;
      case 'header':
        v.headers.push(parseHeader(value));
        break;
      case 'connect-timeout':
        v.connectTimeoutMs = parseMs('--connect-timeout', value);
        break;
      case 'timeout':
        v.timeoutMs = parseMs('--timeout', value);
        break;
      case 'max-time':
        v.maxTimeMs = parseSeconds('--max-time', value);
        break;
      case 'cacert':
        if (value === '') throw new UsageError('--cacert needs a file name (a PEM file of CA certificates)');
        v.cacert = value;
        break;
    }
  }
  return v;
}

function parseWriteOutArg(value: string): WriteOutPart[] {
  try {
    return parseWriteOut(value);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The longest delay setTimeout keeps: a longer one fires after 1 ms (with only a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function parseMs(option: string, value: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) > MAX_TIMER_MS) {
    throw new UsageError(`bad ${option} value "${value}" (a number of milliseconds up to ${MAX_TIMER_MS}; 0 for no limit)`);
  }
  return Number(value);
}

/**
 * curl's -m value: seconds, fractions allowed ("0.5", ".5"), with a dot whatever the locale; 0
 * is no limit. In ms, rounded up so that a tiny limit still is one; from the digits, because
 * 1.1 * 1000 is 1100.0000000000002 in floating point.
 */
function parseSeconds(option: string, value: string): number {
  const m = /^(\d{0,10})(?:\.(\d*))?$/.exec(value);
  const whole = m?.[1] ?? '';
  const frac = m?.[2] ?? '';
  const ms =
    m && (whole !== '' || frac !== '')
      ? Number(whole || '0') * 1000 + Number(frac.slice(0, 3).padEnd(3, '0')) + (/[1-9]/.test(frac.slice(3)) ? 1 : 0)
      : NaN;
  if (!(ms <= MAX_TIMER_MS)) {
    throw new UsageError(`bad ${option} value "${value}" (seconds, such as 30 or 0.5, up to ${Math.floor(MAX_TIMER_MS / 1000)}; 0 for no limit)`);
  }
  return ms;
}
