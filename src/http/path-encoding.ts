/** Decoded paths made safe for a Location header (redirects, clean URLs, directory slashes). */

/** Percent-encodes each segment of a decoded relative path for a Location header. */
export function encodePathSegments(relPath: string): string {
  return relPath
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()))
    .join('/');
}
