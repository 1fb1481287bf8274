#!/usr/bin/env node
/**
 * fleetserve-client: a small curl -v for testing HTTP/1.1 servers.
 * This file only wires process state (argv, env, TTYs) to the modules in ./client/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from './client/args';
import { EXIT } from './client/errors';
import { defaultConnect } from './client/io';
import { run } from './client/run';
import { USAGE } from './client/usage';

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * "1" or "0" in the environment overrides what the stream says about being a
 * terminal, so tests (whose stdio are pipes) can check both behaviours.
 */
function forcedFlag(name: string, actual: boolean | undefined): boolean {
  const value = process.env[name];
  if (value === '1') return true;
  if (value === '0') return false;
  return actual === true;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return EXIT.OK;
    case 'version':
      process.stdout.write(`fleetserve-client ${version()}\n`);
      return EXIT.OK;
    case 'error':
      process.stderr.write(`fleetserve-client: ${parsed.message} (see --help)\n`);
      return parsed.exitCode;
    case 'run':
      return run(parsed.options, {
        stdout: process.stdout,
        stderr: process.stderr,
        stdoutIsTTY: forcedFlag('FLEETSERVE_CLIENT_FORCE_STDOUT_TTY', process.stdout.isTTY),
        progressAllowed: forcedFlag('FLEETSERVE_CLIENT_FORCE_PROGRESS', process.stderr.isTTY),
        columns: process.stderr.columns || 80,
        userAgent: `fleetserve-client/${version()}`,
        connect: defaultConnect,
        now: () => performance.now(),
      });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now, so the process ends on its own; this only guards against a stray handle.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`fleetserve-client: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(EXIT.INTERNAL);
  },
);
