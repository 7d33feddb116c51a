/**
 * Content types of static files, from `mime-types` (mime-db: the IANA, Apache and nginx registries,
 * the table Express and most Node servers use), so a front end's fonts, models or images display
 * instead of downloading. An extension it does not know is answered as octet-stream with `nosniff`,
 * so the browser never executes or renders an unknown type.
 */
import { contentType } from 'mime-types';

// Where mime-db's answer is not what a browser loading a web front end needs.
const OVERRIDES: ReadonlyMap<string, string> = new Map([
  // mime-db says application/node; a browser refuses to run a module script of that type.
  ['cjs', 'text/javascript; charset=utf-8'],
  // UI5 i18n bundles, which UI5 reads as UTF-8 (ui5.yaml propertiesFileSourceEncoding default since spec 2.0); mime-db has no entry.
  ['properties', 'text/plain; charset=utf-8'],
]);

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The Content-Type for a file name, by its last extension, case-insensitively. */
export function contentTypeFor(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  // A leading dot alone (".htaccess") is a name, not an extension.
  if (dot <= 0) return DEFAULT_CONTENT_TYPE;
  const extension = base.slice(dot + 1).toLowerCase();
  // mime-types looks extensions up in a null-prototype object: `.constructor` finds nothing.
  return OVERRIDES.get(extension) ?? (contentType(extension) || DEFAULT_CONTENT_TYPE);
}

export function isHtml(contentType: string): boolean {
  return contentType.startsWith('text/html');
}
