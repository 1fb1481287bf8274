/**
 * The symlink policy, once, for everything that touches a path inside the root: a file asked
 * for, its index.html, its precompressed siblings, and each name of a directory listing.
 * `follow` trusts every link; `inside-root` serves a link only when its target is inside the
 * root (contained by path.relative, see resolve.ts); `deny` refuses any link on the way.
 */
import fs from 'node:fs';
import { SymlinkRefusedError } from '../errors';
import { isInsideRoot } from './resolve';

export type SymlinkPolicy = 'follow' | 'inside-root' | 'deny';

/** A path the policy allows, as it is on disk: its real path (unresolved under `follow`) and its stat. */
export interface FoundPath {
  real: string;
  st: fs.Stats;
}

/** stat() under the symlink policy; a refused link rejects with SymlinkRefusedError (answered 404). */
export async function statUnderPolicy(root: string, policy: SymlinkPolicy, filePath: string): Promise<FoundPath> {
  if (policy === 'follow') return { real: filePath, st: await fs.promises.stat(filePath) };
  const real = await fs.promises.realpath(filePath);
  if (policy === 'deny' ? real !== filePath : !isInsideRoot(root, real)) throw new SymlinkRefusedError(`${filePath}: symbolic link refused by policy`);
  return { real, st: await fs.promises.stat(real) };
}
