/**
 * ACME Renewal Information (RFC 9773): a CA that offers `renewalInfo` in its directory says
 * for each certificate the window in which to renew it — earlier than two thirds of its
 * lifetime when the CA has to revoke certificates, later to spread its load. The certificate
 * is named by its CertID (§4.1): base64url of the Authority Key Identifier's keyIdentifier, a
 * dot, base64url of the serial number's DER content octets. The extension is read by
 * @peculiar/x509 (what acme-client reads certificates with), not by hand.
 */
import crypto from 'node:crypto';
import { AuthorityKeyIdentifierExtension, X509Certificate } from '@peculiar/x509';

/** A suggested renewal window (ms since the epoch), and when to ask again (Retry-After), if said. */
export interface RenewalWindow {
  start: number;
  end: number;
  retryAfterMs: number | null;
}

/** What renewal-info needs of an HTTP client: a JSON GET (acme-client's configured axios in the process). */
export type JsonGet = (url: string) => Promise<{ status: number; data: unknown; headers: Record<string, unknown> }>;

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** The CertID of the first certificate in `pem`; null when it has no Authority Key Identifier. */
export function certId(pem: string): string | null {
  const leaf = new crypto.X509Certificate(pem); // the first certificate of the text, whatever precedes it
  const cert = new X509Certificate(leaf.raw);
  const keyId = cert.getExtension(AuthorityKeyIdentifierExtension)?.keyId;
  if (keyId === undefined || keyId === '') return null;
  // The serial's DER content octets: a positive INTEGER gets a leading zero octet when its
  // high bit is set (Node and @peculiar give the hex without it).
  let serial = leaf.serialNumber;
  if (serial.length % 2 === 1) serial = `0${serial}`;
  if (parseInt(serial.slice(0, 2), 16) >= 0x80) serial = `00${serial}`;
  return `${base64url(Buffer.from(keyId, 'hex'))}.${base64url(Buffer.from(serial, 'hex'))}`;
}

/** The directory's renewalInfo URL, or null when the CA offers none. */
export async function renewalInfoUrl(directoryUrl: string, get: JsonGet): Promise<string | null> {
  const res = await get(directoryUrl);
  const url = (res.data as { renewalInfo?: unknown } | null)?.renewalInfo;
  return typeof url === 'string' && url !== '' ? url : null;
}

/** Retry-After in ms: seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function retryAfterMs(value: unknown, now: number): number | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The CA's window for the certificate `pem`; null when the CA offers no renewal information
 * or the certificate has no CertID. Throws on an answer that is not a window (the caller
 * keeps its own schedule).
 */
export async function fetchRenewalWindow(directoryUrl: string, pem: string, get: JsonGet, now: number = Date.now()): Promise<RenewalWindow | null> {
  const id = certId(pem);
  if (id === null) return null;
  const base = await renewalInfoUrl(directoryUrl, get);
  if (base === null) return null;
  const res = await get(`${base.replace(/\/$/, '')}/${id}`);
  if (res.status !== 200) throw new Error(`renewalInfo answered ${res.status}`);
  const window = (res.data as { suggestedWindow?: { start?: unknown; end?: unknown } } | null)?.suggestedWindow;
  const start = typeof window?.start === 'string' ? Date.parse(window.start) : NaN;
  const end = typeof window?.end === 'string' ? Date.parse(window.end) : NaN;
  if (Number.isNaN(start) || Number.isNaN(end) || end < start) throw new Error(`renewalInfo gave no usable suggestedWindow (${JSON.stringify(window)})`);
  return { start, end, retryAfterMs: retryAfterMs(res.headers['retry-after'], now) };
}

/** A moment chosen uniformly in the window (RFC 9773 §4.2), as the CA asks. */
export function timeInWindow(w: Pick<RenewalWindow, 'start' | 'end'>, random: number): number {
  return w.start + (w.end - w.start) * random;
}
