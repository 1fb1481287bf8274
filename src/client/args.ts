/** Command-line parsing and request building for fleetserve-client: pure functions, no I/O. */
import type { HeaderField } from './response-parser';
import { parseWriteOut, type WriteOutPart } from './write-out';

export interface ClientOptions {
  /** Host to connect to: a name or an address, IPv6 without brackets. */
  host: string;
  port: number;
  /** Value of the Host header: the host, bracketed if IPv6, plus ":port" unless it is 80. */
  authority: string;
  /** Request-targets, in order, each starting with "/". */
  paths: string[];
  /** The request method: GET, HEAD with -I, or what -X says. */
  method: string;
  /** -I: the response head is the output. */
  headOnly: boolean;
  /** -v: the request and response heads, and what the client does, on stderr. */
  verbose: boolean;
  /** -i: each response head goes to the output before its body. */
  include: boolean;
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
  silent: boolean;
  pipeline: boolean;
  /** 0 means no limit. */
  connectTimeoutMs: number;
  timeoutMs: number;
}

export type ParsedArgs =
  | { kind: 'run'; options: ClientOptions }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'usage-error'; message: string };

export const USAGE = `Usage: fleetserve-client [options] URL [URL...]
       fleetserve-client [options] HOST PORT [PATH...]

Fetches one or more paths from an HTTP/1.1 server over one keep-alive
connection, as curl does: bodies go to stdout (or the -o/-O file); -v shows
the request and response heads on stderr.

  URL                        [http://]host[:port][/path]; several URLs must
                             share host and port. https:// is not supported.
  HOST PORT [PATH...]        PATH defaults to "/"; a leading "/" is added.

Options:
  -v, --verbose              show the request, the response head and what the
                             client does on stderr (like curl -v)
  -i, --include              write each response head before its body
  -I, --head                 send HEAD, and print the response head as output
  -X, --request METHOD       send METHOD instead of GET (no request body)
  -L, --location             follow redirects (3xx with Location)
      --max-redirs N         at most N redirects per path (default 10)
  -o, --output FILE          write the bodies to FILE (several are appended in
                             order); "-o -" writes to stdout even when the body
                             is binary and stdout is a terminal
  -O, --remote-name          save each body as the last segment of its path
  -w, --write-out FORMAT     print FORMAT to stdout after each transfer:
                             %{http_code} %{size_download} %{time_total}
                             %{url_effective} %{num_redirects} %{content_type}
                             %{size_header} %{method} %{remote_ip}
                             %{remote_port}, and \\n \\t \\r \\\\ %%
  -H, --header 'Name: value' add a request header (repeatable); 'Name:' with
                             no value drops the default Host, User-Agent or
                             Accept header
  -s, --silent               no progress bar and no -v dump (errors are still
                             reported)
      --pipeline             send every request before reading any response
      --connect-timeout MS   give up connecting after MS ms (default 10000;
                             0 waits forever)
      --timeout MS           give up when the server sends nothing for MS ms
                             while a response is due (default 30000; 0 never)
  -h, --help                 show this help
  -V, --version              show the version

Environment:
  FLEETSERVE_CLIENT_FORCE_PROGRESS=1|0    progress bar as if stderr were (1) or
                                          were not (0) a terminal
  FLEETSERVE_CLIENT_FORCE_STDOUT_TTY=1|0  binary check as if stdout were (1) or
                                          were not (0) a terminal

Exit codes:
  0 success                  5 timeout
  2 usage error              6 connection closed before the response ended
  3 cannot connect           7 malformed response
  4 host not found           8 cannot write the output
  22 a response had an HTTP status of 400 or more
  47 more redirects than --max-redirs
`;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface OptionSpec {
  long: string;
  short?: string;
  takesValue: boolean;
}

const OPTIONS: OptionSpec[] = [
  { long: 'verbose', short: 'v', takesValue: false },
  { long: 'include', short: 'i', takesValue: false },
  { long: 'request', short: 'X', takesValue: true },
  { long: 'location', short: 'L', takesValue: false },
  { long: 'max-redirs', takesValue: true },
  { long: 'remote-name', short: 'O', takesValue: false },
  { long: 'write-out', short: 'w', takesValue: true },
  { long: 'output', short: 'o', takesValue: true },
  { long: 'head', short: 'I', takesValue: false },
  { long: 'header', short: 'H', takesValue: true },
  { long: 'silent', short: 's', takesValue: false },
  { long: 'pipeline', takesValue: false },
  { long: 'connect-timeout', takesValue: true },
  { long: 'timeout', takesValue: true },
  { long: 'help', short: 'h', takesValue: false },
  { long: 'version', short: 'V', takesValue: false },
];

class Usage extends Error {}

/** Parses argv (without node and the script). Never throws. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  try {
    return parse(argv);
  } catch (err) {
    if (err instanceof Usage) return { kind: 'usage-error', message: err.message };
    throw err;
  }
}

function parse(argv: readonly string[]): ParsedArgs {
  // Asking for help must work even on a command line that is otherwise wrong.
  for (const arg of argv) {
    if (arg === '--') break;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
  }
  const positionals: string[] = [];
  const headers: HeaderField[] = [];
  let output: string | undefined;
  let headOnly = false;
  let requestMethod: string | undefined;
  let verbose = false;
  let include = false;
  let follow = false;
  let maxRedirs = 10;
  let remoteName = false;
  let writeOut: WriteOutPart[] | undefined;
  let silent = false;
  let pipeline = false;
  let connectTimeoutMs = 10_000;
  let timeoutMs = 30_000;
  let help = false;
  let version = false;

  const apply = (spec: OptionSpec, value: string | undefined): void => {
    switch (spec.long) {
      case 'output':
        if (value === '') throw new Usage('-o needs a file name (or "-" for stdout)');
        output = value;
        break;
      case 'head':
        headOnly = true;
        break;
      case 'verbose':
        verbose = true;
        break;
      case 'include':
        include = true;
        break;
      case 'request':
        if (!TOKEN.test(value ?? '')) throw new Usage(`bad method "${value}" for -X (a token such as GET, DELETE or PURGE)`);
        requestMethod = value;
        break;
      case 'location':
        follow = true;
        break;
      case 'max-redirs':
        if (!/^\d{1,4}$/.test(value ?? '')) throw new Usage(`bad --max-redirs value "${value}" (a whole number)`);
        maxRedirs = Number(value);
        break;
      case 'remote-name':
        remoteName = true;
        break;
      case 'write-out':
        try {
          writeOut = parseWriteOut(value ?? '');
        } catch (err) {
          throw new Usage((err as Error).message);
        }
        break;
      case 'header':
        headers.push(parseHeader(value ?? ''));
        break;
      case 'silent':
        silent = true;
        break;
      case 'pipeline':
        pipeline = true;
        break;
      case 'connect-timeout':
        connectTimeoutMs = parseMs('--connect-timeout', value ?? '');
        break;
      case 'timeout':
        timeoutMs = parseMs('--timeout', value ?? '');
        break;
      case 'help':
        help = true;
        break;
      case 'version':
        version = true;
        break;
    }
  };

  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (onlyPositionals || arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
    } else if (arg === '--') {
      onlyPositionals = true;
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const spec = OPTIONS.find((o) => o.long === name);
      if (!spec) throw new Usage(`unknown option --${name}`);
      let value: string | undefined;
      if (spec.takesValue) {
        if (eq !== -1) value = arg.slice(eq + 1);
        else if (i + 1 < argv.length) value = argv[++i];
        else throw new Usage(`option --${name} needs a value`);
      } else if (eq !== -1) {
        throw new Usage(`option --${name} takes no value`);
      }
      apply(spec, value);
    } else {
      // A cluster of short flags ("-sI"); a value-taking flag takes the rest of it or the next argument.
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j] as string;
        const spec = OPTIONS.find((o) => o.short === c);
        if (!spec) throw new Usage(`unknown option -${c}`);
        if (!spec.takesValue) {
          apply(spec, undefined);
          continue;
        }
        let value: string | undefined;
        if (j + 1 < arg.length) value = arg.slice(j + 1);
        else if (i + 1 < argv.length) value = argv[++i];
        else throw new Usage(`option -${c} needs a value`);
        apply(spec, value);
        break;
      }
    }
  }

  if (help) return { kind: 'help' };
  if (version) return { kind: 'version' };
  if (remoteName && output !== undefined) throw new Usage('-O and -o cannot be combined: -O names the files itself');
  if (follow && pipeline) throw new Usage('-L and --pipeline cannot be combined: a redirect decides the next request');
  const target = parseTarget(positionals);
  const method = requestMethod ?? (headOnly ? 'HEAD' : 'GET');
  const remoteNames = remoteName ? target.paths.map(remoteFileName) : undefined;
  return {
    kind: 'run',
    options: { ...target, method, headOnly, verbose, include, follow, maxRedirs, writeOut, remoteNames, headers, output, silent, pipeline, connectTimeoutMs, timeoutMs },
  };
}

/**
 * The file -O saves a path to: its last segment, percent-decoded. Names that would write
 * elsewhere than a new file in the working directory (empty, ".", "..", a "/" or NUL once
 * decoded) are refused, as curl refuses an empty one.
 */
export function remoteFileName(target: string): string {
  const pathOnly = target.split('?')[0]!;
  const segment = pathOnly.slice(pathOnly.lastIndexOf('/') + 1);
  let name = segment;
  try {
    name = decodeURIComponent(segment);
  } catch {
    // Not valid percent-encoding: keep it as typed.
  }
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new Usage(`-O cannot name a file after "${target}" (no usable last path segment); use -o FILE`);
  }
  return name;
}

function parseMs(option: string, value: string): number {
  if (!/^\d{1,10}$/.test(value)) {
    throw new Usage(`bad ${option} value "${value}" (a number of milliseconds; 0 for no limit)`);
  }
  return Number(value);
}

/** Parses a -H argument; the same rules as a response field, so nothing invalid reaches the wire. */
export function parseHeader(arg: string): HeaderField {
  const colon = arg.indexOf(':');
  const name = colon === -1 ? '' : arg.slice(0, colon);
  if (!TOKEN.test(name)) {
    throw new Usage(`bad header "${arg}" (expected 'Name: value' with a name of letters, digits or !#$%&'*+-.^_\`|~)`);
  }
  const value = arg.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    throw new Usage(`bad header "${name}" (control characters such as CR or LF are not allowed in a value)`);
  }
  return [name, value];
}

type Target = Pick<ClientOptions, 'host' | 'port' | 'authority' | 'paths'>;

function parseTarget(positionals: string[]): Target {
  const first = positionals[0];
  if (first === undefined) throw new Usage('missing URL (or HOST PORT PATH)');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(first)) return parseUrls(positionals);
  // "HOST PORT ..." when the second word could be a port (no "/", ":" or "." as in a URL, so a
  // typo gets "bad port"); otherwise URLs without a scheme, as curl reads them.
  if (positionals.length >= 2 && /^[^/:.]*$/.test(positionals[1]!)) return parseHostPort(positionals);
  return parseUrls(positionals.map((p) => (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p) ? p : `http://${p}`)));
}

function parseUrls(args: string[]): Target {
  let origin: string | undefined;
  let target: Target | undefined;
  for (const arg of args) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(arg)?.[1]?.toLowerCase();
    if (scheme === undefined) {
      throw new Usage(`"${arg}" is not a URL; with URLs, every argument must be a URL`);
    }
    if (scheme === 'https') {
      throw new Usage('https:// is not supported: fleetserve-client speaks plain HTTP only (no TLS); use http://');
    }
    if (scheme !== 'http') throw new Usage(`unsupported scheme ${scheme}:// (only http:// is supported)`);
    let url: URL;
    try {
      url = new URL(arg);
    } catch {
      throw new Usage(`invalid URL "${arg}"`);
    }
    if (url.hostname === '') throw new Usage(`invalid URL "${arg}" (no host)`);
    if (url.username !== '' || url.password !== '') {
      throw new Usage(`credentials in URLs are not supported; send -H 'Authorization: ...' instead`);
    }
    if (origin === undefined) {
      origin = url.origin;
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      target = { host, port: url.port === '' ? 80 : Number(url.port), authority: url.host, paths: [] };
    } else if (url.origin !== origin) {
      throw new Usage(`all URLs must share scheme, host and port (one connection): ${url.origin} is not ${origin}`);
    }
    target?.paths.push(url.pathname + url.search);
  }
  return target as Target;
}

function parseHostPort(args: string[]): Target {
  const [rawHost, rawPort, ...rawPaths] = args as [string, ...string[]];
  if (rawPort === undefined) throw new Usage(`missing PORT after "${rawHost}" (use HOST PORT PATH, or a URL)`);
  const host = rawHost.replace(/^\[(.*)\]$/, '$1');
  if (host === '' || /[\s/?#@\[\]]/.test(host) || (host.includes(':') && !/^[0-9A-Fa-f:.]+$/.test(host))) {
    throw new Usage(`bad host "${rawHost}"`);
  }
  if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) {
    throw new Usage(`bad port "${rawPort}" (1 to 65535)`);
  }
  const port = Number(rawPort);
  for (const p of rawPaths) {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p)) throw new Usage(`cannot mix a URL ("${p}") with HOST PORT PATH`);
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    authority: port === 80 ? hostPart : `${hostPart}:${port}`,
    paths: (rawPaths.length === 0 ? ['/'] : rawPaths).map(toRequestTarget),
  };
}

/**
 * Turns a PATH argument into a request-target: adds the leading "/" and
 * percent-encodes what may not appear on a request line. Unlike the URL form,
 * dot segments are kept as typed, so a server's handling of "/../x" can be tested.
 */
export function toRequestTarget(path: string): string {
  const withSlash = path.startsWith('/') ? path : '/' + path;
  return withSlash.replace(/[^\x21-\x7e]|["#<>\\^`{|}]/gu, (c) =>
    Array.from(Buffer.from(c, 'utf8'), (b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''),
  );
}

export interface BuiltRequest {
  target: string;
  /** The request head, one entry per line, without CRLF. */
  lines: string[];
  bytes: Buffer;
}

/** The request head: defaults first, each replaced in place (or dropped, with an empty value) by a -H of the same name. */
export function buildRequest(
  method: string,
  target: string,
  authority: string,
  userAgent: string,
  extra: readonly HeaderField[],
): BuiltRequest {
  const fields: (HeaderField | null)[] = [
    ['Host', authority],
    ['User-Agent', userAgent],
    ['Accept', '*/*'],
  ];
  // Only the first -H of a default's name replaces it; later ones are sent as well, like curl.
  const replaceable = fields.map((f) => (f as HeaderField)[0].toLowerCase());
  for (const [name, value] of extra) {
    const at = replaceable.indexOf(name.toLowerCase());
    if (at !== -1) {
      replaceable[at] = '';
      fields[at] = value === '' ? null : [name, value];
    } else {
      fields.push([name, value]);
    }
  }
  const lines = [`${method} ${target} HTTP/1.1`];
  for (const f of fields) if (f) lines.push(`${f[0]}: ${f[1]}`);
  return { target, lines, bytes: Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8') };
}
