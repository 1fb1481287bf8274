/**
 * Directory listings (off by default): read a directory, render HTML or JSON. Every name is
 * escaped for HTML and percent-encoded for links, so a file called `<script>` or `a b#c` is
 * shown and linked as itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import { formatHttpDate } from '../http/http-date';
import { escapeHtml } from '../http/respond';

export interface ListingItem {
  name: string;
  directory: boolean;
  size: number;
  mtimeMs: number;
}

/** Directories first, then names in a stable, case-insensitive order. */
export function sortListing(items: ListingItem[]): ListingItem[] {
  return items.sort((a, b) => (a.directory === b.directory ? a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || (a.name < b.name ? -1 : 1) : a.directory ? -1 : 1));
}

export interface ListingOptions {
  /** List names starting with "." (dotfiles: allow). */
  showDotfiles: boolean;
  /** The symlink policy: a link is listed only when a request for it would be served. */
  symlinks: 'follow' | 'inside-root' | 'deny';
  /** The (real) root directory, for the inside-root check. */
  root: string;
}

/**
 * The entries a client could ask for: names hidden by the dotfile policy and links refused by
 * the symlink policy are left out, so a listing never tells the size or date of a file
 * outside the root.
 */
export async function readListing(dir: string, opts: ListingOptions): Promise<ListingItem[]> {
  const names = await fs.promises.readdir(dir);
  const items: ListingItem[] = [];
  for (const name of names) {
    if (!opts.showDotfiles && name.startsWith('.')) continue;
    const full = path.join(dir, name);
    try {
      if (opts.symlinks !== 'follow' && (await fs.promises.lstat(full)).isSymbolicLink()) {
        if (opts.symlinks === 'deny') continue;
        const rel = path.relative(opts.root, await fs.promises.realpath(full));
        if (rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel)) continue;
      }
      const st = await fs.promises.stat(full);
      if (!st.isFile() && !st.isDirectory()) continue;
      items.push({ name, directory: st.isDirectory(), size: st.isFile() ? st.size : 0, mtimeMs: st.mtimeMs });
    } catch {
      // Vanished or a dangling link: not listed.
    }
  }
  return sortListing(items);
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** `urlPath` is the decoded directory path with leading and trailing "/". */
export function renderListing(urlPath: string, items: ListingItem[], format: 'html' | 'json'): Buffer {
  if (format === 'json') {
    return Buffer.from(
      JSON.stringify({
        path: urlPath,
        entries: items.map((i) => ({ name: i.name, type: i.directory ? 'directory' : 'file', size: i.size, modified: new Date(i.mtimeMs).toISOString() })),
      }),
      'utf8',
    );
  }
  const title = `Index of ${escapeHtml(urlPath)}`;
  const rows = items.map((i) => {
    const href = encodeURIComponent(i.name) + (i.directory ? '/' : '');
    const label = escapeHtml(i.name) + (i.directory ? '/' : '');
    return `<tr><td><a href="${escapeHtml(href)}">${label}</a></td><td class="n">${i.directory ? '—' : formatSize(i.size)}</td><td>${formatHttpDate(i.mtimeMs)}</td></tr>`;
  });
  if (urlPath !== '/') rows.unshift('<tr><td><a href="../">../</a></td><td></td><td></td></tr>');
  return Buffer.from(
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:1rem;max-width:60rem}table{border-collapse:collapse;width:100%}
td{padding:.4rem .5rem;border-bottom:1px solid #ddd;word-break:break-all}td.n{text-align:right;white-space:nowrap}
a{display:block}@media (max-width:40rem){td:last-child{display:none}}</style></head>
<body><h1>${title}</h1>
<table>
${rows.join('\n')}
</table></body></html>
`,
    'utf8',
  );
}
