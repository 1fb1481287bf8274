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
import { booleanWord, CommandLineError } from './command-line';
import { resolvePaths } from './config-paths';
import { ConfigError } from '../errors';
import { BasicAuthRuleError, checkBasicAuthRules, type BasicAuthRule } from '../auth/basic-auth';
import { compileHeaderRules, type HeaderRule } from '../http/cache-policy';
import { checkTrustedProxies, trustedProxiesFromText } from '../http/trusted-proxies';
import { nearestName } from './nearest-name';
import { corsOriginsProblem, corsRuleConflict } from '../http/cors';
import { BUILD_TOOLS_ENTRY, compileImmutablePaths } from '../http/immutable-paths';
import { compileRedirectRules, RedirectRuleError, type RedirectRule } from '../http/redirects';
import { readServerArgs, SHORT_FLAGS, type KeyFlag, type ServerArgs } from './server-args';
import type { TlsMinVersion } from '../tls/context';
import { hstsProblem } from '../tls/hsts';
import { checkTlsSettings, type TlsCertificateEntry } from '../tls/settings';

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
  trustedProxies: string[];
  proxyProtocol: boolean;
  proxyProtocolTimeoutMs: number;
  logLevel: string;
  accessLog: boolean;
  logPretty: LogPretty;
  accessLogFile: string;
  logFile: string;
  /** Absolute path of the primary's pid file ('' when none). */
  pidFile: string;
  metricsHost: string;
  metricsPort: number;
  cacheControl: string;
  immutableCacheControl: string;
  immutablePaths: string[];
  headers: HeaderRule[];
  dotfiles: 'ignore' | 'allow' | 'deny';
  symlinks: 'follow' | 'inside-root' | 'deny';
  listing: boolean;
  spa: boolean;
  cors: boolean;
  corsOrigins: string[];
  precompressed: boolean;
  compress: boolean;
  compressMinBytes: number;
  compressMaxBytes: number;
  compressBrotliQuality: number;
  cleanUrls: boolean;
  redirects: RedirectRule[];
  basicAuth: BasicAuthRule[];
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

function toStrictBoolean(v: unknown): unknown {
  if (typeof v === 'boolean') return v;
  return booleanWord(String(v)) ?? v; // left as is so validate() names it
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
      if (typeof v !== 'boolean') throw new Error('must be true or false (or 1/0, yes/no, on/off)');
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
  'trusted-proxies': {
    validate: checkTrustedProxies,
    coerce: trustedProxiesFromText,
  },
  // Only the shape here (convict would add "value was ..." to every message); each rule is
  // checked after the merge, by checkPathRules, with a message naming it.
  'rule-list': {
    validate(v: unknown) {
      if (!Array.isArray(v)) throw new Error('must be a JSON array of rules');
    },
    // Only an array is taken from text: an object given to convict's set() would be read as
    // nested keys, with a message about the schema instead of this one.
    coerce: parseJsonArrayText,
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
  'immutable-paths': {
    validate(v: unknown) {
      if (!Array.isArray(v)) throw new Error(`must be an array of globs and "${BUILD_TOOLS_ENTRY}", e.g. ["${BUILD_TOOLS_ENTRY}", "/fonts/**"]`);
      compileImmutablePaths(v); // throws with the bad entry named
    },
    coerce: parseJsonArrayText,
  },
  'cors-origins': {
    validate(v: unknown) {
      const problem = corsOriginsProblem(v);
      if (problem !== null) throw new Error(problem);
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
    doc: 'Directory to serve, resolved against the working directory (in a config file: against its directory); a positional argument sets it too. Empty (the default): ./site when the working directory has one, else the working directory itself.',
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
  trustedProxies: {
    doc: 'Proxies whose word about the client is believed: IP addresses and CIDR ranges, IPv4 or IPv6 (a JSON array, or a comma-separated list in env/flag). From these peers X-Forwarded-For (its rightmost address that is not one of them) and X-Forwarded-Proto are believed; with proxyProtocol, only these may connect. [] = nobody.',
    format: 'trusted-proxies',
    default: [] as string[],
    env: 'FLEETSERVE_TRUSTED_PROXIES',
    arg: 'trusted-proxies',
  },
  proxyProtocol: {
    doc: 'Every connection starts with a PROXY protocol header (v1 or v2, as HAProxy send-proxy / send-proxy-v2 send it) naming the client; a connection without a valid one is closed unanswered.',
    format: 'strict-boolean',
    default: false,
    env: 'FLEETSERVE_PROXY_PROTOCOL',
    arg: 'proxy-protocol',
  },
  proxyProtocolTimeoutMs: {
    doc: 'With proxyProtocol, how long after accepting a connection its PROXY header may take to arrive complete before the connection is closed.',
    format: 'positive-number',
    default: 3000,
    env: 'FLEETSERVE_PROXY_PROTOCOL_TIMEOUT_MS',
    arg: 'proxy-protocol-timeout-ms',
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
  pidFile: {
    doc: "Write the primary's pid to this file at start (for logrotate's postrotate, an init script); removed at exit. Its directory must be writable.",
    format: String,
    default: '',
    env: 'FLEETSERVE_PID_FILE',
    arg: 'pid-file',
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
    doc: 'Cache-Control for files at immutablePaths (build outputs with a content hash in their name); "" treats them like any file.',
    format: String,
    default: 'public, max-age=31536000, immutable',
    env: 'FLEETSERVE_IMMUTABLE_CACHE_CONTROL',
    arg: 'immutable-cache-control',
  },
  immutablePaths: {
    doc: `Which URL paths get immutableCacheControl: globs over the path, and "${BUILD_TOOLS_ENTRY}" for the names webpack, Rollup, Parcel, esbuild, Vite, Next.js and SvelteKit give their output (see docs/http-behaviour.md for the exact rule); ["${BUILD_TOOLS_ENTRY}", "/fonts/**"] adds a directory, [] turns it off (JSON in env/flag).`,
    format: 'immutable-paths',
    default: [BUILD_TOOLS_ENTRY] as string[],
    env: 'FLEETSERVE_IMMUTABLE_PATHS',
    arg: 'immutable-paths',
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
    doc: 'Single-page-app fallback: a missing path whose Accept prefers text/html (a browser navigation) gets /index.html, with Vary: Accept; missing assets stay 404.',
    format: 'strict-boolean',
    default: false,
    env: 'FLEETSERVE_SPA',
    arg: 'spa',
  },
  cors: {
    doc: 'CORS: Access-Control-Allow-Origin on every response (* or an origin of corsOrigins), and preflights (OPTIONS) answered for GET, HEAD and any requested headers.',
    format: 'strict-boolean',
    default: false,
    env: 'FLEETSERVE_CORS',
    arg: 'cors',
  },
  corsOrigins: {
    doc: 'With cors: the origins allowed to read responses (scheme://host[:port]), each echoed with Vary: Origin; [] allows every origin (*). JSON in env/flag.',
    format: 'cors-origins',
    default: [] as string[],
    env: 'FLEETSERVE_CORS_ORIGINS',
    arg: 'cors-origins',
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
  redirects: {
    doc: 'Redirect rules answered before any file lookup, e.g. [{"from": "/old", "to": "/new", "status": 301}, {"from": "/blog/**", "to": "https://blog.example.com/:splat"}]: "from" an exact path or a prefix ending in "/**" (its rest is ":splat"), status 301 (default), 302, 307 or 308; the first matching rule wins; the query is kept (JSON in env/flag).',
    format: 'rule-list',
    default: [] as RedirectRule[],
    env: 'FLEETSERVE_REDIRECTS',
    arg: 'redirects',
  },
  basicAuth: {
    doc: 'Basic authentication by path glob, e.g. [{"glob": "/private/**", "realm": "Staff", "htpasswd": "users.htpasswd"}]: users of an Apache htpasswd file of bcrypt hashes (htpasswd -B), re-read on SIGHUP; a relative path is taken from the directory of the JSON config file it is written in. Without HTTPS, passwords cross the network in clear text (JSON in env/flag).',
    format: 'rule-list',
    default: [] as BasicAuthRule[],
    env: 'FLEETSERVE_BASIC_AUTH',
    arg: 'basic-auth',
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
type KeyDef = { doc: string; format: unknown; default: unknown; env: string; arg: string };
const DEFS: Readonly<Record<string, KeyDef>> = SCHEMA;

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

/** A true/false key: its flag works alone (`--listing`) and as `--no-listing`. */
function isBooleanKey(def: KeyDef): boolean {
  return def.format === 'strict-boolean';
}

/** Each key's flag, for the command line. */
function keyFlags(): KeyFlag[] {
  return Object.entries(DEFS).map(([key, def]) => ({ key, flag: def.arg, ...(isBooleanKey(def) ? { boolean: true } : {}) }));
}

/** The --help text, generated from the schema so it can never drift from it. */
export function helpText(): string {
  const lines = [
    'Usage: fleetserve [DIRECTORY] [--key value ...]',
    '',
    'Serves DIRECTORY over HTTP/1.1 with one worker process per core. Without one: ./site when',
    'the working directory has it, else the working directory itself.',
    'Settings come from defaults < a JSON file (--config) < environment < flags. A true/false',
    'flag alone means true (--listing), --no-listing false; it takes the next word only when',
    'that is true/false, 1/0, yes/no or on/off (--listing false, or --listing=false).',
    'Relative paths in the JSON file are resolved against its directory, others against the',
    'working directory.',
    '',
  ];
  for (const [key, def] of Object.entries(DEFS)) {
    const short = SHORT_FLAGS[key] && `-${SHORT_FLAGS[key]}`;
    const negated = isBooleanKey(def) ? `, --no-${def.arg}` : '';
    const shown = key === 'root' ? './site if it exists, else the working directory' : JSON.stringify(def.default);
    lines.push(`  --${def.arg}${negated}${short ? `, ${short}` : ''}  (env ${def.env}, key "${key}", default ${shown})`);
    lines.push(`      ${def.doc}`);
  }
  lines.push('', '  --help, -h       this text', '  --version, -V    print the version');
  lines.push('  --check-config   validate the configuration (same flags, env and file), print "configuration ok" and exit 0, or the error and exit 2', '');
  lines.push('Signals: SIGINT (Ctrl+C) or SIGTERM drain open connections then exit; a second SIGINT exits at once.');
  lines.push('SIGHUP re-reads the configuration and replaces the workers one at a time (a rolling reload).');
  lines.push('SIGUSR1 reopens the log files (after logrotate moved them).');
  return lines.join('\n');
}

/**
 * convict's (possibly multi-line) error as one line in our words: every line trimmed, blank
 * ones dropped, the rest joined with "; ".
 */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((s) => s.trim().replace(/must be of type String/g, 'must be a string'))
    .filter(Boolean)
    .join('; ');
}

function isPlainObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The JSON file's values, checked and with their paths resolved against its directory. */
interface ConfigFile {
  /** The file's absolute path. */
  file: string;
  data: Record<string, unknown>;
}

/**
 * Reads and checks the JSON file before convict sees it: every key must be one of ours (a
 * typo gets the nearest key), no value may be an object where the key takes none (convict
 * would read it as nested keys, or crash), and relative paths are made absolute against the
 * file's directory. Throws ConfigError.
 */
function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(data)) throw new ConfigError(`config: ${file} must hold a JSON object`);
  const values = data as Record<string, unknown>;
  if (Object.hasOwn(values, 'config')) throw new ConfigError(`config: ${file} may not name another config file`);
  const known = Object.keys(DEFS).filter((k) => k !== 'config');
  for (const key of Object.keys(values)) {
    if (Object.hasOwn(DEFS, key)) continue;
    const near = nearestName(key, known);
    // A key that is not a plain name ("", "a b") is quoted, so the line still reads.
    const shown = /^[\w.$-]+$/.test(key) ? key : JSON.stringify(key);
    throw new ConfigError(`${shown}: unknown key in ${file} (${near ? `did you mean ${near}?` : 'fleetserve --help lists the keys'})`);
  }
  for (const [key, value] of Object.entries(values)) {
    refuseObject(key, value, ` (from ${file})`);
    values[key] = jsonWord(DEFS[key]!, value);
  }
  return { file, data: resolvePaths(values, path.dirname(file)) };
}

/**
 * A JSON number or boolean for a key whose format reads words (true/false, 1/0, ...): the
 * word, so that `"listing": 1` and `"logPretty": false` mean what they say (convict coerces
 * strings only).
 */
function jsonWord(def: KeyDef, value: unknown): unknown {
  if (def.format !== 'strict-boolean' && def.format !== 'log-pretty') return value;
  if (typeof value !== 'number' && typeof value !== 'boolean') return value;
  return booleanWord(String(value)) === undefined ? value : String(value);
}

/**
 * A JSON object where the key takes none ("headers": {...} instead of an array of rules):
 * refused with the key's own rule. convict would read an object as nested keys and fail
 * with "not declared" or a TypeError, so it must never get one. The rule comes from the
 * key's format, checked alone on a throwaway schema whose default is an object (convict
 * validates an object whole there).
 */
function refuseObject(key: string, value: unknown, where: string): void {
  const def = DEFS[key]!;
  if (!isPlainObject(value) || isPlainObject(def.default)) return;
  const probe = convict({ [key]: { format: def.format, default: {} } } as never, { args: [], env: {} });
  probe.set(key as never, value as never);
  try {
    probe.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(`${oneLine((err as Error).message)}${where}`);
  }
  throw new ConfigError(`${key}: must not be a JSON object: value was ${JSON.stringify(value)}${where}`);
}

/**
 * Where each key's value came from, for messages: "" from a flag (the user just typed it) or
 * the default, " (from FLEETSERVE_ROOT)" from the environment, " (from /etc/x.json)" from
 * the file.
 */
function sources(flagKeys: ReadonlySet<string>, env: NodeJS.ProcessEnv, file: ConfigFile | undefined): (key: string) => string {
  return (key) => {
    if (flagKeys.has(key)) return '';
    const def = DEFS[key];
    if (def && env[def.env] !== undefined) return ` (from ${def.env})`;
    if (file && Object.hasOwn(file.data, key)) return ` (from ${file.file})`;
    return '';
  };
}

/** The command line as [key, value] pairs, the DIRECTORY argument as root; or help / version. */
function readArgs(argv: readonly string[]): ServerArgs {
  let split: ServerArgs;
  try {
    split = readServerArgs(argv, keyFlags());
  } catch (err) {
    throw err instanceof CommandLineError ? new ConfigError(err.message) : err;
  }
  if (split.kind === 'options' && split.positional !== undefined) {
    if (split.args.some(([key]) => key === 'root')) {
      throw new ConfigError('give the root once: either a directory argument or --root');
    }
    split.args.push(['root', split.positional]);
  }
  return split;
}

/**
 * Loads and validates configuration from explicit argv (without node and script) and env.
 * Throws ConfigError with a one-line message for anything wrong.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string = process.cwd()): CommandLine {
  const split = readArgs(argv);
  if (split.kind === 'help') return { kind: 'help', text: helpText() };
  if (split.kind === 'version') return { kind: 'version' };
  let instance: Schema;
  try {
    instance = makeSchema(env);
  } catch (err) {
    throw new ConfigError(oneLine((err as Error).message));
  }
  // The file is named by the last --config flag, else FLEETSERVE_CONFIG (already in instance).
  const fileFlag = split.args.filter(([key]) => key === 'config').pop();
  const name = fileFlag ? fileFlag[1] : instance.get('config');
  const file = name ? readConfigFile(path.resolve(cwd, name)) : undefined;
  if (file) {
    try {
      instance.load(file.data);
    } catch (err) {
      throw new ConfigError(`config: ${file.file}: ${oneLine((err as Error).message)}`);
    }
  }
  for (const [key, value] of split.args) instance.set(key as keyof Config, value as never);
  const where = sources(new Set(split.args.map(([key]) => key)), env, file);
  // A JSON object from an env var or a flag ("--headers '{...}'"), as from the file.
  for (const [key, value] of Object.entries(instance.getProperties())) refuseObject(key, value, where(key));
  try {
    instance.validate({ allowed: 'strict' });
  } catch (err) {
    // convict's lines start with the key: each is told where its value came from.
    throw new ConfigError(oneLine((err as Error).message.replace(/^(\w+): .*$/gm, (line, key: string) => line + where(key))));
  }
  const values = resolvePaths(instance.getProperties() as Config, cwd);
  const { root, rootChoice } = chooseRoot(values.root, cwd, where('root') || rootHint(split.positional, split.positionalAfter));
  const corsConflict = values.cors ? corsRuleConflict(values.headers) : null;
  if (corsConflict !== null) throw new ConfigError(`headers: ${corsConflict}`);
  if (values.metricsPort !== 0 && values.metricsPort === values.port) {
    throw new ConfigError(`metricsPort: ${values.metricsPort} is the public port; metrics need a port of their own`);
  }
  // htpasswd paths are absolute by now (PATH_KEYS: against the file's directory or the working directory).
  const rules = checkPathRules(values, cwd);
  const config: Config = {
    ...values,
    root,
    config: file ? file.file : '',
    accessLogFile: checkLogFile('accessLogFile', values.accessLogFile, where('accessLogFile')),
    logFile: checkLogFile('logFile', values.logFile, where('logFile')),
    pidFile: checkPidFile(values.pidFile, where('pidFile')),
    // The certificate paths are absolute by now (PATH_KEYS), so they are checked as they are.
    ...checkTlsSettings(values, values, (file) => file),
    ...rules,
  };
  return { kind: split.check ? 'check' : 'run', config: Object.freeze(config), ...(rootChoice ? { rootChoice } : {}) };
}

/** What to add to a message about a root from the command line. */
function rootHint(positional: string | undefined, after: string | undefined): string {
  if (positional === undefined || after === undefined) return ' (pass a directory: fleetserve ./public)';
  return ` (after ${after}, ${JSON.stringify(positional)} is read as the directory: ${after} takes only true/false, 1/0, yes/no or on/off as its next word)`;
}

/**
 * The directory to serve, real path: the given one (already absolute), which must be a
 * directory, or without one ./site when the working directory has it, else the working
 * directory. A bad one says where it came from (`where`).
 */
function chooseRoot(given: string, cwd: string, where: string): { root: string; rootChoice?: string } {
  let root = given;
  let rootChoice: string | undefined;
  if (given === '') {
    // Like serve and http-server: a directory without ./site is served itself.
    const site = path.resolve(cwd, 'site');
    root = isDirectory(site) ? site : path.resolve(cwd);
    rootChoice = root === site ? 'no directory given: serving ./site' : 'no ./site here: serving the current directory';
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new ConfigError(`root: ${root} does not exist${where}`);
  }
  if (!st.isDirectory()) throw new ConfigError(`root: ${root} is not a directory${where}`);
  return { root: fs.realpathSync(root), ...(rootChoice ? { rootChoice } : {}) };
}

/**
 * The redirect and basic-auth rules checked one by one (each error names its rule, and for
 * an htpasswd file the line and the user), the htpasswd paths made absolute against `baseDir`.
 */
function checkPathRules(values: Config, baseDir: string): Pick<Config, 'redirects' | 'basicAuth'> {
  try {
    compileRedirectRules(values.redirects);
  } catch (err) {
    if (err instanceof RedirectRuleError) throw new ConfigError(`redirects: ${err.message}`);
    throw err;
  }
  try {
    return { redirects: values.redirects, basicAuth: checkBasicAuthRules(values.basicAuth, baseDir) };
  } catch (err) {
    if (err instanceof BasicAuthRuleError) throw new ConfigError(`basicAuth: ${err.message}`);
    throw err;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A log file path (already absolute: SIGUSR1 reopens it by name, whatever the working
 * directory is by then). Its directory must exist and be writable, and the file, if it
 * exists, must be a writable file: these are configuration mistakes (exit 2), found before
 * anything starts, named with where the path came from. It is not created here; each process
 * opens it for appending when it starts.
 */
function checkLogFile(key: string, file: string, where: string): string {
  if (file === '') return '';
  const dir = path.dirname(file);
  requireDirectory(key, dir, where);
  let fileStat: fs.Stats | null = null;
  try {
    fileStat = fs.statSync(file);
  } catch {
    // Not there yet: it is created when the server starts.
  }
  if (fileStat?.isDirectory()) throw new ConfigError(`${key}: ${file} is a directory${where}`);
  try {
    fs.accessSync(fileStat ? file : dir, fs.constants.W_OK);
  } catch {
    throw new ConfigError(`${key}: ${fileStat ? file : `directory ${dir}`} is not writable${where}`);
  }
  return file;
}

/**
 * The pid file's path, made absolute. It is written as a new file renamed over the path, so
 * what must be writable is its directory; a file already there (a stale one) is replaced.
 */
function checkPidFile(file: string, where: string): string {
  if (file === '') return '';
  const dir = path.dirname(file);
  requireDirectory('pidFile', dir, where);
  if (isDirectory(file)) throw new ConfigError(`pidFile: ${file} is a directory${where}`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new ConfigError(`pidFile: directory ${dir} is not writable${where}`);
  }
  return file;
}

/** The directory a file named by `key` goes in must exist and be one. */
function requireDirectory(key: string, dir: string, where: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new ConfigError(`${key}: directory ${dir} does not exist${where}`);
  }
  if (!st.isDirectory()) throw new ConfigError(`${key}: ${dir} is not a directory${where}`);
}
