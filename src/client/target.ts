/**
 * Where the client connects and what it asks for: the URL and HOST PORT PATH forms of the
 * command line, turned into host, port, Host value and request-targets (pure, no I/O).
 */
import { BadUrlError, UnsupportedProtocolError, UsageError } from './errors';

/** Where to connect and what to ask for: the part of the client's options this file reads. */
export interface Target {
  /** Host to connect to: a name or an address, IPv6 without brackets. */
  host: string;
  port: number;
  /** Value of the Host header: the host, bracketed if IPv6, plus ":port" unless it is the scheme's default. */
  authority: string;
  /** Request-targets, in order, each starting with "/". */
  paths: string[];
  /** https://: the connection speaks TLS (the default port is then 443). */
  tls: boolean;
}

/** The positional arguments: URLs (http:// or https://, or without a scheme: http://), or HOST PORT [PATH...]. */
export function parseTarget(positionals: string[]): Target {
  const first = positionals[0];
  if (first === undefined) throw new UsageError('missing URL (or HOST PORT PATH)');
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
      throw new UsageError(`"${arg}" is not a URL; with URLs, every argument must be a URL`);
    }
    if (scheme !== 'http' && scheme !== 'https') {
      throw new UnsupportedProtocolError(`unsupported scheme ${scheme}:// (only http:// and https:// are supported)`);
    }
    let url: URL;
    try {
      url = new URL(arg);
    } catch {
      throw new BadUrlError(`invalid URL "${arg}"`);
    }
    if (url.hostname === '') throw new BadUrlError(`invalid URL "${arg}" (no host)`);
    if (url.username !== '' || url.password !== '') {
      throw new UsageError(`credentials in URLs are not supported; send -H 'Authorization: ...' instead`);
    }
    if (origin === undefined) {
      origin = url.origin;
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      // URL leaves a scheme's default port out of url.port and url.host, as Host wants it.
      const tls = scheme === 'https';
      target = { host, port: url.port === '' ? (tls ? 443 : 80) : Number(url.port), authority: url.host, paths: [], tls };
    } else if (url.origin !== origin) {
      throw new UsageError(`all URLs must share scheme, host and port (one connection): ${url.origin} is not ${origin}`);
    }
    target?.paths.push(url.pathname + url.search);
  }
  return target as Target;
}

function parseHostPort(args: string[]): Target {
  const [rawHost, rawPort, ...rawPaths] = args as [string, ...string[]];
  if (rawPort === undefined) throw new UsageError(`missing PORT after "${rawHost}" (use HOST PORT PATH, or a URL)`);
  const host = rawHost.replace(/^\[(.*)\]$/, '$1');
  if (host === '' || /[\s/?#@\[\]]/.test(host) || (host.includes(':') && !/^[0-9A-Fa-f:.]+$/.test(host))) {
    throw new UsageError(`bad host "${rawHost}"`);
  }
  if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) {
    throw new UsageError(`bad port "${rawPort}" (1 to 65535)`);
  }
  const port = Number(rawPort);
  for (const p of rawPaths) {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p)) throw new UsageError(`cannot mix a URL ("${p}") with HOST PORT PATH`);
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    authority: port === 80 ? hostPart : `${hostPart}:${port}`,
    paths: (rawPaths.length === 0 ? ['/'] : rawPaths).map(toRequestTarget),
    // HOST PORT PATH is plain HTTP: an https:// URL says TLS.
    tls: false,
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
    throw new UsageError(`-O cannot name a file after "${target}" (no usable last path segment); use -o FILE`);
  }
  return name;
}
