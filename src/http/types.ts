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
  /** Set by the handler when it answers a second time after the file changed under it. */
  retried?: boolean;
}

/** Statuses the parser can refuse a request with. */
export type ParseErrorStatus = 400 | 413 | 414 | 431 | 501 | 505;

export type ParseResult =
  /** Not a whole head yet, and no limit exceeded: read more bytes. */
  | { kind: 'incomplete' }
  /** One whole head; `consumed` counts its bytes from `start`, the final CRLF CRLF included. */
  | { kind: 'request'; request: Request; consumed: number }
  /** Refused: answer `status` with Connection: close, then close. `reason` is for logs and the page. */
  | { kind: 'error'; status: ParseErrorStatus; reason: string };

/** Bytes of an open file to send: [start, end). The connection closes `fd` when done. */
export interface FileBody {
  kind: 'file';
  fd: number;
  start: number;
  end: number;
}

/** multipart/byteranges from an open file: each part's head, its bytes [start, end), then the tail. */
export interface MultipartBody {
  kind: 'multipart';
  fd: number;
  parts: { head: Buffer; start: number; end: number }[];
  tail: Buffer;
}

/** What to send for one request: decided by the handler, written by the connection. */
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
  /** Why an error happened, for the log. */
  note?: string;
}

/**
 * One access-log record: a response and how long it took, with what an nginx "combined"
 * line holds. Fields refused by the parser ("-" method) have "-" for path and protocol.
 */
export interface AccessRecord {
  method: string;
  /** The request-target as sent. */
  path: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  protocol: string;
  status: number;
  /** Body bytes sent; -1 when the connection failed mid-body. */
  bytes: number;
  /** From the complete head to the last byte handed to the kernel. */
  ms: number;
  remote: string;
  /** The Referer field, "" when absent. */
  referer: string;
  /** The User-Agent field, "" when absent. */
  userAgent: string;
}
