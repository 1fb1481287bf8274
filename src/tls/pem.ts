/**
 * The certificate blocks of a PEM text, each from its BEGIN line to its END line: what the
 * server reads from tlsCert and tlsCertificates files and the client from --cacert. Parsing
 * each block (X509Certificate) and saying what is wrong is the caller's.
 */
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/** Every PEM certificate block in `text`, in order (none: an empty list). */
export function pemCertificateBlocks(text: string): string[] {
  return text.match(CERT_BLOCK) ?? [];
}
