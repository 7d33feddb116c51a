/**
 * Validators, conditional requests and byte ranges for static files (RFC 9110 §8.8, §13, §14).
 * Pure functions over header values, so the rules can be read and tested on their own.
 */
import type { Stats } from 'node:fs';

/**
 * Weak (RFC 9110 §8.8.3): size and mtime say "same content" but two writes within one mtime tick
 * could differ; every instance built from the same droplet computes the same tag.
 */
export function weakEtag(stats: Pick<Stats, 'size' | 'mtimeMs'>): string {
  return `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
}

/** HTTP-dates have whole seconds; comparisons must use the same precision as Last-Modified. */
export function lastModifiedSeconds(stats: Pick<Stats, 'mtimeMs'>): number {
  return Math.floor(stats.mtimeMs / 1000) * 1000;
}

function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** Splits an entity-tag list; tags may contain commas inside their quotes. */
function entityTags(value: string): string[] {
  return value.match(/(?:W\/)?"[^"]*"|\*/g) ?? [];
}

/**
 * RFC 9110 §13.2.2 steps 3 and 4 for GET/HEAD: If-None-Match (weak comparison, §13.1.2) decides
 * when present; otherwise If-Modified-Since, ignored when not a valid date or in the future.
 * True means "answer 304".
 */
export function isNotModified(
  headers: { 'if-none-match'?: string | undefined; 'if-modified-since'?: string | undefined },
  etag: string,
  lastModifiedMs: number,
  now: number = Date.now(),
): boolean {
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const tags = entityTags(ifNoneMatch);
    return tags.some((tag) => tag === '*' || opaqueTag(tag) === opaqueTag(etag));
  }
  const ifModifiedSince = headers['if-modified-since'];
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  if (Number.isNaN(since) || since > now) return false;
  return lastModifiedMs <= since;
}

/**
 * RFC 9110 §13.1.5: If-Range needs a strong match. Our entity tags are weak, so an entity-tag
 * If-Range never matches (the full file is sent); a date matches when it equals Last-Modified
 * exactly and that date is at least a second old (§8.8.2.2: only then is it a strong validator).
 */
export function ifRangeMatches(ifRange: string | undefined, lastModifiedMs: number, now: number = Date.now()): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return false;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === lastModifiedMs && now - lastModifiedMs >= 1000;
}

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'unsatisfiable' }
  | { kind: 'range'; start: number; end: number };

/**
 * One `bytes` range (RFC 9110 §14.1.2), `end` inclusive. A header we do not act on (another unit,
 * bad syntax, several ranges) yields `none`: §14.2 lets a server ignore Range and send the whole
 * representation, which is always correct, whereas multipart/byteranges answers are rarely wanted.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'none' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'none' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'none' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (!Number.isSafeInteger(length)) return { kind: 'none' };
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'none' };
  if (last !== '' && end < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}
