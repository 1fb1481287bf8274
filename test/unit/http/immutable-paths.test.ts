// Unit tests for src/http/immutable-paths.ts: which URL paths get the year-long immutable
// Cache-Control. Names people type must never match (a stale file pinned for a year); the
// names build tools emit should.
import t from 'tap';
import { BUILD_TOOLS_ENTRY, compileImmutablePaths, isBuildToolOutput } from '../../../src/http/immutable-paths';

/** File names a person could have typed: cameras, phones, scans, invoices, CVs, versions, dates. */
const HAND_MADE = [
  'cv-JohnDoe1.pdf',
  'report-Q3Final1.pdf',
  'slides-Week12ab.pdf',
  'photo-DSC01234.jpg',
  'DSC01234.JPG',
  'IMG_20240101_123456.jpg',
  'IMG-20240101-WA0003.jpg', // WhatsApp
  'PXL_20240101_123456789.jpg', // Pixel
  'PXL_20231224_183012345.MP.jpg',
  'DJI_0042.JPG',
  'GOPR0123.MP4',
  'Screenshot 2024-01-01 at 12.34.56.png',
  'Screenshot_20240101-123456.png',
  'scan-20240101.pdf',
  'receipt-20240315a.pdf', // a date and a letter: hex, but after "-"
  'invoice-2024-0042.pdf',
  'invoice-INV20240042.pdf',
  'INV-10042.pdf',
  'manual-v2.1.3.pdf',
  'manual_v2.1.3.pdf',
  'release-1.0.0-rc1.tar.gz',
  'minutes-12feb2024.pdf', // all hex letters and digits
  'minutes-01dec2023.pdf',
  'menu-cafe2024.pdf',
  'talk-face2face.mp4',
  'thesis-final-FINAL2.docx',
  'CV_Jane_Doe_2024.pdf',
  'Lebenslauf-MaxMuster2.pdf',
  'budget-2024Q3.xlsx',
  'slides-Lecture03b.pdf',
  'notes-2024-01-01.md',
  'holiday-Paris2023.jpg',
  'menu-Mar2024b.pdf',
  'team-Berlin24.jpg',
  'logo-Final2ab.png',
  'banner-1920x1080.jpg',
  'icon-512x512.png',
  'favicon-32x32.png',
  'Roboto-Regular.woff2',
  'font-InterVar1.woff2',
  'backup-20240101123000.tar.gz',
  'report.final.v2.pdf',
  'deadbeef.txt',
  '3f9a1c2e.js', // only a hash: no name
  'README.md',
  'index.html',
  'style.css',
  'jquery-3.7.1.min.js',
  'bootstrap.bundle.min.js',
  'app-REPORT24.pdf', // base32-looking, but not a script or a style sheet
];

/** Real build outputs, as the tools name them, at the URL paths they are served from. */
const BUILD_OUTPUTS = [
  '/main.3f9a1c2e8b7d6a5f4e3d.js', // webpack 5 [contenthash] (20)
  '/js/app.3f9a1c2e.js', // Vue CLI [contenthash:8]
  '/js/chunk-vendors.4b3c2a1d.js',
  '/css/app.9f8e7d6c.css',
  '/static/js/main.8a7d0f3c.chunk.js', // Create React App
  '/static/js/2.b5d3c1a9.chunk.js',
  '/static/css/main.5ecd60fb.chunk.css',
  '/static/media/logo.6ce24c58.svg',
  '/static/js/main.8a7d0f3c.js.map',
  '/main.5d41402abc4b2a76.js', // Angular (webpack)
  '/styles.ef46db3751d8e999.css',
  '/main-5ZQ2KOVD.js', // Angular application builder (esbuild)
  '/chunk-WTJ7KXPM.js',
  '/styles-2Y4TQFGC.css',
  '/out/app-QWE3RTY5.js', // esbuild [name]-[hash]
  '/out/app-QWE3RTY5.js.map',
  '/index.975ef6c8.js', // Parcel
  '/index.b8a7d2f1.css',
  '/app-3f9a1c2e8b7d6a5f4e3d.js', // Gatsby
  '/component---src-pages-index-js-8e2d4b3c1a5f6e7d9c0b.js',
  '/assets/index-BQ3x9Kd1.js', // Vite
  '/assets/logo-Dk3_xZ9a.svg',
  '/assets/index-B-x9Kd_1.css',
  '/assets/index-legacy-BQ3x9Kd1.js',
  '/assets/index-BQ3x9Kd1.js.map',
  '/assets/vendor-CuT5mW2q.js',
  '/_next/static/chunks/main-app-a1b2c3d4e5f6a7b8.js', // Next.js
  '/_next/static/chunks/pages/_app-0d1e2f3a4b5c6d7e.js',
  '/_next/static/css/3f9a1c2e8b7d6a5f.css',
  '/_next/static/XyZbuildId123/_buildManifest.js',
  '/_next/static/media/inter.3f9a1c2e.woff2',
  '/_app/immutable/entry/start.BxYz12Ab.js', // SvelteKit
];

t.test('names people type are never build outputs, wherever they are', (t) => {
  t.ok(HAND_MADE.length >= 30);
  for (const name of HAND_MADE) {
    for (const dir of ['/', '/assets/', '/docs/2024/', '/static/media/', '/assets/img/']) {
      t.equal(isBuildToolOutput(dir + name), false, dir + name);
    }
  }
  t.end();
});

t.test('build outputs are recognised', (t) => {
  t.ok(BUILD_OUTPUTS.length >= 15);
  for (const p of BUILD_OUTPUTS) t.equal(isBuildToolOutput(p), true, p);
  t.end();
});

t.test('the edges of each shape', (t) => {
  const cases: [string, boolean, string][] = [
    ['/app.3f9a1c2.js', false, '7 hex characters'],
    ['/app.3f9a1c2e.js', true, '8 after "."'],
    ['/app.deadbeef.js', false, 'no digit'],
    ['/app.12345678.js', false, 'no letter (a number, a date)'],
    ['/app.3F9A1C2E.js', false, 'upper-case hex'],
    ['/app.3f9a1c2e', false, 'the hash is the extension'],
    ['/app.3f9a1c2e.', false, 'an empty extension'],
    ['/.3f9a1c2e.js', false, 'no name before the hash'],
    ['/app.3f9a1c2ez.js', false, 'hex run followed by a letter'],
    ['/assets.3f9a1c2e/app.js', false, 'the hash is in a directory'],
    ['/app-3f9a1c2e8b7d6a5.js', false, '15 hex after "-"'],
    ['/app-3f9a1c2e8b7d6a5f.js', true, '16 hex after "-"'],
    ['/main-5ZQ2KOVD.js', true, 'base32 before .js'],
    ['/main-5ZQ2KOVD.mjs', true, '.mjs'],
    ['/main-5ZQ2KOVD.css.map', true, '.css.map'],
    ['/main-5ZQ2KOVD.png', false, 'base32 before an image'],
    ['/main-UVBQXNPE.js', false, 'base32 without a digit'],
    ['/main-5ZQ2KOV.js', false, '7 base32 characters'],
    ['/main-5ZQ2KOVD1.js', false, '9 characters'],
    ['/main-5ZQ0KOVD.js', false, '0 is not base32'],
    ['/assets/index-BQ3x9Kd1.js', true, 'Vite in /assets/'],
    ['/index-BQ3x9Kd1.js', false, 'a Vite hash outside /assets/'],
    ['/app/assets/index-BQ3x9Kd1.js', false, 'only the top-level /assets/'],
    ['/assets/js/index-BQ3x9Kd1.js', false, 'only directly in /assets/'],
    ['/assets/index.BQ3x9Kd1.js', false, 'Vite separates with "-"'],
    ['/assets/index-BQ3x9Kd.js', false, '7 characters'],
    ['/assets/index-bq3x9kd1.js', false, 'no upper-case letter'],
    ['/assets/index-BQ3X9KD1.js', false, 'no lower-case letter'],
    ['/assets/index-BQxyzKdq.js', false, 'no digit'],
    ['/assets/index-BQ3x9K!1.js', false, 'not base64url'],
    ['/assets/index-BQ3xy9K1.js', true, 'two lower-case letters, not after an upper-case one'],
    ['/assets/index-BQ3Kxy91.js', false, 'an upper-case letter and two lower-case ones: a word'],
    ['/assets/-BQ3x9Kd1.js', false, 'no name'],
    ['/assets/index-BQ3x9Kd1', false, 'no extension'],
    ['/_next/static/x', true, 'anything under /_next/static/'],
    ['/_next/image', false, 'not /_next/ itself'],
    ['/x/_next/static/a.js', false, 'only at the top'],
    ['/_app/immutable/a.js', true, 'SvelteKit'],
    ['/_app/version.json', false, 'SvelteKit keeps that one fresh'],
    ['/', false, 'the root'],
    ['', false, 'nothing'],
  ];
  for (const [p, want, why] of cases) t.equal(isBuildToolOutput(p), want, `${p}: ${why}`);
  t.end();
});

t.test('compileImmutablePaths: the built-in rule, globs, both, and nothing', (t) => {
  const builtIn = compileImmutablePaths([BUILD_TOOLS_ENTRY]);
  const fonts = compileImmutablePaths(['/fonts/**']);
  const both = compileImmutablePaths([BUILD_TOOLS_ENTRY, 'fonts/**', '**/*.woff2']);
  const none = compileImmutablePaths([]);
  const cases: [string, boolean, boolean, boolean][] = [
    // path, built-in, fonts, both
    ['/assets/index-BQ3x9Kd1.js', true, false, true],
    ['/fonts/Roboto-Regular.ttf', false, true, true],
    ['/fonts/sub/a.otf', false, true, true],
    ['/other/fonts/a.otf', false, false, false],
    ['/deep/x.woff2', false, false, true],
    ['/cv-JohnDoe1.pdf', false, false, false],
  ];
  for (const [p, b, f, bo] of cases) {
    t.equal(builtIn(p), b, `built-in ${p}`);
    t.equal(fonts(p), f, `fonts ${p}`);
    t.equal(both(p), bo, `both ${p}`);
    t.equal(none(p), false, `[] ${p}`);
  }
  t.end();
});

t.test('compileImmutablePaths: bad entries throw, naming the entry', (t) => {
  const bad = (entries: unknown[], message: RegExp, why: string): void => {
    t.throws(() => compileImmutablePaths(entries), { message }, why);
  };
  bad([BUILD_TOOLS_ENTRY, ''], /^entry #2 \(""\): must be a non-empty string \(a glob, or "@build-tools"\)$/, 'empty');
  bad([42], /^entry #1: must be a non-empty string/, 'a number');
  bad([null], /^entry #1: must be a non-empty string/, 'null');
  bad(['/a/**', '@build-tool'], /^entry #2 \("@build-tool"\): unknown built-in rule \(the one there is: "@build-tools"\)$/, 'a misspelt built-in');
  bad(['*'.repeat(70_000)], /^entry #1 \("\*+"\): invalid glob: /, 'a glob picomatch rejects');
  t.end();
});
