/**
 * The first bytes of a connection on a TLS port, read before OpenSSL sees them: is it a TLS
 * ClientHello, which server name (SNI) does it carry, and which application protocols (ALPN)
 * does it offer? That is what chooses the certificate of the connection (see acceptor.ts for
 * why SNICallback cannot; it does not see ALPN either, which a TLS-ALPN-01 challenge is chosen
 * by), and what tells a plain-text HTTP request apart so that it can be answered in plain text.
 *
 * Only what the choice needs is parsed (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1): record
 * headers, the handshake header, and the ClientHello's server_name and
 * application_layer_protocol_negotiation extensions. Anything malformed is not refused here:
 * it is handed to OpenSSL (a malformed extension is reported as absent), and OpenSSL answers
 * it with the proper alert. Pure: bytes in, a verdict out.
 */

export type ClientHelloPeek =
  /** Not enough bytes yet to decide. */
  | { readonly kind: 'more' }
  /**
   * A TLS connection (or something for OpenSSL to refuse); serverName null when none was
   * found, alpn null when the ClientHello offers no ALPN list (or a malformed one), else the
   * protocol names in the client's order, as latin1 text.
   */
  | { readonly kind: 'tls'; readonly serverName: string | null; readonly alpn: readonly string[] | null }
  /** Starts with an ASCII letter: a plain-text request (an HTTP method) on the TLS port. */
  | { readonly kind: 'plain-text' };

const HANDSHAKE_RECORD = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_NAME_EXTENSION = 0x0000;
const ALPN_EXTENSION = 0x0010;
const HOST_NAME_TYPE = 0x00;
/** TLSPlaintext.length may not exceed 2^14 (RFC 8446 §5.1). */
const MAX_RECORD = 16384;
/**
 * Most bytes buffered while waiting for a whole ClientHello. Real ones are below 2 KiB (about
 * 1.8 KiB with a post-quantum key share) and fit one record; a longer one is handed over.
 */
export const MAX_CLIENT_HELLO_BYTES = 16384 + 5;

const MORE: ClientHelloPeek = { kind: 'more' };
const UNKNOWN: ClientHelloPeek = { kind: 'tls', serverName: null, alpn: null };

function isAsciiLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Looks at the bytes received so far. */
export function peekClientHello(buf: Buffer): ClientHelloPeek {
  if (buf.length === 0) return MORE;
  const first = buf[0]!;
  if (isAsciiLetter(first)) return { kind: 'plain-text' };
  if (first !== HANDSHAKE_RECORD) return UNKNOWN;
  const hello = reassemble(buf);
  if (hello === 'more') return buf.length >= MAX_CLIENT_HELLO_BYTES ? UNKNOWN : MORE;
  if (hello === null) return UNKNOWN;
  const extensions = extensionsOf(hello);
  if (extensions === null) return UNKNOWN;
  return { kind: 'tls', serverName: extensions.serverName && hostNameOf(extensions.serverName), alpn: extensions.alpn && protocolsOf(extensions.alpn) };
}

/**
 * Most records a ClientHello may be split into before it is handed on unparsed: clients send
 * one (two at most, for a post-quantum key share under a small record limit). The bound keeps
 * each look at the bytes short whatever a client does (one-byte records, say).
 */
export const MAX_CLIENT_HELLO_RECORDS = 64;

/**
 * The ClientHello body from one or more handshake records (a client may split it), 'more' if
 * it is not complete yet, null if the records are not a ClientHello. Bytes are copied only
 * once the whole message is there, and only when it spans records.
 */
function reassemble(buf: Buffer): Buffer | 'more' | null {
  const fragments: Buffer[] = [];
  let have = 0;
  let offset = 0;
  let bodyLength = -1;
  for (;;) {
    if (fragments.length >= MAX_CLIENT_HELLO_RECORDS) return null;
    if (offset + 5 > buf.length) return 'more';
    if (buf[offset] !== HANDSHAKE_RECORD) return null;
    const length = buf.readUInt16BE(offset + 3);
    if (length === 0 || length > MAX_RECORD) return null;
    if (offset + 5 + length > buf.length) return 'more';
    fragments.push(buf.subarray(offset + 5, offset + 5 + length));
    have += length;
    offset += 5 + length;
    if (bodyLength < 0 && have >= 4) {
      const head = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, 4);
      if (head[0] !== CLIENT_HELLO) return null;
      bodyLength = head.readUIntBE(1, 3);
      if (bodyLength + 4 > MAX_CLIENT_HELLO_BYTES) return null;
    }
    if (bodyLength >= 0 && have >= bodyLength + 4) {
      const handshake = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, have);
      return handshake.subarray(4, 4 + bodyLength);
    }
  }
}

/** A cursor over a ClientHello that returns null as soon as a length runs past the end. */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  skip(n: number): boolean {
    if (this.pos + n > this.buf.length) return false;
    this.pos += n;
    return true;
  }
  u8(): number | null {
    return this.pos + 1 <= this.buf.length ? this.buf[this.pos++]! : null;
  }
  u16(): number | null {
    if (this.pos + 2 > this.buf.length) return null;
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  /** Skips a vector whose length prefix is `width` bytes; false when it does not fit. */
  skipVector(width: 1 | 2): boolean {
    const n = width === 1 ? this.u8() : this.u16();
    return n !== null && this.skip(n);
  }
}

/**
 * The bodies of the server_name and ALPN extensions (null where absent), or null when the
 * ClientHello is malformed up to the end of its extensions. The first of each type counts: a
 * ClientHello with a type twice is refused by OpenSSL (RFC 8446 §4.2) whatever is chosen here.
 */
function extensionsOf(hello: Buffer): { serverName: Buffer | null; alpn: Buffer | null } | null {
  const r = new Reader(hello);
  // legacy_version, random, legacy_session_id, cipher_suites, legacy_compression_methods
  if (!r.skip(2 + 32) || !r.skipVector(1) || !r.skipVector(2) || !r.skipVector(1)) return null;
  const extensionsLength = r.u16();
  if (extensionsLength === null || r.pos + extensionsLength > hello.length) return null;
  const end = r.pos + extensionsLength;
  const found: { serverName: Buffer | null; alpn: Buffer | null } = { serverName: null, alpn: null };
  while (r.pos + 4 <= end) {
    const type = r.u16()!;
    const length = r.u16()!;
    if (r.pos + length > end) return null;
    const body = hello.subarray(r.pos, r.pos + length);
    if (type === SERVER_NAME_EXTENSION) found.serverName ??= body;
    else if (type === ALPN_EXTENSION) found.alpn ??= body;
    r.pos += length;
  }
  return found;
}

/** The first host_name entry of a ServerNameList (RFC 6066 §3), as latin1 text. */
function hostNameOf(ext: Buffer): string | null {
  const r = new Reader(ext);
  const listLength = r.u16();
  if (listLength === null || listLength + 2 > ext.length) return null;
  while (r.pos < 2 + listLength) {
    const type = r.u8();
    const length = r.u16();
    if (type === null || length === null || r.pos + length > ext.length) return null;
    if (type === HOST_NAME_TYPE) return length === 0 ? null : ext.toString('latin1', r.pos, r.pos + length);
    r.pos += length;
  }
  return null;
}

/**
 * The ProtocolNameList of an ALPN extension (RFC 7301 §3.1), or null when it is malformed: the
 * list must fill the extension exactly, hold at least one name, and no name may be empty.
 */
function protocolsOf(ext: Buffer): string[] | null {
  const r = new Reader(ext);
  const listLength = r.u16();
  if (listLength === null || listLength === 0 || listLength + 2 !== ext.length) return null;
  const names: string[] = [];
  while (r.pos < ext.length) {
    const length = r.u8()!;
    if (length === 0 || r.pos + length > ext.length) return null;
    names.push(ext.toString('latin1', r.pos, r.pos + length));
    r.pos += length;
  }
  return names;
}
