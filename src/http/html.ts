/** What every built-in HTML page shares: escaping and the look (error pages, the listing). */

/** Text made safe inside HTML elements and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The look every built-in page shares (the listing adds its table): the system font, a
 * readable width, light or dark as the browser prefers (color-scheme: the browser's own
 * colours, no palette of ours to keep in step).
 */
export const PAGE_STYLE = `:root{color-scheme:light dark}
body{font:16px/1.4 system-ui,sans-serif;margin:1rem auto;padding:0 1rem;max-width:60rem}
h1{font-size:1.25rem;font-weight:600;overflow-wrap:anywhere}`;
