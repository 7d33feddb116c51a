/**
 * Route sources, TENANT_HOST_PATTERN and redirect-URI patterns run against text the client chooses
 * (URL, Host, redirect_uri), so a regex that backtracks badly is a denial of service one request away
 * (OWASP "ReDoS"): `^/files/(\w?\w?)+$` froze the gateway for 45 s on one 31-character URL.
 *
 * recheck analyses the pattern's automaton (and fuzzes what it cannot analyse) and answers the
 * complexity of a failing match in the input's length. Its verdict is the policy:
 * - exponential: refused, whatever the input length;
 * - polynomial of degree 3 or more: refused (`^/(.*)/(.*)/(.*)$` takes minutes on an 8 KB URL);
 * - quadratic: accepted. Every unanchored source is quadratic (`/backend/(.*)$` is tried at each
 *   offset), SAP's router accepts them and real files are full of them; the bounds on what a pattern
 *   runs against (an 8 KB URL: routing/request-target.ts, a 253-character Host, a 2048-character redirect URI) keep their
 *   worst case in milliseconds.
 * A pattern recheck cannot decide within its time budget is reported as unanalysable (a warning).
 */
import { checkSync } from 'recheck';

export type RegexSafety =
  | { verdict: 'safe' }
  | { verdict: 'unsafe'; complexity: string; attack?: string }
  | { verdict: 'unanalysable'; reason: string };

const ANALYSIS_TIMEOUT_MS = 5000;
/** Verdicts are a pure function of (source, flags): tests and reloads ask for the same ones. */
const verdicts = new Map<string, RegexSafety>();

export function checkRegexSafety(source: string, flags = ''): RegexSafety {
  const key = `${flags}/${source}`;
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = analyse(source, flags);
    verdicts.set(key, verdict);
  }
  return verdict;
}

function analyse(source: string, flags: string): RegexSafety {
  const diagnostics = checkSync(source, flags, { timeout: ANALYSIS_TIMEOUT_MS });
  if (diagnostics.status === 'safe') return { verdict: 'safe' };
  if (diagnostics.status === 'unknown') return { verdict: 'unanalysable', reason: diagnostics.error.kind };
  const { complexity, attack } = diagnostics;
  if (complexity.type === 'polynomial' && complexity.degree <= 2) return { verdict: 'safe' };
  return { verdict: 'unsafe', complexity: complexity.summary, attack: attack.pattern };
}

/** One sentence for a configuration error: what is wrong and what to write instead. */
export function describeUnsafe(source: string, safety: Extract<RegexSafety, { verdict: 'unsafe' }>, input: string): string {
  const example = safety.attack ? `, e.g. ${safety.attack}` : '';
  return (
    `regular expression ${JSON.stringify(source)} may backtrack catastrophically (${safety.complexity} time in the length of a hostile ${input}${example}); ` +
    'expected a pattern without nested or adjacent unbounded repetition, e.g. [^/]* instead of .* between separators'
  );
}
