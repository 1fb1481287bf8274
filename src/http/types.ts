import type { FileBody, MultipartBody } from '../files/stream';

/** A parsed HTTP/1.x request head. Built by parse.ts, read by everything after it. */
export interface Request {
  /** Method token exactly as sent (methods are case-sensitive: "get" is not GET). */
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /**
   * The path of the target, still percent-encoded: "/a%20b.html" for "/a%20b.html?x=1",
   * "/x" for the absolute-form "http://host/x", "*" for the asterisk-form.
   */
  path: string;
  /** "" or the query including its "?" ("?x=1"). */
  query: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Field names lower-cased; repeated fields joined with ", " (RFC 9110 §5.3). */
  headers: Record<string, string>;
  /** The Host field value ("" when an HTTP/1.0 request sends none). */
  host: string;
  /** Whether the connection may stay open after the response (RFC 9112 §9.3). */
  keepAlive: boolean;
  /**
   * What a trusted proxy said about the client (X-Forwarded-For, X-Forwarded-Proto from a
   * peer in trustedProxies; forwarded.ts). Absent when nothing was believed: the client is
   * then the connection's remote address and the scheme unknown.
   */
  forwarded?: Forwarded;
}

/** The client as a trusted proxy reported it. */
export interface Forwarded {
  /** The client's address: the rightmost X-Forwarded-For entry that is not a trusted proxy. */
  for: string;
  /** The scheme the client used, from X-Forwarded-Proto; undefined when absent or neither. */
  proto: 'http' | 'https' | undefined;
}

/** Statuses the parser can refuse a request with. */
export type ParseErrorStatus = 400 | 413 | 414 | 431 | 501 | 505;

/**
 * What the access log shows of a request: a whole Request, or what a refused head had
 * already said when its request line was valid (the header fields parsed before the refusal).
 */
export interface LoggedRequest {
  method: string;
  target: string;
  minor: 0 | 1;
  headers: Record<string, string>;
  /** Set on a Request from a trusted proxy (see Request.forwarded); never on a refused head. */
  forwarded?: Forwarded;
  /** "HTTP/2.0" for a stream of an HTTP/2 connection; absent: HTTP/1.`minor`. */
  protocol?: 'HTTP/2.0';
}

export type ParseResult =
  /** Not a whole head yet, and no limit exceeded: read more bytes. */
  | { kind: 'incomplete' }
  /** One whole head; `consumed` counts its bytes from `start`, the final CRLF CRLF included. */
  | { kind: 'request'; request: Request; consumed: number }
  /**
   * Refused: answer `status` with Connection: close, then close. `reason` says why in words,
   * for tests and debugging; it is neither logged nor shown on the error page. `request` is
   * what the head said when its request line was valid (an HTTP/1.x method, target and
   * version), for the access log; null when the request line itself was refused.
   */
  | { kind: 'error'; status: ParseErrorStatus; reason: string; request: LoggedRequest | null };

/** What to send for one request: built by respond.ts, written by the connection. */
export interface Reply {
  status: number;
  /** Header lines other than Date and Connection, each ending in CRLF. */
  headers: string;
  /** null: no body (HEAD, 304, 204). */
  body: Buffer | FileBody | MultipartBody | null;
  /** Close the connection after this response (errors do). */
  close?: boolean;
  /**
   * The whole response (head and body) precomputed for an HTTP/1.1 keep-alive exchange;
   * the connection writes it as is when it is not closing.
   */
  wire?: Buffer;
}

/**
 * Why a response did not complete: the client closed or reset the connection
 * ("client-closed"), it read nothing for sendTimeoutMs ("send-timeout"), the drain deadline
 * cut it ("drain-deadline"), a second stop signal did ("forced"), or its file could not be
 * read to the end ("file-error").
 */
export type CutReason = 'client-closed' | 'send-timeout' | 'drain-deadline' | 'forced' | 'file-error';

/**
 * Which kind of listener a connection came in on: "https" (the main listener with tlsCert),
 * or "http" (a plain main listener, and the httpPort listener beside HTTPS). A fixed set:
 * it is a metrics label.
 */
export type ListenerName = 'http' | 'https';

/**
 * What the listener kind that made a connection knows about it, handed to the connection as
 * data (the request path never asks): the access log writes it, the metrics count by it.
 */
export interface ListenerInfo {
  readonly name: ListenerName;
  /** The TLS version the handshake agreed ("TLSv1.3", "TLSv1.2"); undefined on plain HTTP. */
  readonly tls: string | undefined;
}

/**
 * One access-log record: a response and how long it took, with what an nginx "combined"
 * line holds. A head refused before its request line was valid has "-" for method, path and
 * protocol.
 */
export interface AccessRecord {
  method: string;
  /** The request-target as sent. */
  path: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  protocol: string;
  /**
   * The status of the head handed to the socket. No head was: 499 when the client closed
   * the connection first (nginx's code), 444 when the server did (a cut: nginx's code for
   * closing without a response).
   */
  status: number;
  /**
   * Body bytes the kernel accepted from us (not the planned length): what libuv handed to
   * the kernel minus what it still held, read when the response ended (see outgoing.ts).
   * Exact when the response completed or the server cut it; when a client's reset shows as
   * a failed write, as of the last write that completed before it. Some of them may never
   * have reached a client that went away: a reset discards what the kernels still held.
   */
  bytes: number;
  /** Whether the kernel accepted every byte of the response (head and body). */
  completed: boolean;
  /** Why it did not complete; null when it did. */
  reason: CutReason | null;
  /** From the complete head to the last byte accepted by the kernel, or to the cut. */
  ms: number;
  /** The client: the socket's peer, or who a PROXY header or a trusted proxy's X-Forwarded-For names. */
  remote: string;
  /** The Referer field, "" when absent. */
  referer: string;
  /** The User-Agent field, "" when absent. */
  userAgent: string;
  /** The socket's peer (the proxy) when it is not `remote`; undefined otherwise. */
  peer?: string | undefined;
  /** The client's scheme as a trusted proxy reported it (X-Forwarded-Proto), else undefined. */
  proto?: string | undefined;
  /** The listener that answered. */
  listener: ListenerName;
  /** The connection's TLS version on the HTTPS listener; undefined on plain HTTP. */
  tls?: string | undefined;
}
