/** The text of fleetserve-client --help; its exit-code list comes from the error catalogue. */
import { EXIT, EXIT_MEANINGS } from './errors';

/** One line a code, as "  22  a response had an HTTP status of 400 or more". */
function exitCodeList(): string {
  return (Object.keys(EXIT) as (keyof typeof EXIT)[])
    .map((name) => `  ${String(EXIT[name]).padEnd(4)}${EXIT_MEANINGS[name]}\n`)
    .join('');
}

export const USAGE = `Usage: fleetserve-client [options] URL [URL...]
       fleetserve-client [options] HOST PORT [PATH...]

Fetches one or more paths from an HTTP/1.1 server over one keep-alive
connection (TLS for https://), as curl does: bodies go to stdout (or the
-o/-O file); -v shows the request and response heads on stderr.

  URL                        [http://]host[:port][/path] or
                             https://host[:port][/path]; several URLs must
                             share scheme, host and port.
  HOST PORT [PATH...]        PATH defaults to "/"; a leading "/" is added.

Options:
  -v, --verbose              show the request, the response head and what the
                             client does on stderr (like curl -v)
  -i, --include              write each response head before its body
  -f, --fail                 do not write the body of a response with a status
                             of 400 or more (the exit code is 22 either way)
  -I, --head                 send HEAD, and print the response head as output
  -X, --request METHOD       send METHOD instead of GET (no request body)
  -L, --location             follow redirects (3xx with Location)
      --max-redirs N         at most N redirects per path (default 10)
  -o, --output FILE          write the bodies to FILE (several are appended in
                             order); "-o -" writes to stdout even when the body
                             is binary and stdout is a terminal
  -O, --remote-name          save each body as the last segment of its path
  -w, --write-out FORMAT     print FORMAT to stdout after each transfer:
                             %{http_code} %{size_download} %{time_total}
                             %{url_effective} %{num_redirects} %{content_type}
                             %{size_header} %{method} %{remote_ip}
                             %{remote_port}, and \\n \\t \\r \\\\ %%
      --compressed           ask for a compressed body (Accept-Encoding) and
                             write it decoded
  -H, --header 'Name: value' add a request header (repeatable); 'Name:' with
                             no value drops the default Host, User-Agent or
                             Accept header
  -s, --silent               no progress bar and no error lines (as curl -s;
                             -v still shows, as in curl -sv)
  -S, --show-error           with -s, still write the error lines (-sS)
      --pipeline             send every request before reading any response
      --connect-timeout MS   give up connecting after MS ms (default 10000;
                             0 waits forever)
      --timeout MS           give up when the server sends nothing for MS ms
                             while a response is due (default 30000; 0 never)
  -m, --max-time SECONDS     give up when one path's transfer (connecting and
                             redirects included) takes longer; fractions such
                             as 0.5 allowed (default 0: no limit)
      --cacert FILE          https://: trust the CA certificates in the PEM
                             FILE instead of the system's
  -k, --insecure             https://: go on when the server's certificate
                             cannot be verified (-v says why)
  -h, --help                 show this help
  -V, --version              show the version

Environment:
  FLEETSERVE_CLIENT_FORCE_PROGRESS=1|0    progress bar as if stderr were (1) or
                                          were not (0) a terminal
  FLEETSERVE_CLIENT_FORCE_STDOUT_TTY=1|0  binary check as if stdout were (1) or
                                          were not (0) a terminal

Exit codes:
${exitCodeList()}`;
