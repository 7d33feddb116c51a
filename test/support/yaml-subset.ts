/**
 * Reads the YAML of manifest.yml, a `cf push --vars-file` file and deploy/kubernetes/, for the tests:
 * block mappings and sequences, plain, single- and double-quoted scalars, `>`/`|` block scalars,
 * empty `{}` and `[]`, comments. Every scalar is a string. No YAML parser is among the dependencies,
 * and none is added for a test; anything outside this subset (flow collections, anchors, aliases,
 * tags) is refused loudly rather than misread. Block scalars keep their line breaks (YAML's folding
 * is not reproduced): the ones read here are JSON.
 */
export type YamlValue = string | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  indent: number;
  text: string;
  number: number;
}

export function parseYamlSubset(source: string): YamlValue {
  const raw = source.split(/\r?\n/);
  const lines: Line[] = [];
  raw.forEach((text, i) => lines.push({ indent: text.length - text.trimStart().length, text: text.trim(), number: i + 1 }));
  let at = 0;
  const skip = () => {
    while (at < lines.length && (lines[at]!.text === '' || lines[at]!.text.startsWith('#'))) at++;
  };
  const fail = (line: Line, why: string): never => {
    throw new Error(`line ${line.number}: ${why}: ${raw[line.number - 1]}`);
  };

  function scalar(text: string, line: Line): string {
    if (text.startsWith('"')) {
      const end = text.lastIndexOf('"');
      if (end === 0 || text.slice(end + 1).trim().replace(/^#.*/, '') !== '') fail(line, 'unterminated double-quoted scalar');
      return JSON.parse(text.slice(0, end + 1)) as string;
    }
    if (text.startsWith("'")) {
      const end = text.lastIndexOf("'");
      if (end === 0) fail(line, 'unterminated single-quoted scalar');
      return text.slice(1, end).replaceAll("''", "'");
    }
    if (/^[[{&*!%@`]/.test(text)) fail(line, 'outside the YAML subset this reader takes');
    return text.replace(/\s+#.*$/, '');
  }

  function blockScalar(parentIndent: number): string {
    const body: string[] = [];
    while (at < lines.length && (lines[at]!.text === '' || lines[at]!.indent > parentIndent)) body.push(raw[lines[at++]!.number - 1]!);
    while (body.length && body[body.length - 1]!.trim() === '') body.pop();
    const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
    return `${body.map((l) => l.slice(indent)).join('\n')}\n`;
  }

  function value(rest: string, line: Line, indent: number): YamlValue {
    if (rest === '>' || rest === '|') return blockScalar(indent);
    // The only flow collections taken: empty ones (Kubernetes' `emptyDir: {}`).
    if (rest === '{}') return {};
    if (rest === '[]') return [];
    if (rest !== '') return scalar(rest, line);
    skip();
    const next = lines[at];
    // `key:` followed by a more indented block, or by a sequence at the key's own indentation.
    if (next && (next.indent > indent || (next.indent === indent && next.text.startsWith('- ')))) return block(next.indent);
    return '';
  }

  function block(indent: number): YamlValue {
    skip();
    const first = lines[at]!;
    if (first.text === '-' || first.text.startsWith('- ')) {
      const items: YamlValue[] = [];
      for (skip(); at < lines.length && lines[at]!.indent === indent && lines[at]!.text.startsWith('- '); skip()) {
        const line = lines[at]!;
        const item = line.text.slice(2).trim();
        if (/^[^"'\s][^:]*:(\s|$)/.test(item)) {
          // `- key: value` opens a mapping whose keys sit two columns in.
          lines[at] = { indent: indent + 2, text: item, number: line.number };
          items.push(block(indent + 2));
        } else {
          at++;
          items.push(scalar(item, line));
        }
      }
      return items;
    }
    const map: Record<string, YamlValue> = {};
    for (skip(); at < lines.length && lines[at]!.indent === indent; skip()) {
      const line = lines[at++]!;
      const m = /^([^"'\s#][^:]*?):(?:\s+(.*))?$/.exec(line.text);
      if (!m) fail(line, 'expected "key: value"');
      if (m![1]! in map) fail(line, `duplicate key "${m![1]}"`);
      map[m![1]!] = value((m![2] ?? '').trim(), line, indent);
    }
    if (at < lines.length && lines[at]!.indent > indent) fail(lines[at]!, 'unexpected indentation');
    return map;
  }

  skip();
  if (at >= lines.length) return {};
  const doc = block(lines[at]!.indent);
  skip();
  if (at < lines.length) fail(lines[at]!, 'unexpected indentation');
  return doc;
}

/** `((name))` in every string replaced from `vars`, as `cf push --vars-file` does; an unknown name is an error. */
export function interpolateVars(doc: YamlValue, vars: Record<string, string>): YamlValue {
  if (typeof doc === 'string') {
    return doc.replace(/\(\(([\w-]+)\)\)/g, (_, name: string) => {
      if (!(name in vars)) throw new Error(`no value for ((${name}))`);
      return vars[name]!;
    });
  }
  if (Array.isArray(doc)) return doc.map((v) => interpolateVars(v, vars));
  return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, interpolateVars(v, vars)]));
}
