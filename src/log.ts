import fs from 'node:fs';

/**
 * Structured JSON logs, one object per line. Never pass tokens, cookies, secrets or passwords in
 * `fields`: the redaction below is a second line of defence, not a licence.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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

const SECRET_KEY = /authorization|cookie|token|secret|password|assertion|code_verifier|^code$/i;

function redact(key: string, value: unknown): unknown {
  return SECRET_KEY.test(key) && typeof value === 'string' ? '[redacted]' : value;
}

/**
 * Redacts top-level fields in place and says whether a nested object needs the (slower) replacer.
 * One log line is written per request, so the common flat record takes the fast path.
 */
const secretKeyNames = new Map<string, boolean>();

/** Field names repeat from line to line: the regex runs once per name (bounded, names are code's). */
function isSecretName(key: string): boolean {
  let secret = secretKeyNames.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key);
    if (secretKeyNames.size < 1000) secretKeyNames.set(key, secret);
  }
  return secret;
}

function redactTopLevel(record: Record<string, unknown>): boolean {
  let nested = false;
  for (const key in record) {
    const value = record[key];
    if (typeof value === 'string') {
      if (isSecretName(key)) record[key] = '[redacted]';
    } else if (typeof value === 'object' && value !== null) {
      nested = true;
    }
  }
  return nested;
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
let lastIso = '';

/** `new Date().toISOString()`, made once per millisecond: many lines share one under load. */
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

let stdoutSink: LogSink | undefined;

/**
 * Standard output, written once per event-loop turn (or per 64 KiB) instead of once per line: with
 * a file or a pipe behind it, every write is a system call on the request path. Lines still pending
 * when the process exits are written synchronously.
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

export function createLogger(options: { level?: Level; sink?: LogSink; base?: Record<string, unknown> } = {}): Logger {
  const min = LEVELS[options.level ?? 'info'];
  const sink = options.sink ?? (stdoutSink ??= batchedStdout());
  const base = options.base ?? {};
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    // Copied key by key rather than spread: a spread into a literal took V8's slow path, measured
    // on the request path (one line per request). Same result: order kept, later keys win.
    const record: Record<string, unknown> = { time: isoTime(), level, msg };
    copyFields(record, base);
    if (fields) copyFields(record, fields);
    sink.write((redactTopLevel(record) ? JSON.stringify(record, redact) : JSON.stringify(record)) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level: options.level, sink, base: { ...base, ...fields } }),
  };
}

/** A logger that keeps its lines, for tests that assert what was (and was not) logged. */
export function createMemoryLogger(level: Level = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, sink: { write: (l: string) => lines.push(l) } });
  return Object.assign(logger, { lines });
}
