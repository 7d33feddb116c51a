import fs from 'node:fs';
import { createRequire } from 'node:module';
import pino from 'pino';
import { ERRORS } from './errors.js';
import { LruMap } from './lru-map.js';

/**
 * Structured JSON logs, one object per line, written by pino (the ecosystem's JSON logger: its
 * transports and tools, `pino-pretty` among them, read these lines as they are). Never pass tokens,
 * cookies, secrets or passwords in `fields`: the redaction below is a second line of defence, not a
 * licence.
 *
 * A line: `{"level":"info","time":"<ISO 8601>",<child's fields>,<call's fields>,"msg":"..."}`; a
 * field of the call replaces the child's of the same name in place (no key twice).
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LogSink {
  write(line: string): unknown;
}

/** `json`: one object per line (the default); `pretty`: pino-pretty's coloured text, for people at a terminal. */
export type LogFormat = 'json' | 'pretty';

const SECRET_KEY = /authorization|cookie|token|secret|password|assertion|code_verifier|^code$/i;

/**
 * `code` is the name of an OAuth authorization code (RFC 6749 §4.1.2) and of the gateway's own error
 * code. Only the registered error codes (`ZG_ERR_*`, exact names) are shown; any other value under
 * `code` is redacted, so that an authorization code logged by mistake still is.
 */
function isGatewayErrorCode(key: string, value: string): boolean {
  return key === 'code' && Object.hasOwn(ERRORS, value);
}

function redact(key: string, value: unknown): unknown {
  return typeof value === 'string' && SECRET_KEY.test(key) && !isGatewayErrorCode(key, value) ? '[redacted]' : value;
}

/**
 * pino's own `redact` takes fixed paths; the rule here is a pattern on any key at any depth, so the
 * record is redacted before pino sees it. Field names repeat from line to line: the regex runs once
 * per name (bounded, names are code's).
 */
const secretKeyNames = new LruMap<string, boolean>(1000);

function isSecretName(key: string): boolean {
  let secret = secretKeyNames.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key);
    secretKeyNames.set(key, secret);
  }
  return secret;
}

/**
 * Redacts the record in place. One line is written per request, so the common flat record takes
 * this fast path; nested values are copied through the (slower) replacer, which redacts at any depth.
 */
function redactRecord(record: Record<string, unknown>): Record<string, unknown> {
  for (const key in record) {
    const value = record[key];
    if (typeof value === 'string') {
      if (isSecretName(key) && !isGatewayErrorCode(key, value)) record[key] = '[redacted]';
    } else if (typeof value === 'object' && value !== null) {
      const text = JSON.stringify(value, redact);
      record[key] = text === undefined ? undefined : JSON.parse(text);
    }
  }
  return record;
}

/** What `{ ...record, ...from }` would keep: own enumerable keys, `__proto__` as a plain key. */
function copyFields(record: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const key in from) {
    if (!Object.hasOwn(from, key)) continue;
    if (key === '__proto__') Object.defineProperty(record, key, { value: from[key], enumerable: true, writable: true, configurable: true });
    else record[key] = from[key];
  }
}

let lastMs = Number.NaN;
let lastTime = '';

/** pino's `timestamp` hook: ISO 8601 (pino's isoTime), made once per millisecond: many lines share one under load. */
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

let stdoutJson: LogSink | undefined;
let stdoutPretty: LogSink | undefined;

/**
 * Standard output, written once per event-loop turn (or per 64 KiB) instead of once per line: with
 * a file or a pipe behind it, every write is a system call on the request path. Lines still pending
 * when the process exits are written synchronously.
 *
 * Kept rather than pino's own destination (sonic-boom, asynchronous): measured with 50 request lines
 * per event-loop turn into a pipe, sonic-boom cost ~3.8 µs a line, this ~1.6 µs (README, Operations).
 */
function batchedStdout(): LogSink {
  let pending: string[] = [];
  let size = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    size = 0;
    process.stdout.write(text);
  };
  process.once('exit', () => {
    if (pending.length === 0) return;
    try {
      fs.writeSync(1, pending.join(''));
    } catch {
      // Nothing left to report it to.
    }
  });
  return {
    write(line: string) {
      pending.push(line);
      size += line.length;
      if (size >= 65536) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}

function stdout(format: LogFormat): LogSink {
  if (format === 'json') return (stdoutJson ??= batchedStdout());
  // Loaded only when asked for: people read it, programs read the JSON.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return (stdoutPretty ??= pretty({ destination: 1, sync: true, translateTime: 'SYS:standard' }));
}

export function createLogger(options: { level?: Level; sink?: LogSink; base?: Record<string, unknown>; format?: LogFormat } = {}): Logger {
  const destination = options.sink ?? stdout(options.format ?? 'json');
  const root = pino(
    {
      level: options.level ?? 'info',
      // No pid and hostname: the fields are the gateway's (a platform adds where a line came from).
      base: null,
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination as pino.DestinationStream,
  );
  return loggerWith(root, options.base ?? {});
}

/** One pino logger for a root and all its children: a child only carries the fields it adds. */
function loggerWith(root: pino.Logger, base: Record<string, unknown>): Logger {
  let hasBase = false;
  for (const key in base) if (Object.hasOwn(base, key)) hasBase = true;
  // Copied key by key rather than spread: a spread into a literal took V8's slow path, measured on
  // the request path (one line per request). Same result: order kept, later keys win. The copy also
  // keeps the caller's object out of reach of the redaction.
  const record = (fields: Record<string, unknown> | undefined): Record<string, unknown> => {
    const merged: Record<string, unknown> = {};
    if (hasBase) copyFields(merged, base);
    if (fields) copyFields(merged, fields);
    return redactRecord(merged);
  };
  // Below the level nothing is built (pino's own methods would be no-ops, but after the copy).
  const debugOn = root.isLevelEnabled('debug');
  const infoOn = root.isLevelEnabled('info');
  const warnOn = root.isLevelEnabled('warn');
  return {
    debug(msg, fields) {
      if (debugOn) root.debug(record(fields), msg);
    },
    info(msg, fields) {
      if (infoOn) root.info(record(fields), msg);
    },
    warn(msg, fields) {
      if (warnOn) root.warn(record(fields), msg);
    },
    error(msg, fields) {
      root.error(record(fields), msg);
    },
    child: (fields) => loggerWith(root, { ...base, ...fields }),
  };
}

export interface RepeatedErrorLog {
  /** Logs `msg` at error level, unless the same `key` was logged within the interval: then counts it. */
  error(key: string, msg: string, fields: Record<string, unknown>): void;
  /** Stops the interval timers (at shutdown); counts not yet written are dropped. */
  close(): void;
}

/** How often a series of repeated errors is summed up (10 s: a line per destination and error, at most). */
export const REPEATED_ERROR_INTERVAL_MS = 10_000;

/**
 * Errors that repeat, such as every request to a destination that is down, logged as a series: the
 * first in full, then every `intervalMs` one line with the latest occurrence's fields and how many
 * there were (`repeated`), until an interval passes without any; the next one starts a new series.
 * An outage then writes a few lines, not one per request, and its start is still logged at once.
 */
export function createRepeatedErrorLog(logger: Logger, intervalMs = REPEATED_ERROR_INTERVAL_MS): RepeatedErrorLog {
  interface Series {
    count: number;
    latest: Record<string, unknown>;
    timer: NodeJS.Timeout;
  }
  const open = new Map<string, Series>();
  return {
    error(key, msg, fields) {
      const series = open.get(key);
      if (series) {
        series.count++;
        series.latest = fields;
        return;
      }
      logger.error(msg, fields);
      const started: Series = {
        count: 0,
        latest: fields,
        timer: setInterval(() => {
          if (started.count === 0) {
            clearInterval(started.timer);
            open.delete(key);
            return;
          }
          logger.error(msg, { ...started.latest, repeated: started.count, intervalMs });
          started.count = 0;
        }, intervalMs),
      };
      // A series in progress must not keep the process alive.
      started.timer.unref();
      open.set(key, started);
    },
    close() {
      for (const series of open.values()) clearInterval(series.timer);
      open.clear();
    },
  };
}

/** A logger that keeps its lines, for tests that assert what was (and was not) logged. */
export function createMemoryLogger(level: Level = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, sink: { write: (l: string) => lines.push(l) } });
  return Object.assign(logger, { lines });
}
