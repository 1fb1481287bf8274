/** The request head the client sends: -H arguments checked and merged into the default fields. */
import { hasControlChar, isToken, trimOws } from '../http/token';
import { UsageError } from './errors';
import type { HeaderField } from './response-grammar';

/** Parses a -H argument; the same rules as a response field, so nothing invalid reaches the wire. */
export function parseHeader(arg: string): HeaderField {
  const colon = arg.indexOf(':');
  const name = colon === -1 ? '' : arg.slice(0, colon);
  if (!isToken(name)) {
    throw new UsageError(`bad header "${arg}" (expected 'Name: value' with a name of letters, digits or !#$%&'*+-.^_\`|~)`);
  }
  const value = trimOws(arg.slice(colon + 1));
  if (hasControlChar(value)) {
    throw new UsageError(`bad header "${name}" (control characters such as CR or LF are not allowed in a value)`);
  }
  return [name, value];
}

export interface BuiltRequest {
  target: string;
  /** The request head, one entry per line, without CRLF. */
  lines: string[];
  bytes: Buffer;
}

/**
 * The request head: defaults first (Accept-Encoding with --compressed), each replaced in place
 * (or dropped, with an empty value) by a -H of the same name.
 */
export function buildRequest(
  method: string,
  target: string,
  authority: string,
  userAgent: string,
  extra: readonly HeaderField[],
  acceptEncoding?: string,
): BuiltRequest {
  const fields: (HeaderField | null)[] = [
    ['Host', authority],
    ['User-Agent', userAgent],
    ['Accept', '*/*'],
  ];
  if (acceptEncoding !== undefined) fields.push(['Accept-Encoding', acceptEncoding]);
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
