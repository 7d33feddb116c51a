/**
 * ajv's errors as configuration problems: the JSON path of the offending value (for an unknown or
 * missing property, the property's own path) and what was expected next to what was found, so that
 * "expected boolean, got string" reads without the schema at hand. Needs ajv's `verbose` option
 * (the allowed properties come from the parent schema).
 */
import type { ErrorObject } from 'ajv';
import type { ConfigProblem } from '../errors.js';

/** Turns ajv's errors into problems that name the path and say what was expected and what was found. */
export function schemaProblems(errors: readonly ErrorObject[], doc: unknown, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const p = describeSchemaError(e, doc, file);
    const key = `${p.path}\n${p.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(p);
    }
  }
  return problems;
}

function describeSchemaError(e: ErrorObject, doc: unknown, file: string): ConfigProblem {
  const value = valueAt(doc, e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(params['additionalProperty']);
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return {
        file,
        path: `${e.instancePath}/${escapePointer(name)}`,
        message: `unknown property "${name}"${allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ''}`,
      };
    }
    case 'required':
      return { file, path: `${e.instancePath}/${escapePointer(String(params['missingProperty']))}`, message: 'is required' };
    case 'type':
      return { file, path: e.instancePath, message: `expected ${formatTypes(params['type'])}, got ${jsonType(value)}` };
    case 'enum':
      return {
        file,
        path: e.instancePath,
        message: `expected one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`,
      };
    case 'minLength':
      return { file, path: e.instancePath, message: 'expected a non-empty string' };
    case 'minItems':
      return { file, path: e.instancePath, message: `expected at least ${String(params['limit'])} item(s), got an empty array` };
    case 'minProperties':
      return { file, path: e.instancePath, message: `expected at least ${String(params['limit'])} property(ies), got an empty object` };
    case 'minimum':
      return { file, path: e.instancePath, message: `expected a number >= ${String(params['limit'])}, got ${JSON.stringify(value)}` };
    case 'maximum':
      return { file, path: e.instancePath, message: `expected a number <= ${String(params['limit'])}, got ${JSON.stringify(value)}` };
    case 'uniqueItems':
      return { file, path: e.instancePath, message: `expected unique items (items ${String(params['j'])} and ${String(params['i'])} are equal)` };
    case 'pattern': {
      // A schema with a pattern says in its `description` what the pattern allows, in words.
      const words = (e.parentSchema as { description?: string } | undefined)?.description ?? `a string matching ${String(params['pattern'])}`;
      return { file, path: e.instancePath, message: `expected ${words}, got ${JSON.stringify(value)}` };
    }
    default:
      return { file, path: e.instancePath, message: e.message ?? `fails the schema keyword ${e.keyword}` };
  }
}

function formatTypes(t: unknown): string {
  return (Array.isArray(t) ? t : String(t).split(',')).map(String).join(' or ');
}

/** The JSON type of a value as a reader of the file would name it. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function valueAt(doc: unknown, pointer: string): unknown {
  if (!pointer) return doc;
  let v: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
