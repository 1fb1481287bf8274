/**
 * URL path → file path inside the root, or a refusal. Pure: no file system access.
 *
 * The checks run in a fixed order, and the order is the point: decode exactly once (so
 * "%252e" stays the three characters "%2e", never a second chance at ".."), refuse NUL and
 * backslashes, resolve dot segments without ever climbing above the root, hide dotfiles, and
 * finally prove containment with path.relative — not a string prefix, which would let a
 * sibling "site-old/" pass for "site/".
 */
import path from 'node:path';

export type DotfilesPolicy = 'ignore' | 'allow' | 'deny';

export type ResolveResult =
  | {
      kind: 'ok';
      /** Absolute path inside the root. */
      filePath: string;
      /** Decoded, "/"-separated, no leading slash; "" for the root itself. */
      relPath: string;
      /** The raw path ended with "/". */
      trailingSlash: boolean;
    }
  | { kind: 'refuse'; status: 400 | 403 | 404; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Percent-decodes once into UTF-8 text; null when an escape is malformed or the bytes are not UTF-8. */
export function percentDecodeOnce(raw: string): string | null {
  if (raw.indexOf('%') === -1) {
    for (let i = 0; i < raw.length; i++) if (raw.charCodeAt(i) > 0x7e) return null;
    return raw;
  }
  const bytes = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return null;
      bytes[n++] = (hi << 4) | lo;
      i += 2;
    } else if (c > 0x7e) {
      return null; // the parser never lets these through; refuse rather than guess an encoding
    } else {
      bytes[n++] = c;
    }
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    return null;
  }
}

/** Whether `p` is `root` or below it: by path.relative, never a string prefix ("site-old/"). */
export function isInsideRoot(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return !(rel === '..' || rel.startsWith('../') || path.isAbsolute(rel));
}

function refuse(status: 400 | 403 | 404, reason: string): ResolveResult {
  return { kind: 'refuse', status, reason };
}

export type NormalisedPath =
  /** `segments`: decoded, none empty, "." or ".."; `trailingSlash`: the raw path ended with "/". */
  | { kind: 'ok'; segments: string[]; trailingSlash: boolean }
  | { kind: 'refuse'; status: 400; reason: string };

/**
 * The first checks of the path policy, shared by the file lookup and the rules matched
 * before it (redirects, basic auth), so that no spelling of a path ("/%6Fld", "/x/../old",
 * "//old") reaches a file while dodging a rule about it: decoded once, NUL and backslashes
 * refused, empty and "." segments dropped, ".." resolved without ever climbing above "/".
 */
export function normaliseRequestPath(rawPath: string): NormalisedPath {
  if (rawPath.charCodeAt(0) !== 0x2f) return { kind: 'refuse', status: 400, reason: 'path must start with "/"' };
  const decoded = percentDecodeOnce(rawPath);
  if (decoded === null) return { kind: 'refuse', status: 400, reason: 'malformed percent-encoding in path' };
  if (decoded.indexOf('\0') !== -1) return { kind: 'refuse', status: 400, reason: 'NUL byte in path' };
  if (decoded.indexOf('\\') !== -1) return { kind: 'refuse', status: 400, reason: 'backslash in path' };

  const segments: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (segments.length === 0) return { kind: 'refuse', status: 400, reason: 'path escapes the root' };
      segments.pop();
      continue;
    }
    segments.push(seg);
  }
  return { kind: 'ok', segments, trailingSlash: rawPath.charCodeAt(rawPath.length - 1) === 0x2f };
}

/**
 * Maps a request path (still percent-encoded, as http/parse.ts hands it over) to a file path.
 * `root` must be absolute and normalized, without a trailing slash.
 */
export function resolveRequestPath(
  root: string,
  rawPath: string,
  opts: { dotfiles?: DotfilesPolicy } = {},
): ResolveResult {
  const normalised = normaliseRequestPath(rawPath);
  if (normalised.kind === 'refuse') return normalised;
  const { segments, trailingSlash } = normalised;

  const dotfiles = opts.dotfiles ?? 'ignore';
  if (dotfiles !== 'allow') {
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      // RFC 8615: /.well-known/ is meant to be served (ACME challenges, security.txt).
      if (seg.charCodeAt(0) === 0x2e && !(i === 0 && seg === '.well-known')) {
        return dotfiles === 'deny' ? refuse(403, 'dotfile') : refuse(404, 'dotfile');
      }
    }
  }

  const relPath = segments.join('/');
  const filePath = relPath === '' ? root : path.join(root, relPath);
  // Defence in depth: holds even if a rule above had a bug.
  if (!isInsideRoot(root, filePath)) return refuse(400, 'path escapes the root');

  return { kind: 'ok', filePath, relPath, trailingSlash };
}
