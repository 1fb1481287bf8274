/**
 * Errors that say what the CA answered. acme-client (5.4) reports an error answer by its
 * `detail` alone, losing the RFC 7807 problem type that says what kind of refusal it is
 * (rejectedIdentifier, accountDoesNotExist, rateLimited …); a directory that answers an error
 * as "returned error 500" without the CA's words; an HTML or empty error page as that page's
 * JSON; and a CA it cannot reach, or one that does not answer in time, as "Cannot read
 * properties of undefined (reading 'config')" (its retry interceptor, retries being off, reads
 * the response a network error does not have). So acme-client's HTTP client goes through an
 * adapter of ours: an error answer (status 400 and above) becomes a CaProblem naming the
 * request, the status, the CA's detail and the problem type; a failed request, one naming the
 * request and the cause. badNonce is left to acme-client, which retries it (RFC 8555 §6.5).
 */
import axios, { type AxiosAdapter, type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';

/** An error answer of the CA, or no answer at all (status 0). */
export class CaProblem extends Error {
  readonly code = 'FLEETSERVE_ACME_CA_PROBLEM';
  constructor(
    message: string,
    /** The HTTP status (0: no answer). */
    readonly status: number,
    /** The problem document's type, e.g. urn:ietf:params:acme:error:rejectedIdentifier; null when it had none. */
    readonly type: string | null,
  ) {
    super(message);
    this.name = 'CaProblem';
  }
}

const BAD_NONCE = 'urn:ietf:params:acme:error:badNonce';
/** How much of an answer that is not a problem document is quoted. */
const QUOTE_CHARS = 120;

/** True when `err` is the CA's problem of this type (its last part: `accountDoesNotExist`). */
export function isProblem(err: unknown, type: string): boolean {
  return err instanceof CaProblem && err.type === `urn:ietf:params:acme:error:${type}`;
}

function requestName(config: InternalAxiosRequestConfig): string {
  return `${(config.method ?? 'get').toUpperCase()} ${config.url ?? '?'}`;
}

/** The body as a problem document (RFC 7807), or null when it is none. */
function problemOf(data: unknown): { type: string | null; detail: string | null } | null {
  let doc: unknown = data;
  if (typeof data === 'string') {
    try {
      doc = JSON.parse(data) as unknown;
    } catch {
      return null;
    }
  }
  if (doc === null || typeof doc !== 'object') return null;
  const { type, detail } = doc as { type?: unknown; detail?: unknown };
  if (typeof type !== 'string' && typeof detail !== 'string') return null;
  return { type: typeof type === 'string' ? type : null, detail: typeof detail === 'string' ? detail : null };
}

/** The CaProblem for an error answer. */
export function answerProblem(res: Pick<AxiosResponse, 'status' | 'statusText' | 'data' | 'headers'>, request: string): CaProblem {
  const problem = problemOf(res.data);
  const status = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  if (problem === null) {
    const text = typeof res.data === 'string' ? res.data : res.data === undefined || res.data === null ? '' : JSON.stringify(res.data);
    const quoted = text.trim() === '' ? 'an empty body' : `"${text.replace(/\s+/g, ' ').trim().slice(0, QUOTE_CHARS)}"`;
    return new CaProblem(`the CA answered ${request} with ${status} and no problem document (${String(res.headers['content-type'] ?? 'no content type')}: ${quoted})`, res.status, null);
  }
  const type = problem.type === null ? '' : ` (${problem.type})`;
  return new CaProblem(`the CA answered ${request} with ${status}: ${problem.detail ?? 'no detail'}${type}`, res.status, problem.type);
}

/** The CaProblem for a request that got no answer: refused, reset, timed out, or its TLS failed. */
export function unansweredProblem(err: unknown, request: string): CaProblem {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const cause = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? `no answer in time: ${message}` : code !== '' && !message.includes(code) ? `${code}: ${message}` : message;
  return new CaProblem(`the CA did not answer ${request} (${cause})`, 0, null);
}

/** Puts the adapter in front of `client`'s own (acme-client's axios instance); once per instance. */
export function explainCaAnswers(client: AxiosInstance): void {
  const marked = client.defaults as { fleetserveExplained?: boolean };
  if (marked.fleetserveExplained === true) return;
  marked.fleetserveExplained = true;
  const inner: AxiosAdapter = axios.getAdapter(client.defaults.adapter);
  client.defaults.adapter = async (config) => {
    let res: AxiosResponse;
    try {
      res = await inner(config);
    } catch (err) {
      if (axios.isCancel(err)) throw err;
      const answered = (err as { response?: AxiosResponse }).response;
      if (answered === undefined) throw unansweredProblem(err, requestName(config));
      res = answered;
    }
    if (res.status < 400 || problemOf(res.data)?.type === BAD_NONCE) return res;
    throw answerProblem(res, requestName(config));
  };
}
