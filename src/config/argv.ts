/**
 * The command line's part of the configuration: fleetserve's flags (from the schema) as
 * [key, value] pairs, the DIRECTORY argument as the root, or help / version; and what a
 * message about a root typed there should add.
 */
import { CommandLineError } from './command-line';
import { ConfigError } from '../errors';
import { keyFlags } from './schema';
import { readServerArgs, type ServerArgs } from './server-args';

/** The command line as [key, value] pairs, the DIRECTORY argument as root; or help / version. */
export function readArgs(argv: readonly string[]): ServerArgs {
  let split: ServerArgs;
  try {
    split = readServerArgs(argv, keyFlags());
  } catch (err) {
    throw err instanceof CommandLineError ? new ConfigError(err.message) : err;
  }
  if (split.kind === 'options' && split.positional !== undefined) {
    if (split.args.some(([key]) => key === 'root')) {
      throw new ConfigError('give the root once: either a directory argument or --root');
    }
    split.args.push(['root', split.positional]);
  }
  return split;
}

/** What to add to a message about a root from the command line. */
export function rootHint(positional: string | undefined, after: string | undefined): string {
  if (positional === undefined || after === undefined) return ' (pass a directory: fleetserve ./public)';
  return ` (after ${after}, ${JSON.stringify(positional)} is read as the directory: ${after} takes only true/false, 1/0, yes/no or on/off as its next word)`;
}
