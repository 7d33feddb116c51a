/**
 * Route sources and TENANT_HOST_PATTERN run against text the client chooses (URL, Host), so a regex
 * that backtracks badly is a denial of service one request away (OWASP "ReDoS"):
 * `^/files/(\w?\w?)+$` froze the gateway for 45 s on one 31-character URL.
 *
 * recheck analyses the pattern's automaton (and fuzzes what it cannot analyse) and answers the
 * complexity of a failing match in the input's length. Its verdict is the policy:
 * - exponential: refused, whatever the input length;
 * - polynomial of degree 3 or more: refused (`^/(.*)/(.*)/(.*)$` takes minutes on an 8 KB URL);
 * - quadratic: accepted. Every unanchored source is quadratic (`/backend/(.*)$` is tried at each
 *   offset), SAP's router accepts them and real files are full of them; the bounds on what a pattern
 *   runs against (an 8 KB URL: routing/request-target.ts, a 253-character Host) keep their worst case
 *   in milliseconds.
 * A pattern recheck cannot decide within its time budget is reported as unanalysable (a warning).
 *
 * The analysis runs in a short-lived child process, once per configuration load for all its patterns:
 * recheck is a 5 MB Scala.js program whose synchronous API keeps a worker thread with a second copy
 * of it, about 75 MB of a long-running gateway's memory for a check made once at start-up.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

export type RegexSafety =
  | { verdict: 'safe' }
  | { verdict: 'unsafe'; complexity: string; attack?: string }
  | { verdict: 'unanalysable'; reason: string };

export interface RegexToCheck {
  source: string;
  flags?: string;
}

const ANALYSIS_TIMEOUT_MS = 5000;
/** Verdicts are a pure function of (source, flags): tests and reloads ask for the same ones. */
const verdicts = new Map<string, RegexSafety>();
const keyOf = (r: RegexToCheck) => `${r.flags ?? ''}/${r.source}`;

/** What the child answers per pattern: recheck's diagnostics, reduced to what the policy reads. */
interface Diagnosis {
  status: 'safe' | 'vulnerable' | 'unknown';
  complexity?: { type: string; summary: string; degree?: number };
  attack?: string;
  error?: string;
}

// Reads [[source, flags], ...] on stdin, answers Diagnosis[] on stdout. recheck picks its fastest
// backend itself (its native binary where the platform package is installed).
const CHILD = `
const { check } = require(process.argv[1]);
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const out = [];
  for (const [source, flags] of JSON.parse(input)) {
    const d = await check(source, flags, { timeout: ${ANALYSIS_TIMEOUT_MS} });
    out.push({ status: d.status, complexity: d.complexity, attack: d.attack && d.attack.pattern, error: d.error && d.error.kind });
  }
  process.stdout.write(JSON.stringify(out), () => process.exit(0));
});
`;

function pendingOf(patterns: readonly RegexToCheck[]): RegexToCheck[] {
  return [...new Map(patterns.filter((p) => !verdicts.has(keyOf(p))).map((p) => [keyOf(p), p])).values()];
}

function childOptions(pending: readonly RegexToCheck[]) {
  return { encoding: 'utf8' as const, timeout: 30_000 + pending.length * ANALYSIS_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 };
}

function record(pending: readonly RegexToCheck[], child: { ok: boolean; stdout: string; stderr: string; failure: string | undefined }): void {
  let diagnoses: Diagnosis[] | undefined;
  try {
    if (child.ok) diagnoses = JSON.parse(child.stdout) as Diagnosis[];
  } catch {
    diagnoses = undefined;
  }
  pending.forEach((p, i) => {
    const d = diagnoses?.[i];
    verdicts.set(keyOf(p), d ? policy(d) : { verdict: 'unanalysable', reason: `the analyser failed (${child.failure ?? (child.stderr.trim().split('\n').pop() || 'no answer')})` });
  });
}

/** Analyses every pattern not yet known, in one child process; later checkRegexSafety calls are answered from memory. */
export function analyseRegexes(patterns: readonly RegexToCheck[]): void {
  const pending = pendingOf(patterns);
  if (pending.length === 0) return;
  const child = spawnSync(process.execPath, ['-e', CHILD, createRequire(import.meta.url).resolve('recheck')], {
    input: JSON.stringify(pending.map((p) => [p.source, p.flags ?? ''])),
    ...childOptions(pending),
  });
  record(pending, { ok: child.status === 0, stdout: child.stdout, stderr: child.stderr, failure: child.error?.message ?? (child.status === 0 ? undefined : `exit ${child.status}`) });
}

/**
 * analyseRegexes without blocking the event loop, for a running server (the admin API checks a
 * client's redirect expressions while the gateway keeps serving); checkRegexSafety then answers from memory.
 */
export async function analyseRegexesInBackground(patterns: readonly RegexToCheck[]): Promise<void> {
  const pending = pendingOf(patterns);
  if (pending.length === 0) return;
  const outcome = await new Promise<{ ok: boolean; stdout: string; stderr: string; failure: string | undefined }>((resolve) => {
    const child = execFile(process.execPath, ['-e', CHILD, createRequire(import.meta.url).resolve('recheck')], childOptions(pending), (err, stdout, stderr) =>
      resolve({ ok: !err, stdout, stderr, failure: err?.message }),
    );
    child.stdin?.end(JSON.stringify(pending.map((p) => [p.source, p.flags ?? ''])));
  });
  record(pending, outcome);
}

export function checkRegexSafety(source: string, flags = ''): RegexSafety {
  analyseRegexes([{ source, flags }]);
  return verdicts.get(keyOf({ source, flags }))!;
}

function policy(d: Diagnosis): RegexSafety {
  if (d.status === 'safe') return { verdict: 'safe' };
  if (d.status === 'unknown' || d.complexity === undefined) return { verdict: 'unanalysable', reason: d.error ?? 'unknown' };
  if (d.complexity.type === 'polynomial' && (d.complexity.degree ?? 0) <= 2) return { verdict: 'safe' };
  return { verdict: 'unsafe', complexity: d.complexity.summary, ...(d.attack ? { attack: d.attack } : {}) };
}

/** One sentence for a configuration error: what is wrong and what to write instead. */
export function describeUnsafe(source: string, safety: Extract<RegexSafety, { verdict: 'unsafe' }>, input: string): string {
  const example = safety.attack ? `, e.g. ${safety.attack}` : '';
  return (
    `regular expression ${JSON.stringify(source)} may backtrack catastrophically (${safety.complexity} time in the length of a hostile ${input}${example}); ` +
    'expected a pattern without nested or adjacent unbounded repetition, e.g. [^/]* instead of .* between separators'
  );
}
