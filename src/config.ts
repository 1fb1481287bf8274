/**
 * The one configuration schema. Every key has a doc, a format, a default, an env var and a
 * flag; `--help` is generated from it. Precedence (convict): defaults < JSON file < env < flags.
 *
 * Modules never read process.env or process.argv: main.ts calls loadConfig once with both
 * and passes the frozen result down (workers receive it from the primary, not from argv).
 *
 * Longer than the ~300 lines other modules keep to: most of it is the SCHEMA table (one entry
 * of doc, format, default, env and flag per key), which reads best as one list.
 */
import convict from 'convict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CommandLineError } from './command-line';
import { ConfigError } from './errors';
import { compileHeaderRules, type HeaderRule } from './http/cache-policy';
import { readServerArgs, SHORT_FLAGS, type KeyFlag, type ServerArgs } from './server-args';
import type { TlsMinVersion } from './tls/context';
import { hstsProblem } from './tls/hsts';
import { checkTlsSettings, type TlsCertificateEntry } from './tls/settings';

export type LogPretty = 'auto' | 'true' | 'false';

export interface Config {
  /** Path of the JSON file the values came from ('' when none). */
  config: string;
  host: string;
  port: number;
  root: string;
  workers: number;
  scheduling: 'rr' | 'none';
  drainTimeoutMs: number;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  sendTimeoutMs: number;
  maxConnections: number;
  logLevel: string;
  accessLog: boolean;
  logPretty: LogPretty;
  accessLogFile: string;
  logFile: string;
  metricsHost: string;
  metricsPort: number;
  cacheControl: string;
  immutableCacheControl: string;
  headers: HeaderRule[];
  dotfiles: 'ignore' | 'allow' | 'deny';
  symlinks: 'follow' | 'inside-root' | 'deny';
  listing: boolean;
  spa: boolean;
  precompressed: boolean;
  compress: boolean;
  compressMinBytes: number;
  compressMaxBytes: number;
  compressBrotliQuality: number;
  cleanUrls: boolean;
  maxRanges: number;
  cacheMaxEntries: number;
  cacheMaxBytes: number;
  cacheMaxFileBytes: number;
  cacheValidMs: number;
  healthPath: string;
  preDrainDelayMs: number;
  tlsCert: string;
  tlsKey: string;
  tlsCertificates: TlsCertificateEntry[];
  tlsMinVersion: TlsMinVersion;
  httpPort: number;
  httpRedirect: boolean;
  hsts: string;
}

/** A configuration problem: one line for the user, exit code 2. */
// Defined with the other errors so that a worker can name it without loading convict.
export { ConfigError };

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

function toStrictBoolean(v: unknown): unknown {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  return v; // left as is so validate() names it
}

/**
 * A JSON array given as text (env, flag), parsed. Anything else is left as the text, so that
 * validate() names it: convict would take a parsed object for nested keys of the setting and
 * answer "configuration param 'headers' missing from config, did you override its parent?".
 */
function parseJsonArrayText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) ? parsed : v;
  } catch {
    return v;
  }
}

convict.addFormats({
  'strict-boolean': {
    validate(v: unknown) {
      if (typeof v !== 'boolean') throw new Error('must be true or false');
    },
    coerce: toStrictBoolean,
  },
  'host-address': {
    validate(v: unknown) {
      if (typeof v !== 'string' || v.length === 0) throw new Error('must be an IP address or a host name');
      if (net.isIP(v) !== 0) return;
      if (!/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v)) {
        throw new Error('must be an IP address or a host name');
      }
    },
  },
  'port-number': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new Error('must be a port number from 0 to 65535');
    },
    // Only plain digits: "8080abc", "80.5", "1e3" or "0x50" are mistakes, not ports.
    coerce: (v: unknown) => (typeof v === 'string' && /^\d{1,5}$/.test(v.trim()) ? Number(v) : v),
  },
  'whole-number': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new Error('must be a whole number ≥ 0');
      }
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v),
  },
  'positive-number': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
        throw new Error('must be a whole number ≥ 1');
      }
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v),
  },
  'brotli-quality': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 11) throw new Error('must be a whole number from 0 to 11');
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\d{1,2}$/.test(v.trim()) ? Number(v) : v),
  },
  'health-path': {
    validate(v: unknown) {
      // Compared with the request's path as sent (before percent-decoding, without the query).
      if (typeof v !== 'string' || (v !== '' && !/^\/[!-~]*$/.test(v)) || /[?#]/.test(v)) {
        throw new Error('must be "" (off) or a path starting with "/" (visible ASCII, no "?" or "#")');
      }
    },
  },
  'log-pretty': {
    validate(v: unknown) {
      if (v !== 'auto' && v !== 'true' && v !== 'false') throw new Error('must be auto, true or false');
    },
    coerce: (v: unknown) => {
      const b = toStrictBoolean(v);
      return typeof b === 'boolean' ? String(b) : String(v).trim().toLowerCase();
    },
  },
  'tls-certificates': {
    validate(v: unknown) {
      const shape = 'must be an array of {"cert": FILE, "key": FILE}';
      if (!Array.isArray(v)) throw new Error(shape);
      v.forEach((e: unknown, i) => {
        const ok = e !== null && typeof e === 'object' && !Array.isArray(e) && Object.keys(e).sort().join() === 'cert,key';
        const { cert, key } = (ok ? e : {}) as { cert?: unknown; key?: unknown };
        if (!ok || typeof cert !== 'string' || cert === '' || typeof key !== 'string' || key === '') {
          throw new Error(`${shape}: entry ${i} is ${JSON.stringify(e)}`);
        }
      });
    },
    coerce: parseJsonArrayText,
  },
  hsts: {
    validate(v: unknown) {
      if (typeof v !== 'string') throw new Error('must be a Strict-Transport-Security value, or "" (off)');
      const problem = hstsProblem(v);
      if (problem) throw new Error(problem);
    },
  },
  'header-rules': {
    validate(v: unknown) {
      if (!Array.isArray(v)) throw new Error('must be an array of {"glob": "...", "headers": {"Name": "value"}}');
      for (const rule of v) {
        if (!rule || typeof rule !== 'object' || typeof rule.glob !== 'string' || !rule.headers || typeof rule.headers !== 'object') {
          throw new Error(`each rule must be {"glob": "...", "headers": {...}}: got ${JSON.stringify(rule)}`);
        }
      }
      compileHeaderRules(v as HeaderRule[]); // throws with the bad rule named
    },
    coerce: parseJsonArrayText,
  },
});

const cores = os.availableParallelism();

const SCHEMA = {
  config: {
    doc: 'A JSON file of settings (any key below); env vars and flags override it.',
    format: String,
    default: '',
    env: 'FLEETSERVE_CONFIG',
    arg: 'config',
  },
  host: {
    doc: 'Address to listen on: 0.0.0.0 (every IPv4 interface), 127.0.0.1 (this machine only), :: or a host name.',
    format: 'host-address',
    default: '0.0.0.0',
    env: 'HOST',
    arg: 'host',
  },
  port: {
    doc: 'TCP port to listen on (0 = any free port).',
    format: 'port-number',
    default: 6789,
    env: 'PORT',
    arg: 'port',
  },
  root: {
    doc: 'Directory to serve, resolved against the working directory; a positional argument sets it too. Empty (the default): ./site when the working directory has one, else the working directory itself.',
    format: String,
    default: '',
    env: 'FLEETSERVE_ROOT',
    arg: 'root',
  },
  workers: {
    doc: `Worker processes; 0 serves in a single process without a cluster. Default: one per core (${cores} here).`,
    format: 'whole-number',
    default: cores,
    env: 'FLEETSERVE_WORKERS',
    arg: 'workers',
  },
  scheduling: {
    doc: 'How connections reach workers: "none" lets the kernel balance accept() among workers, "rr" has the primary accept and hand sockets out round-robin.',
    format: ['rr', 'none'],
    default: 'none',
    env: 'FLEETSERVE_SCHEDULING',
    arg: 'scheduling',
  },
  drainTimeoutMs: {
    doc: 'On SIGINT/SIGTERM, how long in-flight responses may take before the rest are cut (exit code 1).',
    format: 'positive-number',
    default: 10000,
    env: 'FLEETSERVE_DRAIN_TIMEOUT_MS',
    arg: 'drain-timeout-ms',
  },
  keepAliveTimeoutMs: {
    doc: 'How long an idle keep-alive connection stays open waiting for its next request.',
    format: 'positive-number',
    default: 5000,
    env: 'FLEETSERVE_KEEP_ALIVE_TIMEOUT_MS',
    arg: 'keep-alive-timeout-ms',
  },
  headersTimeoutMs: {
    doc: 'How long a client may take to send one whole request head once it has started (slow-loris guard); 408 after.',
    format: 'positive-number',
    default: 10000,
    env: 'FLEETSERVE_HEADERS_TIMEOUT_MS',
    arg: 'headers-timeout-ms',
  },
  sendTimeoutMs: {
    doc: 'How long a response may make no progress because the client reads nothing before the connection is dropped.',
    format: 'positive-number',
    default: 60000,
    env: 'FLEETSERVE_SEND_TIMEOUT_MS',
    arg: 'send-timeout-ms',
  },
  maxConnections: {
    doc: 'Most connections one worker holds at once (lowered to what the file-descriptor limit allows, 2 per connection); at the limit a worker stops accepting for a moment and the others take the connections.',
    format: 'positive-number',
    default: 4096,
    env: 'FLEETSERVE_MAX_CONNECTIONS',
    arg: 'max-connections',
  },
  logLevel: {
    doc: 'Lowest level logged.',
    format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    env: 'FLEETSERVE_LOG_LEVEL',
    arg: 'log-level',
  },
  accessLog: {
    doc: 'One log line per response (method, path, status, bytes, duration, remote address).',
    format: 'strict-boolean',
    default: true,
    env: 'FLEETSERVE_ACCESS_LOG',
    arg: 'access-log',
  },
  logPretty: {
    doc: 'Human-readable logs instead of JSON lines: auto = only when stdout is a terminal.',
    format: 'log-pretty',
    default: 'auto',
    env: 'FLEETSERVE_LOG_PRETTY',
    arg: 'log-pretty',
  },
  accessLogFile: {
    doc: 'Write access lines to this file (appended, created if missing) instead of stdout; SIGUSR1 reopens it after a rotation.',
    format: String,
    default: '',
    env: 'FLEETSERVE_ACCESS_LOG_FILE',
    arg: 'access-log-file',
  },
  logFile: {
    doc: 'Write lifecycle log lines (start, drain, errors) to this file (appended, created if missing) instead of stdout; SIGUSR1 reopens it.',
    format: String,
    default: '',
    env: 'FLEETSERVE_LOG_FILE',
    arg: 'log-file',
  },
  metricsHost: {
    doc: 'Address of the Prometheus metrics listener (keep it private: 127.0.0.1 or an internal address).',
    format: 'host-address',
    default: '127.0.0.1',
    env: 'FLEETSERVE_METRICS_HOST',
    arg: 'metrics-host',
  },
  metricsPort: {
    doc: 'Port of the Prometheus metrics listener (GET /metrics), summed over all workers; 0 = no metrics at all. Never the public port.',
    format: 'port-number',
    default: 0,
    env: 'FLEETSERVE_METRICS_PORT',
    arg: 'metrics-port',
  },
  cacheControl: {
    doc: 'Cache-Control sent with files (and 304s).',
    format: String,
    default: 'public, max-age=0, must-revalidate',
    env: 'FLEETSERVE_CACHE_CONTROL',
    arg: 'cache-control',
  },
  immutableCacheControl: {
    doc: 'Cache-Control for files whose names carry a content hash (app.3f9a1c2e.js); "" treats them like any file.',
    format: String,
    default: 'public, max-age=31536000, immutable',
    env: 'FLEETSERVE_IMMUTABLE_CACHE_CONTROL',
    arg: 'immutable-cache-control',
  },
  headers: {
    doc: 'Extra response headers by path glob, e.g. [{"glob": "/assets/**", "headers": {"Access-Control-Allow-Origin": "*"}}] (JSON in env/flag).',
    format: 'header-rules',
    default: [] as HeaderRule[],
    env: 'FLEETSERVE_HEADERS',
    arg: 'headers',
  },
  dotfiles: {
    doc: 'Paths with a segment starting with "." (except /.well-known/): ignore = 404, deny = 403, allow = serve.',
    format: ['ignore', 'allow', 'deny'],
    default: 'ignore',
    env: 'FLEETSERVE_DOTFILES',
    arg: 'dotfiles',
  },
  symlinks: {
    doc: 'Symbolic links: inside-root = follow only when the target stays inside the root, follow = always, deny = never (404).',
    format: ['inside-root', 'follow', 'deny'],
    default: 'inside-root',
    env: 'FLEETSERVE_SYMLINKS',
    arg: 'symlinks',
  },
  listing: {
    doc: 'List a directory that has no index.html (HTML, or JSON when the client asks for application/json).',
    format: 'strict-boolean',
    default: false,
    env: 'FLEETSERVE_LISTING',
    arg: 'listing',
  },
  spa: {
    doc: 'Single-page-app fallback: unknown paths without a file extension get /index.html.',
    format: 'strict-boolean',
    default: false,
    env: 'FLEETSERVE_SPA',
    arg: 'spa',
  },
  precompressed: {
    doc: 'Serve x.br / x.zst / x.gz siblings of x to clients that accept them.',
    format: 'strict-boolean',
    default: true,
    env: 'FLEETSERVE_PRECOMPRESSED',
    arg: 'precompressed',
  },
  compress: {
    doc: 'Compress text-like files (text/*, JavaScript, JSON, SVG, XML, wasm, …) once per file version in the background and serve the result from memory (br, gzip, and zstd where Node.js has it) to clients that accept it.',
    format: 'strict-boolean',
    default: true,
    env: 'FLEETSERVE_COMPRESS',
    arg: 'compress',
  },
  compressMinBytes: {
    doc: 'Files smaller than this are never compressed (the saving would not pay for the headers).',
    format: 'whole-number',
    default: 1024,
    env: 'FLEETSERVE_COMPRESS_MIN_BYTES',
    arg: 'compress-min-bytes',
  },
  compressMaxBytes: {
    doc: 'Files larger than this are never compressed on the fly (ship x.br / x.gz siblings for those).',
    format: 'whole-number',
    default: 4 * 1024 * 1024,
    env: 'FLEETSERVE_COMPRESS_MAX_BYTES',
    arg: 'compress-max-bytes',
  },
  compressBrotliQuality: {
    doc: 'Brotli quality (0-11) of on-the-fly compression; above 1 MiB at most 9.',
    format: 'brotli-quality',
    default: 11,
    env: 'FLEETSERVE_COMPRESS_BROTLI_QUALITY',
    arg: 'compress-brotli-quality',
  },
  cleanUrls: {
    doc: 'Clean URLs: /about serves about.html when /about does not exist, and /about.html redirects (301) to /about.',
    format: 'strict-boolean',
    default: false,
    env: 'FLEETSERVE_CLEAN_URLS',
    arg: 'clean-urls',
  },
  maxRanges: {
    doc: 'Most ranges one Range header may ask for; more are answered with the whole file (200).',
    format: 'positive-number',
    default: 16,
    env: 'FLEETSERVE_MAX_RANGES',
    arg: 'max-ranges',
  },
  cacheMaxEntries: {
    doc: 'Per-worker file cache: most entries (stat, validators and headers; bodies of small files).',
    format: 'whole-number',
    default: 10000,
    env: 'FLEETSERVE_CACHE_MAX_ENTRIES',
    arg: 'cache-max-entries',
  },
  cacheMaxBytes: {
    doc: 'Per-worker file cache: most bytes of file bodies held in memory.',
    format: 'whole-number',
    default: 64 * 1024 * 1024,
    env: 'FLEETSERVE_CACHE_MAX_BYTES',
    arg: 'cache-max-bytes',
  },
  cacheMaxFileBytes: {
    doc: 'Files up to this size are kept in memory; larger ones are streamed from disk.',
    format: 'whole-number',
    default: 2 * 1024 * 1024,
    env: 'FLEETSERVE_CACHE_MAX_FILE_BYTES',
    arg: 'cache-max-file-bytes',
  },
  cacheValidMs: {
    doc: 'How long a cached file is trusted before it is checked again with stat (a changed file is served within this delay).',
    format: 'whole-number',
    default: 1000,
    env: 'FLEETSERVE_CACHE_VALID_MS',
    arg: 'cache-valid-ms',
  },
  healthPath: {
    doc: 'Health-check path answered before any file lookup: 200 "ok" while serving, 503 once a drain (or pre-drain) has begun; "" turns it off.',
    format: 'health-path',
    default: '/healthz',
    env: 'FLEETSERVE_HEALTH_PATH',
    arg: 'health-path',
  },
  preDrainDelayMs: {
    doc: 'On SIGINT/SIGTERM, how long the health check answers 503 while everything else is still served normally, before the drain starts.',
    format: 'whole-number',
    default: 0,
    env: 'FLEETSERVE_PRE_DRAIN_DELAY_MS',
    arg: 'pre-drain-delay-ms',
  },
  tlsCert: {
    doc: 'PEM certificate file (the chain may follow the certificate): with tlsKey, the main listener (host/port) speaks HTTPS. Also the certificate for clients without SNI or with a name no tlsCertificates entry has.',
    format: String,
    default: '',
    env: 'FLEETSERVE_TLS_CERT',
    arg: 'tls-cert',
  },
  tlsKey: {
    doc: 'PEM private key file of tlsCert, without a passphrase.',
    format: String,
    default: '',
    env: 'FLEETSERVE_TLS_KEY',
    arg: 'tls-key',
  },
  tlsCertificates: {
    doc: 'More certificates, chosen by the name the client asks for (SNI) among each one\'s subjectAltName DNS names (*.example.com matches one label): [{"cert": FILE, "key": FILE}, ...] (JSON in env/flag).',
    format: 'tls-certificates',
    default: [] as TlsCertificateEntry[],
    env: 'FLEETSERVE_TLS_CERTIFICATES',
    arg: 'tls-certificates',
  },
  tlsMinVersion: {
    doc: 'Oldest TLS version accepted: TLSv1.2 or TLSv1.3.',
    format: ['TLSv1.2', 'TLSv1.3'],
    default: 'TLSv1.2',
    env: 'FLEETSERVE_TLS_MIN_VERSION',
    arg: 'tls-min-version',
  },
  httpPort: {
    doc: 'With HTTPS on, a plain-HTTP port on the same host that redirects every request to HTTPS (308), except the health path and /.well-known/acme-challenge/; 0 = none.',
    format: 'port-number',
    default: 0,
    env: 'FLEETSERVE_HTTP_PORT',
    arg: 'http-port',
  },
  httpRedirect: {
    doc: 'Whether httpPort redirects to HTTPS (true) or serves the site as well (false).',
    format: 'strict-boolean',
    default: true,
    env: 'FLEETSERVE_HTTP_REDIRECT',
    arg: 'http-redirect',
  },
  hsts: {
    doc: 'Strict-Transport-Security value sent on every HTTPS response (never over plain HTTP), e.g. "max-age=63072000; includeSubDomains"; "" = none.',
    format: 'hsts',
    default: '',
    env: 'FLEETSERVE_HSTS',
    arg: 'hsts',
  },
};

type Schema = convict.Config<Config>;

/**
 * convict reads env itself; flags are applied by loadConfig with set(), after the file, so
 * the precedence stays defaults < file < env < flags. (convict's own argv parser would turn
 * "--root 1.10" into the number 1.1 and keep only the first of two repeated flags.)
 */
function makeSchema(env: NodeJS.ProcessEnv): Schema {
  return convict(SCHEMA as convict.Schema<Config>, { args: [], env }) as unknown as Schema;
}

export type CommandLine =
  /** `rootChoice` says how the root was found when none was given (for the start-up log). */
  | { kind: 'run'; config: Config; rootChoice?: string }
  | { kind: 'check'; config: Config }
  | { kind: 'help'; text: string }
  | { kind: 'version' };

/** Each key's flag, for the command line. */
function keyFlags(): KeyFlag[] {
  return Object.entries(SCHEMA).map(([key, def]) => ({ key, flag: def.arg }));
}

/** The --help text, generated from the schema so it can never drift from it. */
export function helpText(): string {
  const lines = [
    'Usage: fleetserve [DIRECTORY] [--key value ...]',
    '',
    'Serves DIRECTORY over HTTP/1.1 with one worker process per core. Without one: ./site when',
    'the working directory has it, else the working directory itself.',
    'Settings come from defaults < a JSON file (--config) < environment < flags.',
    '',
  ];
  for (const [key, def] of Object.entries(SCHEMA)) {
    const short = SHORT_FLAGS[key] && `-${SHORT_FLAGS[key]}`;
    const shown = key === 'root' ? './site if it exists, else the working directory' : JSON.stringify(def.default);
    lines.push(`  --${def.arg}${short ? `, ${short}` : ''}  (env ${def.env}, key "${key}", default ${shown})`);
    lines.push(`      ${def.doc}`);
  }
  lines.push('', '  --help, -h       this text', '  --version, -V    print the version');
  lines.push('  --check-config   validate the configuration (same flags, env and file), print "configuration ok" and exit 0, or the error and exit 2', '');
  lines.push('Signals: SIGINT (Ctrl+C) or SIGTERM drain open connections then exit; a second SIGINT exits at once.');
  lines.push('SIGHUP re-reads the configuration and replaces the workers one at a time (a rolling reload).');
  lines.push('SIGUSR1 reopens the log files (after logrotate moved them).');
  return lines.join('\n');
}

/** convict's (possibly multi-line) error as one line: every line trimmed, blank ones dropped, the rest joined with "; ". */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join('; ');
}

/**
 * Loads and validates configuration from explicit argv (without node and script) and env.
 * Throws ConfigError with a one-line message for anything wrong.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string = process.cwd()): CommandLine {
  let split: ServerArgs;
  try {
    split = readServerArgs(argv, keyFlags());
  } catch (err) {
    throw err instanceof CommandLineError ? new ConfigError(err.message) : err;
  }
  if (split.kind === 'help') return { kind: 'help', text: helpText() };
  if (split.kind === 'version') return { kind: 'version' };
  if (split.positional !== undefined) {
    if (split.args.some(([key]) => key === 'root')) {
      throw new ConfigError('give the root once: either a directory argument or --root');
    }
    split.args.push(['root', split.positional]);
  }

  let instance: Schema;
  try {
    instance = makeSchema(env);
  } catch (err) {
    throw new ConfigError(oneLine((err as Error).message));
  }
  // The file is named by the last --config flag, else FLEETSERVE_CONFIG (already in instance).
  const fileFlag = split.args.filter(([key]) => key === 'config').pop();
  const file = fileFlag ? fileFlag[1] : instance.get('config');
  if (file) {
    const abs = path.resolve(cwd, file);
    let text: string;
    try {
      text = fs.readFileSync(abs, 'utf8');
    } catch (err) {
      throw new ConfigError(`config: cannot read ${abs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config: ${abs} is not valid JSON: ${(err as Error).message}`);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(`config: ${abs} must hold a JSON object`);
    if ('config' in data) throw new ConfigError(`config: ${abs} may not name another config file`);
    try {
      instance.load(data as object);
    } catch (err) {
      throw new ConfigError(`config: ${abs}: ${oneLine((err as Error).message)}`);
    }
  }
  for (const [key, value] of split.args) instance.set(key as keyof Config, value as never);
  try {
    instance.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(oneLine((err as Error).message));
  }

  const values = instance.getProperties() as Config;
  let rootChoice: string | undefined;
  let root: string;
  if (values.root === '') {
    // Like serve and http-server: a directory without ./site is served itself.
    const site = path.resolve(cwd, 'site');
    if (isDirectory(site)) {
      root = site;
      rootChoice = 'no directory given: serving ./site';
    } else {
      root = path.resolve(cwd);
      rootChoice = 'no ./site here: serving the current directory';
    }
  } else {
    root = path.resolve(cwd, values.root);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new ConfigError(`root: ${root} does not exist (pass a directory: fleetserve ./public)`);
  }
  if (!st.isDirectory()) throw new ConfigError(`root: ${root} is not a directory (pass a directory: fleetserve ./public)`);
  if (values.metricsPort !== 0 && values.metricsPort === values.port) {
    throw new ConfigError(`metricsPort: ${values.metricsPort} is the public port; metrics need a port of their own`);
  }
  const config: Config = {
    ...values,
    root: fs.realpathSync(root),
    config: file ? path.resolve(cwd, file) : '',
    accessLogFile: checkLogFile('accessLogFile', values.accessLogFile, cwd),
    logFile: checkLogFile('logFile', values.logFile, cwd),
    ...checkTlsSettings(values, values, (file) => path.resolve(cwd, file)),
  };
  return { kind: split.check ? 'check' : 'run', config: Object.freeze(config), ...(rootChoice ? { rootChoice } : {}) };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A log file path, made absolute (SIGUSR1 reopens it by name, whatever the working directory
 * is by then). Its directory must exist and be writable, and the file, if it exists, must be
 * a writable file: these are configuration mistakes (exit 2), found before anything starts.
 * It is not created here; each process opens it for appending when it starts.
 */
function checkLogFile(key: string, value: string, cwd: string): string {
  if (value === '') return '';
  const file = path.resolve(cwd, value);
  const dir = path.dirname(file);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch {
    throw new ConfigError(`${key}: directory ${dir} does not exist`);
  }
  if (!dirStat.isDirectory()) throw new ConfigError(`${key}: ${dir} is not a directory`);
  let fileStat: fs.Stats | null = null;
  try {
    fileStat = fs.statSync(file);
  } catch {
    // Not there yet: it is created when the server starts.
  }
  if (fileStat?.isDirectory()) throw new ConfigError(`${key}: ${file} is a directory`);
  try {
    fs.accessSync(fileStat ? file : dir, fs.constants.W_OK);
  } catch {
    throw new ConfigError(`${key}: ${fileStat ? file : `directory ${dir}`} is not writable`);
  }
  return file;
}
