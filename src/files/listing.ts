/**
 * Directory listings (off by default): read a directory, render HTML or JSON. Every name is
 * escaped for HTML and percent-encoded for links, so a file called `<script>` or `a b#c` is
 * shown and linked as itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import { formatByteSize } from '../byte-size';
import { escapeHtml, PAGE_STYLE } from '../http/html';
import { statUnderPolicy, type SymlinkPolicy } from './symlink-policy';

export interface ListingItem {
  name: string;
  directory: boolean;
  size: number;
  mtimeMs: number;
}

export interface ListingOptions {
  /** List names starting with "." (dotfiles: allow). */
  showDotfiles: boolean;
  /** The symlink policy: a link is listed only when a request for it would be served. */
  symlinks: SymlinkPolicy;
  /** The (real) root directory, for the inside-root check. */
  root: string;
}

/**
 * The entries a client could ask for: names hidden by the dotfile policy and links refused by
 * the symlink policy are left out, so a listing never tells the size or date of a file
 * outside the root. `dir` is a real path (as the lookup found it).
 */
export async function readListing(dir: string, opts: ListingOptions, by: ListingSort = DEFAULT_SORT): Promise<ListingItem[]> {
  const names = await fs.promises.readdir(dir);
  const items: ListingItem[] = [];
  for (const name of names) {
    if (!opts.showDotfiles && name.startsWith('.')) continue;
    try {
      const { st } = await statUnderPolicy(opts.root, opts.symlinks, path.join(dir, name));
      if (!st.isFile() && !st.isDirectory()) continue;
      items.push({ name, directory: st.isDirectory(), size: st.isFile() ? st.size : 0, mtimeMs: st.mtimeMs });
    } catch {
      // Vanished, a dangling link, or one the policy refuses: not listed.
    }
  }
  return sortListing(items, by);
}

/** A file's size in the listing's Size column. */
export function formatSize(bytes: number): string {
  return formatByteSize(bytes, 'below-ten');
}

/** "2026-11-28 14:03", in UTC: reads like a local date, and is the same for every visitor. */
export function formatListingDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

export type SortKey = 'name' | 'size' | 'date';
export type SortOrder = 'asc' | 'desc';
export interface ListingSort {
  sort: SortKey;
  order: SortOrder;
}

export const DEFAULT_SORT: ListingSort = { sort: 'name', order: 'asc' };
/** The order a column starts in when its header is clicked: names A→Z, the largest and newest first. */
const FIRST_ORDER: Readonly<Record<SortKey, SortOrder>> = { name: 'asc', size: 'desc', date: 'desc' };
const SORT_KEYS: readonly string[] = ['name', 'size', 'date'];

/**
 * Reads `?sort=name|size|date&order=asc|desc` from a listing's query (with its "?"). Other
 * parameters are ignored (a cache-buster must not break a listing); a bad or repeated value of
 * these two is an error, returned as the message for a 400.
 */
export function parseListingQuery(query: string): ListingSort | { error: string } {
  const params = new URLSearchParams(query);
  const sorts = params.getAll('sort');
  const orders = params.getAll('order');
  if (sorts.length > 1 || orders.length > 1) return { error: 'sort and order may each be given once' };
  const sort = sorts[0] ?? DEFAULT_SORT.sort;
  if (!SORT_KEYS.includes(sort)) return { error: `sort must be name, size or date, not ${JSON.stringify(sort)}` };
  const order = orders[0] ?? FIRST_ORDER[sort as SortKey];
  if (order !== 'asc' && order !== 'desc') return { error: `order must be asc or desc, not ${JSON.stringify(order)}` };
  return { sort: sort as SortKey, order };
}

/** Directories stay first (as nginx and serve list them); within each group, the chosen key, then the name. */
export function sortListing(items: ListingItem[], by: ListingSort = DEFAULT_SORT): ListingItem[] {
  const dir = by.order === 'asc' ? 1 : -1;
  const byName = (a: ListingItem, b: ListingItem) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const byKey = by.sort === 'size' ? (a: ListingItem, b: ListingItem) => a.size - b.size : by.sort === 'date' ? (a: ListingItem, b: ListingItem) => a.mtimeMs - b.mtimeMs : byName;
  return items.sort((a, b) => {
    if (a.directory !== b.directory) return a.directory ? -1 : 1;
    return dir * byKey(a, b) || dir * byName(a, b);
  });
}

function sortQuery(by: ListingSort): string {
  return by.sort === DEFAULT_SORT.sort && by.order === DEFAULT_SORT.order ? '' : `?sort=${by.sort}&order=${by.order}`;
}

/** Links to every directory above this one, so a visitor can climb any number of levels. */
function breadcrumbs(urlPath: string): string {
  const parts = urlPath.split('/').slice(1, -1);
  let href = '/';
  const links = [`<a href="/">/</a>`];
  for (const part of parts) {
    href += encodeURIComponent(part) + '/';
    links.push(`<a href="${escapeHtml(href)}">${escapeHtml(part)}/</a>`);
  }
  return links.join('');
}

const LISTING_STYLE = `${PAGE_STYLE}h1 a{text-decoration:none}
table{border-collapse:collapse;width:100%}
th,td{padding:.45rem .5rem;border-bottom:1px solid #8884;text-align:left;vertical-align:top}
th{font-weight:600;white-space:nowrap}th a{color:inherit}
.name{overflow-wrap:anywhere;width:100%}.size{text-align:right}.size,.date{white-space:nowrap}
td.size,td.date{font-variant-numeric:tabular-nums}
td.name a{display:block}
@media (max-width:30rem){body{font-size:14px;padding:0 .25rem}th,td{padding:.4rem .25rem}}`;

/** `urlPath` is the decoded directory path with leading and trailing "/"; `items` are sorted by `by`. */
export function renderListing(urlPath: string, items: ListingItem[], format: 'html' | 'json', by: ListingSort = DEFAULT_SORT): Buffer {
  if (format === 'json') {
    return Buffer.from(
      JSON.stringify({
        path: urlPath,
        entries: items.map((i) => ({ name: i.name, type: i.directory ? 'directory' : 'file', size: i.size, modified: new Date(i.mtimeMs).toISOString() })),
      }),
      'utf8',
    );
  }
  const keep = sortQuery(by);
  const header = (key: SortKey, label: string, cls: string) => {
    const active = by.sort === key;
    const next: ListingSort = { sort: key, order: active ? (by.order === 'asc' ? 'desc' : 'asc') : FIRST_ORDER[key] };
    const arrow = active ? (by.order === 'asc' ? ' ↑' : ' ↓') : '';
    const aria = active ? ` aria-sort="${by.order === 'asc' ? 'ascending' : 'descending'}"` : '';
    return `<th class="${cls}"${aria}><a href="?sort=${next.sort}&amp;order=${next.order}">${label}${arrow}</a></th>`;
  };
  const rows = items.map((i) => {
    // encodeURIComponent leaves no character that could end the path early (#, ?, %) or the attribute.
    const href = encodeURIComponent(i.name) + (i.directory ? '/' + keep : '');
    const label = escapeHtml(i.name) + (i.directory ? '/' : '');
    const iso = new Date(i.mtimeMs).toISOString();
    return `<tr><td class="name"><a href="${escapeHtml(href)}">${label}</a></td><td class="size">${i.directory ? '—' : formatSize(i.size)}</td><td class="date"><time datetime="${iso}">${formatListingDate(i.mtimeMs)}</time></td></tr>`;
  });
  if (urlPath !== '/') rows.unshift(`<tr><td class="name"><a href="${escapeHtml(`../${keep}`)}">../</a></td><td class="size"></td><td class="date"></td></tr>`);
  const title = `Index of ${escapeHtml(urlPath)}`;
  return Buffer.from(
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${LISTING_STYLE}</style></head>
<body><h1>Index of ${breadcrumbs(urlPath)}</h1>
<table>
<thead><tr>${header('name', 'Name', 'name')}${header('size', 'Size', 'size')}${header('date', 'Modified (UTC)', 'date')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></body></html>
`,
    'utf8',
  );
}
