/**
 * Static files of `localDir` routes. Streams from disk (no file is ever held in memory whole),
 * answers conditional and single-range requests, and compresses through the same module as
 * proxied responses.
 *
 * Cache-Control: the route's `cacheControl` when set (SAP applies it to static resources only).
 * Without it SAP sends none, and so do we, except for HTML, which gets `no-cache`: with no
 * Cache-Control a browser may reuse a page heuristically for 10% of its age (RFC 9111 §4.2.2), so
 * after a deployment users would keep an old index.html that names old bundles. `no-cache` costs
 * one revalidation that the ETag turns into a bodiless 304.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { realpath } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { CompressionOptions } from '../http/compression.js';
import { compressResponse, isCompressionCandidate } from '../http/compression.js';
import { GatewayError } from '../errors.js';
import { contentTypeFor, isHtml } from './content-type.js';
import { ifRangeMatches, isNotModified, lastModifiedSeconds, parseRange, weakEtag } from './conditional.js';
import type { Resolved } from './resolve.js';
import { decodeStaticPath, isNotFoundError, resolveInside } from './resolve.js';

export interface ServeStaticOptions {
  /** The route's `localDir`, an absolute directory. */
  root: string;
  /** The route-rewritten path below `root`, still percent-encoded (decoded here exactly once). */
  path: string;
  /** The route's `cacheControl`. */
  cacheControl?: string;
  /** routes.json `compression`. */
  compression?: CompressionOptions;
}

const INDEX_FILE = 'index.html';

function notFound(): GatewayError {
  // One answer for every refusal: the client never learns whether a path exists or why it was refused.
  return new GatewayError('ZG_ERR_FILE_NOT_FOUND');
}

function internal(cause: unknown): GatewayError {
  return new GatewayError('ZG_ERR_INTERNAL', 'Static file could not be served', { cause, expose: false });
}

/** The path and query of the URL the client asked for (origin-form, or absolute-form via a proxy). */
function clientPath(req: IncomingMessage): { path: string; query: string } {
  let url = req.url ?? '/';
  if (!url.startsWith('/')) {
    try {
      const parsed = new URL(url);
      url = parsed.pathname + parsed.search;
    } catch {
      url = '/';
    }
  }
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q) };
}

/**
 * Serves one file for a GET or HEAD. Resolves once the response is complete (or the client has
 * gone). Rejects with a GatewayError: ZG_ERR_FILE_NOT_FOUND for anything that is not a readable file
 * inside `root`, ZG_ERR_METHOD_NOT_ALLOWED for other methods, ZG_ERR_INTERNAL (not exposed) for
 * server faults. If the failure happens mid-body, `res.headersSent` is true and `res` has already
 * been destroyed: the caller must not try to render an error then.
 *
 * `req.url` must still be the client's URL: a directory requested without its trailing slash is
 * redirected relative to it, so the index page's relative links resolve inside the directory.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, options: ServeStaticOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', undefined, { headers: { Allow: 'GET, HEAD' } });
  }
  const segments = decodeStaticPath(options.path);
  if (segments === undefined) throw notFound();

  let rootReal: string;
  try {
    rootReal = await realpath(options.root);
  } catch (err) {
    // A localDir that does not exist is the operator's mistake, not the client's.
    throw internal(err);
  }

  let target: Resolved | undefined;
  // The name asked for decides the type, as in every static server, not where a symlink points.
  let name = segments.at(-1) ?? INDEX_FILE;
  try {
    target = await resolveInside(rootReal, segments);
    if (target?.kind === 'directory') {
      const { path, query } = clientPath(req);
      if (!path.endsWith('/')) {
        redirectToDirectory(res, path, query);
        return;
      }
      target = await resolveInside(rootReal, [...segments, INDEX_FILE]);
      name = INDEX_FILE;
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw isNotFoundError(err) ? notFound() : internal(err);
  }
  if (target === undefined || target.kind !== 'file') throw notFound();

  const { handle, stats } = target;
  let handleOwned = true;
  try {
    const contentType = contentTypeFor(name);
    const etag = weakEtag(stats);
    const lastModified = lastModifiedSeconds(stats);
    const headers: OutgoingHttpHeaders = {
      'content-type': contentType,
      etag,
      'last-modified': new Date(lastModified).toUTCString(),
    };
    const cacheControl = options.cacheControl ?? (isHtml(contentType) ? 'no-cache' : undefined);
    if (cacheControl !== undefined) headers['cache-control'] = cacheControl;
    const varies = isCompressionCandidate(
      { method: 'GET', headers: req.headers },
      200,
      { ...headers, 'content-length': stats.size },
      options.compression,
    );

    if (isNotModified(req.headers, etag, lastModified)) {
      if (varies) headers['vary'] = 'Accept-Encoding';
      delete headers['content-type'];
      res.writeHead(304, headers);
      res.end();
      return;
    }

    // A range is always served from the identity bytes; see compressResponse for why compressed
    // responses do not offer ranges.
    const range = ifRangeMatches(headerValue(req.headers['if-range']), lastModified)
      ? parseRange(headerValue(req.headers['range']), stats.size)
      : ({ kind: 'none' } as const);
    if (range.kind === 'unsatisfiable') {
      // RFC 9110 §15.5.17: the size, so the client can ask again; an error like any other of the gateway's.
      throw new GatewayError('ZG_ERR_RANGE_NOT_SATISFIABLE', `The file has ${stats.size} bytes`, { headers: { 'content-range': `bytes */${stats.size}` } });
    }
    if (range.kind === 'range') {
      const partial: OutgoingHttpHeaders = {
        ...headers,
        'content-range': `bytes ${range.start}-${range.end}/${stats.size}`,
        'content-length': range.end - range.start + 1,
        'accept-ranges': 'bytes',
      };
      if (varies) partial['vary'] = 'Accept-Encoding';
      res.writeHead(206, partial);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      handleOwned = false;
      await send(handle.createReadStream({ start: range.start, end: range.end }), res, res);
      return;
    }

    headers['content-length'] = stats.size;
    headers['accept-ranges'] = 'bytes';
    const sink = compressResponse(req, res, 200, headers, options.compression);
    if (req.method === 'HEAD' || stats.size === 0) {
      sink.end();
      await finished(res).catch(() => {});
      return;
    }
    handleOwned = false;
    // `end` pins the body to the length announced, even if the file grows while it is sent.
    await send(handle.createReadStream({ start: 0, end: stats.size - 1 }), sink, res);
  } finally {
    if (handleOwned) await handle.close().catch(() => {});
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `./name/` resolves against the request URL and cannot leave the origin, whatever the path holds. */
function redirectToDirectory(res: ServerResponse, path: string, query: string): void {
  const name = path.slice(path.lastIndexOf('/') + 1);
  res.writeHead(301, { location: `./${name}/${query}`, 'content-length': 0 });
  res.end();
}

const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED']);

/** Streams the body; a client that goes away is not an error, a failing disk is. */
async function send(body: Readable, sink: Writable, res: ServerResponse): Promise<void> {
  try {
    await pipeline(body, sink);
    if (sink !== res) await finished(res);
  } catch (err) {
    res.destroy();
    if (CLIENT_GONE.has(String((err as { code?: unknown } | null)?.code))) return;
    throw internal(err);
  }
}
