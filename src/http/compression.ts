/**
 * Response compression for everything the gateway sends: static files and proxied responses.
 * Negotiation follows RFC 9110 §12.5.3 (Accept-Encoding); the switches mirror the `compression`
 * section of SAP's xs-app.json (`enabled`, default true; `minSize` in bytes, default 1024;
 * `compressResponseMixedTypeContent`, default false), and like SAP's approuter a backend opts out
 * with `Cache-Control: no-transform` (RFC 9111 §5.2.2.6).
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream';
import { constants as zlib, createBrotliCompress, createGzip } from 'node:zlib';
import { LruMap } from '../lru-map.js';

/** Mirrors routes.json `compression`. */
export interface CompressionOptions {
  /** Default true, as SAP's approuter. */
  enabled?: boolean;
  /** Bytes; a response whose Content-Length is below this is sent as is. Default 1024. */
  minSize?: number;
  /** Compress `multipart/mixed` (OData $batch) answers too. Default false, as SAP. */
  compressResponseMixedTypeContent?: boolean;
}

export type ContentCoding = 'br' | 'gzip';

/** Only what the decision reads, so callers and tests can pass any request-like object. */
export type RequestHead = Pick<IncomingMessage, 'method' | 'headers'>;

const DEFAULT_MIN_SIZE = 1024;

/**
 * The coding to use for a request's Accept-Encoding, or undefined for identity.
 * - No header: identity. RFC 9110 §12.5.3 would allow any coding, but clients that can decode
 *   always say so, and old tools that send nothing rarely can.
 * - `*` stands for every coding not listed; `x-gzip` is gzip (RFC 9110 §8.4.1.3).
 * - Ties go to br (smaller output for the same cost at the levels used here).
 * - identity not listed ranks below every listed coding (as the `negotiator` package does); an
 *   explicit identity with a higher q than the best coding wins.
 */
export function negotiateEncoding(acceptEncoding: string | undefined): ContentCoding | undefined {
  if (acceptEncoding === undefined) return undefined;
  const q = new Map<string, number>();
  for (const element of acceptEncoding.split(',')) {
    const [rawName = '', ...params] = element.split(';');
    let name = rawName.trim().toLowerCase();
    if (name === '') continue;
    if (name === 'x-gzip') name = 'gzip';
    let weight = 1;
    for (const param of params) {
      const [key = '', value = ''] = param.split('=').map((s) => s.trim());
      if (key.toLowerCase() !== 'q') continue;
      // RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
      weight = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value) ? Number(value) : Number.NaN;
    }
    if (Number.isNaN(weight)) continue;
    // A coding listed twice keeps its most favourable weight.
    q.set(name, Math.max(weight, q.get(name) ?? 0));
  }
  const star = q.get('*');
  const weightOf = (coding: string) => q.get(coding) ?? star ?? 0;
  const br = weightOf('br');
  const gzip = weightOf('gzip');
  const best = Math.max(br, gzip);
  if (best <= 0) return undefined;
  const identity = q.get('identity');
  if (identity !== undefined && identity > best) return undefined;
  return br >= gzip ? 'br' : 'gzip';
}

/** Case-insensitive header lookup; Node lower-cases incoming names but callers may build their own. */
/**
 * Header lookup by lower-case name. Every caller passes lower-case keys (Node's parsed headers,
 * and objects this module or the static server build), so it is a property read per lookup.
 */
function header(headers: OutgoingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/**
 * Media types worth compressing. Images, audio, video, archives and woff/woff2 are already
 * compressed; SVG, ICO (bitmaps) and TrueType/OpenType fonts are not.
 */
const mediaTypes = new LruMap<string, string>(256);

/** `text/html; charset=utf-8` -> `text/html`, remembered: a backend sends few distinct values. */
function mediaTypeOf(contentType: string): string {
  let type = mediaTypes.get(contentType);
  if (type === undefined) {
    type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
    mediaTypes.set(contentType, type);
  }
  return type;
}

function isCompressibleType(contentType: string, options: CompressionOptions): boolean {
  const type = mediaTypeOf(contentType);
  // Server-sent events must reach the client event by event; a compressor would hold them back.
  if (type === 'text/event-stream') return false;
  if (type === 'multipart/mixed') return options.compressResponseMixedTypeContent === true;
  if (type.startsWith('text/')) return true;
  if (type.endsWith('+json') || type.endsWith('+xml')) return true;
  return COMPRESSIBLE.has(type);
}

const COMPRESSIBLE = new Set([
  'application/json',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  'application/wasm',
  'application/x-ndjson',
  'application/yaml',
  'application/x-yaml',
  'application/graphql',
  'application/x-www-form-urlencoded',
  'application/vnd.ms-fontobject',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/bmp',
  'font/ttf',
  'font/otf',
]);

/**
 * Everything but Accept-Encoding: whether the answer depends on the client's codings, so caches
 * must be told `Vary: Accept-Encoding` (also on a 304 for such a resource, RFC 9110 §15.4.5).
 */
export function isCompressionCandidate(
  req: RequestHead,
  statusCode: number,
  headers: OutgoingHttpHeaders,
  options: CompressionOptions = {},
): boolean {
  return candidate(req, statusCode, lowerCaseKeys(headers), options);
}

/** Header names as the lookups here expect them; a caller's object is not changed. */
function lowerCaseKeys(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const key in headers) {
    const value = headers[key];
    if (value !== undefined) out[key.toLowerCase()] = value;
  }
  return out;
}

function candidate(req: RequestHead, statusCode: number, headers: OutgoingHttpHeaders, options: CompressionOptions): boolean {
  if (options.enabled === false) return false;
  if (req.method === 'HEAD') return false;
  // 206 carries byte ranges of the identity representation (RFC 9110 §14.4); 1xx/204/304 have no body.
  if (statusCode < 200 || statusCode === 204 || statusCode === 206 || statusCode === 304) return false;
  const encoding = header(headers, 'content-encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return false;
  if (header(headers, 'content-range') !== undefined) return false;
  const contentType = header(headers, 'content-type');
  if (contentType === undefined || !isCompressibleType(contentType, options)) return false;
  // no-transform from the backend (RFC 9111 §5.2.2.6) or from the client (§5.2.1.6).
  if (/(?:^|,)\s*no-transform\s*(?:,|$)/i.test(header(headers, 'cache-control') ?? '')) return false;
  if (/(?:^|,)\s*no-transform\s*(?:,|$)/i.test(header(req.headers, 'cache-control') ?? '')) return false;
  const length = header(headers, 'content-length');
  if (length !== undefined && /^\d+$/.test(length.trim()) && Number(length) < (options.minSize ?? DEFAULT_MIN_SIZE)) {
    return false;
  }
  return true;
}

/** Whether this response will be compressed (decided from its head, before the body is known). */
export function shouldCompress(
  req: RequestHead,
  statusCode: number,
  headers: OutgoingHttpHeaders,
  options: CompressionOptions = {},
): boolean {
  return isCompressionCandidate(req, statusCode, headers, options) && negotiateEncoding(header(req.headers, 'accept-encoding')) !== undefined;
}

/** Header names compressResponse rewrites; values already put on `res` with setHeader are folded in. */
const REWRITTEN = ['content-length', 'content-encoding', 'vary', 'etag', 'accept-ranges'] as const;

function mergeVary(existing: string | undefined): string {
  if (existing === undefined || existing.trim() === '') return 'Accept-Encoding';
  const names = existing.split(',').map((s) => s.trim().toLowerCase());
  if (names.includes('*') || names.includes('accept-encoding')) return existing;
  return `${existing}, Accept-Encoding`;
}

/**
 * Writes the response head and returns the stream to pipe the body into: a compressor piped into
 * `res`, or `res` itself when the response is sent as is. Ends (and failures) propagate both ways:
 * a client that goes away destroys the compressor, so the caller's pipeline stops its source.
 *
 * `headers` are the response's headers (e.g. a backend's `proxyRes.headers`, hop-by-hop fields
 * already removed); headers set earlier with `res.setHeader` are kept.
 */
export function compressResponse(
  req: RequestHead,
  res: ServerResponse,
  statusCode: number,
  headers: OutgoingHttpHeaders,
  options: CompressionOptions = {},
): Writable {
  return compressOwnHeaders(req, res, statusCode, lowerCaseKeys(headers), options);
}

/**
 * compressResponse for a caller that hands over a fresh header object with lower-case names (the
 * proxy's, built per response): it is used and changed in place rather than copied.
 */
export function compressOwnHeaders(
  req: RequestHead,
  res: ServerResponse,
  statusCode: number,
  out: OutgoingHttpHeaders,
  options: CompressionOptions = {},
): Writable {
  for (const name of REWRITTEN) {
    const preset = res.getHeader(name);
    if (preset === undefined) continue;
    // The headers given for this response override what an earlier stage set, as writeHead does.
    if (out[name] === undefined) (out as Record<string, typeof preset>)[name] = preset;
    res.removeHeader(name);
  }

  const eligible = candidate(req, statusCode, out, options);
  if (eligible) out['vary'] = mergeVary(header(out, 'vary'));
  const coding = eligible ? negotiateEncoding(header(req.headers, 'accept-encoding')) : undefined;
  if (coding === undefined) {
    res.writeHead(statusCode, out);
    return res;
  }

  const length = header(out, 'content-length');
  const size = length !== undefined && /^\d+$/.test(length.trim()) ? Number(length) : undefined;
  delete out['content-length'];
  // Ranges would have to address the encoded bytes, which are not reproducible for dynamic compression.
  delete out['accept-ranges'];
  out['content-encoding'] = coding;
  const etag = header(out, 'etag');
  // The encoded bytes differ from the identity ones: a strong validator would lie (RFC 9110 §8.8.1).
  if (etag !== undefined && !etag.startsWith('W/')) out['etag'] = `W/${etag}`;

  // Unknown length means the body is being streamed (a backend writing as it goes): flush every
  // chunk as it arrives so the client is never kept waiting for the compressor's buffer to fill.
  // Chunks from a fast source are large, so the cost to the ratio is small. Known lengths (files,
  // buffered backend answers) compress in one go.
  const streaming = size === undefined;
  const encoder =
    coding === 'br'
      ? createBrotliCompress({
          flush: streaming ? zlib.BROTLI_OPERATION_FLUSH : zlib.BROTLI_OPERATION_PROCESS,
          params: {
            // Quality 4: fast enough for per-request compression, about gzip -9's ratio.
            [zlib.BROTLI_PARAM_QUALITY]: 4,
            // A 512 KiB window instead of the default 4 MiB bounds memory per concurrent response.
            [zlib.BROTLI_PARAM_LGWIN]: 19,
            [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
            // The hint is a 32-bit parameter; beyond 1 GiB it no longer changes the encoder's choices.
            ...(size !== undefined ? { [zlib.BROTLI_PARAM_SIZE_HINT]: Math.min(size, 2 ** 30) } : {}),
          },
        })
      : createGzip({ level: 6, flush: streaming ? zlib.Z_SYNC_FLUSH : zlib.Z_NO_FLUSH });

  res.writeHead(statusCode, out);
  // Errors are reported to whoever pipes into `encoder` (it is destroyed with them); nothing to add here.
  pipeline(encoder, res, () => {});
  return encoder;
}
