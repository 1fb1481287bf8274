/**
 * The -w FORMAT of fleetserve-client, as curl spells it: %{variable}, %% and the escapes
 * \n \r \t \\. Parsed once (an unknown variable is a usage error, not an empty string),
 * written after each transfer.
 */

/** What one transfer leaves for -w to print. */
export interface TransferFacts {
  /** 0 when no response arrived (printed as 000, as curl does). */
  httpCode: number;
  sizeDownload: number;
  sizeHeader: number;
  timeTotalMs: number;
  urlEffective: string;
  numRedirects: number;
  contentType: string;
  method: string;
  remoteIp: string;
  remotePort: number;
}

const VARIABLES: Readonly<Record<string, (f: TransferFacts) => string>> = {
  http_code: (f) => String(f.httpCode).padStart(3, '0'),
  response_code: (f) => String(f.httpCode).padStart(3, '0'),
  size_download: (f) => String(f.sizeDownload),
  size_header: (f) => String(f.sizeHeader),
  time_total: (f) => (f.timeTotalMs / 1000).toFixed(6),
  url_effective: (f) => f.urlEffective,
  num_redirects: (f) => String(f.numRedirects),
  content_type: (f) => f.contentType,
  method: (f) => f.method,
  remote_ip: (f) => f.remoteIp,
  remote_port: (f) => String(f.remotePort),
};

export const WRITE_OUT_VARIABLES = Object.keys(VARIABLES);

export type WriteOutPart = string | ((f: TransferFacts) => string);

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '\\': '\\' };

/** Parses a -w format; throws Error with a one-line message when it names an unknown variable. */
export function parseWriteOut(format: string): WriteOutPart[] {
  const parts: WriteOutPart[] = [];
  let text = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c === '\\' && i + 1 < format.length && ESCAPES[format[i + 1]!] !== undefined) {
      text += ESCAPES[format[++i]!];
    } else if (c === '%' && format[i + 1] === '%') {
      text += '%';
      i++;
    } else if (c === '%' && format[i + 1] === '{') {
      const end = format.indexOf('}', i);
      if (end === -1) throw new Error(`-w: unclosed %{ in ${JSON.stringify(format)}`);
      const name = format.slice(i + 2, end);
      const get = VARIABLES[name];
      if (!get) throw new Error(`-w: unknown variable %{${name}} (known: ${WRITE_OUT_VARIABLES.join(', ')})`);
      if (text) parts.push(text);
      text = '';
      parts.push(get);
      i = end;
    } else {
      text += c;
    }
  }
  if (text) parts.push(text);
  return parts;
}

export function renderWriteOut(parts: readonly WriteOutPart[], facts: TransferFacts): string {
  return parts.map((p) => (typeof p === 'string' ? p : p(facts))).join('');
}
