/**
 * Content types of the files a web front end (UI5, SPA bundles) ships. A table instead of a
 * dependency: the list that matters is short, and a wrong guess is answered as octet-stream with
 * `nosniff`, so the browser never executes or renders an unknown type.
 */
const TEXT = '; charset=utf-8';

// A Map, not an object: an extension such as `.constructor` must not reach Object.prototype.
const TYPES: ReadonlyMap<string, string> = new Map(Object.entries({
  html: `text/html${TEXT}`,
  htm: `text/html${TEXT}`,
  js: `text/javascript${TEXT}`, // RFC 9239 §6: text/javascript is the one to use
  mjs: `text/javascript${TEXT}`,
  cjs: `text/javascript${TEXT}`,
  css: `text/css${TEXT}`,
  json: `application/json${TEXT}`,
  map: `application/json${TEXT}`, // source maps
  webmanifest: `application/manifest+json${TEXT}`,
  xml: `application/xml${TEXT}`,
  xsd: `application/xml${TEXT}`,
  svg: `image/svg+xml${TEXT}`,
  txt: `text/plain${TEXT}`,
  csv: `text/csv${TEXT}`,
  md: `text/markdown${TEXT}`,
  // UI5 i18n bundles; UI5 reads them as UTF-8 (ui5.yaml propertiesFileSourceEncoding default since spec 2.0).
  properties: `text/plain${TEXT}`,
  yaml: `application/yaml${TEXT}`,
  yml: `application/yaml${TEXT}`,
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  bmp: 'image/bmp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  eot: 'application/vnd.ms-fontobject',
  pdf: 'application/pdf',
  wasm: 'application/wasm',
  zip: 'application/zip',
  gz: 'application/gzip',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
}));

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The Content-Type for a file name, by its last extension, case-insensitively. */
export function contentTypeFor(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  // A leading dot alone (".htaccess") is a name, not an extension.
  if (dot <= 0) return DEFAULT_CONTENT_TYPE;
  return TYPES.get(base.slice(dot + 1).toLowerCase()) ?? DEFAULT_CONTENT_TYPE;
}

export function isHtml(contentType: string): boolean {
  return contentType.startsWith('text/html');
}
