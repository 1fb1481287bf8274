/**
 * What the file system says about the configured paths, checked before anything starts (exit
 * 2, the path and where it came from named): the root is a directory (or, without one, which
 * directory is served), the log files and the pid file can be written where they are named.
 * Nothing is created here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import type { Config } from './schema';

/**
 * The directory to serve, real path: the given one (already absolute), which must be a
 * directory, or without one ./site when the working directory has it, else the working
 * directory. A bad one says where it came from (`where`).
 */
export function chooseRoot(given: string, cwd: string, where: string): { root: string; rootChoice?: string } {
  let root = given;
  let rootChoice: string | undefined;
  if (given === '') {
    // Like serve and http-server: a directory without ./site is served itself.
    const site = path.resolve(cwd, 'site');
    root = isDirectory(site) ? site : path.resolve(cwd);
    rootChoice = root === site ? 'no directory given: serving ./site' : 'no ./site here: serving the current directory';
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new ConfigError(`root: ${root} does not exist${where}`);
  }
  if (!st.isDirectory()) throw new ConfigError(`root: ${root} is not a directory${where}`);
  return { root: fs.realpathSync(root), ...(rootChoice ? { rootChoice } : {}) };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A log file path (already absolute: SIGUSR1 reopens it by name, whatever the working
 * directory is by then). Its directory must exist and be writable, and the file, if it
 * exists, must be a writable file: these are configuration mistakes (exit 2), found before
 * anything starts, named with where the path came from. It is not created here; each process
 * opens it for appending when it starts.
 */
function checkLogFile(key: string, file: string, where: string): string {
  if (file === '') return '';
  const dir = path.dirname(file);
  requireDirectory(key, dir, where);
  let fileStat: fs.Stats | null = null;
  try {
    fileStat = fs.statSync(file);
  } catch {
    // Not there yet: it is created when the server starts.
  }
  if (fileStat?.isDirectory()) throw new ConfigError(`${key}: ${file} is a directory${where}`);
  try {
    fs.accessSync(fileStat ? file : dir, fs.constants.W_OK);
  } catch {
    throw new ConfigError(`${key}: ${fileStat ? file : `directory ${dir}`} is not writable${where}`);
  }
  return file;
}

/**
 * The pid file's path, made absolute. It is written as a new file renamed over the path, so
 * what must be writable is its directory; a file already there (a stale one) is replaced.
 */
function checkPidFile(file: string, where: string): string {
  if (file === '') return '';
  const dir = path.dirname(file);
  requireDirectory('pidFile', dir, where);
  if (isDirectory(file)) throw new ConfigError(`pidFile: ${file} is a directory${where}`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new ConfigError(`pidFile: directory ${dir} is not writable${where}`);
  }
  return file;
}

/** The directory a file named by `key` goes in must exist and be one. */
function requireDirectory(key: string, dir: string, where: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new ConfigError(`${key}: directory ${dir} does not exist${where}`);
  }
  if (!st.isDirectory()) throw new ConfigError(`${key}: ${dir} is not a directory${where}`);
}

/** The log files and the pid file, checked in that order; `where(key)` says where each value came from. */
export function checkOutputFiles(values: Config, where: (key: string) => string): Pick<Config, 'accessLogFile' | 'logFile' | 'pidFile'> {
  return {
    accessLogFile: checkLogFile('accessLogFile', values.accessLogFile, where('accessLogFile')),
    logFile: checkLogFile('logFile', values.logFile, where('logFile')),
    pidFile: checkPidFile(values.pidFile, where('pidFile')),
  };
}
