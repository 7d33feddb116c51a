/**
 * A strict reader of Prometheus' text exposition format (version 0.0.4), as a scraper reads it:
 * every line is a comment (`# HELP`, `# TYPE`), blank, or `name{label="value",...} number`. A line
 * it cannot read fails the test, so what the gateway serves is known to parse, not just to contain
 * the expected substrings.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** `# TYPE` of each metric family. */
  types: Map<string, string>;
  /** Sum of the samples named `name` whose labels include all of `labels`; 0 when none. */
  value(name: string, labels?: Record<string, string>): number;
  /** The samples named `name` whose labels include all of `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,?)/;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helped = new Set<string>();
  text.split('\n').forEach((line, i) => {
    const fail = (why: string) => {
      throw new Error(`line ${i + 1} of the exposition: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (!m) return fail('a comment that is neither HELP nor TYPE');
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) fail('unknown type');
        types.set(m[2]!, m[3]!);
      } else helped.add(m[2]!);
      return;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) return fail('no metric name');
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      while (!rest.startsWith('}')) {
        const m = LABEL.exec(rest);
        if (!m) return fail('a malformed label');
        labels[m[1]!] = m[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(m[0].length);
        if (m[3] !== ',' && !rest.startsWith('}')) return fail('labels not separated by commas');
      }
      rest = rest.slice(1);
    }
    const m = /^ (\S+)( -?\d+)?$/.exec(rest);
    if (!m) return fail('no value');
    const value = m[1] === '+Inf' ? Infinity : m[1] === '-Inf' ? -Infinity : m[1] === 'NaN' || m[1] === 'Nan' ? NaN : Number(m[1]);
    if (Number.isNaN(value) && !/^Na[Nn]$/.test(m[1]!)) return fail('a value that is not a number');
    samples.push({ name, labels, value });
  });
  for (const s of samples) {
    const family = types.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(family) && !types.has(s.name.replace(/_(bucket|sum|count)$/, ''))) throw new Error(`${s.name} has no # TYPE`);
    if (!helped.has(family) && !helped.has(s.name.replace(/_(bucket|sum|count)$/, ''))) throw new Error(`${s.name} has no # HELP`);
  }
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return { samples, types, find, value: (name, labels) => find(name, labels).reduce((sum, s) => sum + s.value, 0) };
}
