/**
 * The one configuration schema: every key with its doc, format, default, env var and flag
 * (SCHEMA), and its type (Config), at the same position in both. `--help` is generated from
 * it. A new key goes here, in both, and gets a row in the README's configuration table.
 *
 * Longer than the ~300 lines other modules keep to: it is the SCHEMA table (one entry of doc,
 * format, default, env and flag per key), which reads best as one list. The formats named
 * here are in formats.ts.
 */
import os from 'node:os';
import type { BasicAuthRule } from '../auth/basic-auth';
import type { HeaderRule } from '../http/cache-policy';
import { BUILD_TOOLS_ENTRY } from '../http/immutable-paths';
import type { RedirectRule } from '../http/redirects';
import type { KeyFlag } from './server-args';
import type { TlsMinVersion } from '../tls/context';

/** The ACME challenge types fleetserve can answer. */
export type AcmeChallengeType = 'http-01' | 'tls-alpn-01';

export type LogPretty = 'auto' | 'true' | 'false';

/** One entry of tlsCertificates: a PEM certificate file and its key file. */
export interface TlsCertificateEntry {
  cert: string;
  key: string;
}

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
  basicAuthLogPeriodMs: number;
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
  acmeDomains: string[];
  acmeEmail: string;
  acmeDirectory: string;
  acmeCaFile: string;
  /** Absolute by the time the configuration is loaded ('' only before: the default). */
  acmeStorage: string;
  acmeChallenge: AcmeChallengeType[];
  acmeRetryMinMs: number;
  httpPort: number;
  httpRedirect: boolean;
  hsts: string;
  http2: boolean;
  http2MaxConcurrentStreams: number;
}

const cores = os.availableParallelism();

export const SCHEMA = {
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
  basicAuthLogPeriodMs: {
    doc: 'Failed Basic sign-ins are logged at most once per client per this period, with the count since the last line; 0 logs every failure.',
    format: 'whole-number',
    default: 10_000,
    env: 'FLEETSERVE_BASIC_AUTH_LOG_PERIOD_MS',
    arg: 'basic-auth-log-period-ms',
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
  acmeDomains: {
    doc: 'DNS names to obtain and renew one certificate for automatically (ACME, e.g. Let\'s Encrypt): turns HTTPS on without tlsCert/tlsKey (not with them). A comma-separated list or JSON in env/flag.',
    format: 'acme-domains',
    default: [] as string[],
    env: 'FLEETSERVE_ACME_DOMAINS',
    arg: 'acme-domains',
  },
  acmeEmail: {
    doc: 'Contact address given to the ACME CA for the account (expiry notices); "" = none.',
    format: 'acme-email',
    default: '',
    env: 'FLEETSERVE_ACME_EMAIL',
    arg: 'acme-email',
  },
  acmeDirectory: {
    doc: 'The ACME CA\'s directory URL (Let\'s Encrypt production by default; its staging directory is https://acme-staging-v02.api.letsencrypt.org/directory).',
    format: 'https-url',
    default: 'https://acme-v02.api.letsencrypt.org/directory',
    env: 'FLEETSERVE_ACME_DIRECTORY',
    arg: 'acme-directory',
  },
  acmeCaFile: {
    doc: 'PEM CA bundle trusted for the ACME directory\'s own HTTPS (a private or test CA), beside the system\'s; "" = the system\'s CAs only.',
    format: String,
    default: '',
    env: 'FLEETSERVE_ACME_CA_FILE',
    arg: 'acme-ca-file',
  },
  acmeStorage: {
    doc: 'Directory for the ACME account key, certificate keys and certificates (created 0700, files 0600; may be shared by several hosts); "" = $STATE_DIRECTORY when systemd sets it, else ./fleetserve-acme.',
    format: String,
    default: '',
    env: 'FLEETSERVE_ACME_STORAGE',
    arg: 'acme-storage',
  },
  acmeChallenge: {
    doc: 'ACME challenge types, in order of preference: http-01 (answered on httpPort, which it needs) and tls-alpn-01 (answered on the TLS port). A comma-separated list or JSON in env/flag.',
    format: 'acme-challenge',
    default: ['http-01'] as AcmeChallengeType[],
    env: 'FLEETSERVE_ACME_CHALLENGE',
    arg: 'acme-challenge',
  },
  acmeRetryMinMs: {
    doc: 'First delay before a failed ACME order is tried again (doubling up to 24 hours, never giving up); also how often a host waiting on another host\'s order checks the shared storage. At least 1000.',
    format: 'acme-retry-ms',
    default: 60_000,
    env: 'FLEETSERVE_ACME_RETRY_MIN_MS',
    arg: 'acme-retry-min-ms',
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
  http2: {
    doc: 'With HTTPS on, offer HTTP/2 (ALPN h2) beside HTTP/1.1; false offers HTTP/1.1 only. Never on plain HTTP (no h2c).',
    format: 'strict-boolean',
    default: true,
    env: 'FLEETSERVE_HTTP2',
    arg: 'http2',
  },
  http2MaxConcurrentStreams: {
    doc: 'SETTINGS_MAX_CONCURRENT_STREAMS: most streams one HTTP/2 connection has open at once.',
    format: 'positive-number',
    default: 128,
    env: 'FLEETSERVE_HTTP2_MAX_CONCURRENT_STREAMS',
    arg: 'http2-max-concurrent-streams',
  },
};

/** One key's entry in SCHEMA. */
export type KeyDef = { doc: string; format: unknown; default: unknown; env: string; arg: string };
/** Each key's entry by name (SCHEMA itself keeps its exact type, which convict needs). */
export const DEFS: Readonly<Record<string, KeyDef>> = SCHEMA;

/** A true/false key: its flag works alone (`--listing`) and as `--no-listing`. */
export function isBooleanKey(def: KeyDef): boolean {
  return def.format === 'strict-boolean';
}

/** Each key's flag, for the command line. */
export function keyFlags(): KeyFlag[] {
  return Object.entries(DEFS).map(([key, def]) => ({ key, flag: def.arg, ...(isBooleanKey(def) ? { boolean: true } : {}) }));
}
