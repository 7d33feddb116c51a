/**
 * Maps a route's rewritten, still percent-encoded path onto a file below the route's `localDir`
 * without ever leaving it. Every refusal looks the same to the caller (undefined / not found), so a
 * probe learns nothing about what exists outside the root or why a path was refused.
 */
import { constants as fsConstants } from 'node:fs';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

/**
 * The path's segments after decoding it exactly once, or undefined when the path is refused:
 * NUL, backslashes (a separator on Windows and in browsers' URL parsers), `..` segments, encoded
 * slashes (`%2f` would let one segment name a nested path), malformed escapes and dot-files (`.env`,
 * `.git/`; `.well-known` excepted, RFC 8615) are all refused. Empty and `.` segments are dropped.
 */
export function decodeStaticPath(encoded: string): string[] | undefined {
  // A query or fragment left by the route's target rewrite is not part of the file path.
  const end = encoded.search(/[?#]/);
  const raw = end === -1 ? encoded : encoded.slice(0, end);
  if (raw.includes('\\') || /%(?:2f|5c|00)/i.test(raw)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return undefined;
    if (segment.startsWith('.') && segment !== '.well-known') return undefined;
    segments.push(segment);
  }
  return segments;
}

export type Resolved =
  | { kind: 'file'; realPath: string; handle: FileHandle; stats: Stats }
  | { kind: 'directory'; realPath: string };

const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EINVAL']);

/** Whether a file-system error means "there is no such file here" rather than a server fault. */
export function isNotFoundError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && NOT_FOUND_CODES.has(String((err as { code?: unknown }).code));
}

function isInside(rootReal: string, candidate: string): boolean {
  if (candidate === rootReal) return true;
  const prefix = rootReal.endsWith(sep) ? rootReal : rootReal + sep;
  return candidate.startsWith(prefix);
}

/**
 * Opens the file or names the directory that `segments` lead to below `rootReal` (the root's own
 * realpath), or undefined when there is none inside the root. Symlinks are followed only as far as
 * their final target stays inside the root. The file is opened with O_NOFOLLOW so a link swapped in
 * after the check is refused, and O_NONBLOCK so a FIFO cannot hang the request; anything but a
 * regular file or directory counts as absent.
 */
export async function resolveInside(rootReal: string, segments: readonly string[]): Promise<Resolved | undefined> {
  let real: string;
  try {
    real = await realpath(join(rootReal, ...segments));
  } catch (err) {
    if (isNotFoundError(err)) return undefined;
    throw err;
  }
  if (!isInside(rootReal, real)) return undefined;

  let handle: FileHandle;
  try {
    const linkStats = await stat(real);
    if (linkStats.isDirectory()) return { kind: 'directory', realPath: real };
    if (!linkStats.isFile()) return undefined;
    handle = await open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    if (isNotFoundError(err)) return undefined;
    throw err;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      return undefined;
    }
    return { kind: 'file', realPath: real, handle, stats };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}
