/**
 * Reading configuration documents: bytes to text (UTF-8 or UTF-16, as editors on Windows save
 * xs-security.json), text to JSON with the line and column of the first syntax error. JSON.parse in
 * Node 20 names no position for most errors ("Unexpected token '<' ... is not valid JSON"), so a small
 * RFC 8259 scanner locates it.
 */
import { readFileSync } from 'node:fs';
import type { ConfigProblem } from '../errors.js';

export type Parsed = { ok: true; value: unknown } | { ok: false; problem: ConfigProblem };

/** Decodes a configuration file's bytes: UTF-8 (BOM optional) or UTF-16 LE/BE (with or without BOM). */
export function decodeConfigBytes(bytes: Uint8Array): { ok: true; text: string } | { ok: false; message: string } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return decodeUtf8(bytes.subarray(3));
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { ok: true, text: new TextDecoder('utf-16le').decode(bytes.subarray(2)) };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { ok: true, text: new TextDecoder('utf-16be').decode(bytes.subarray(2)) };
  // RFC 8259 §8.1 (older RFC 4627 §3): a JSON text starts with an ASCII character, so a NUL in the
  // first two bytes betrays BOM-less UTF-16 and its byte order.
  if (bytes.length >= 2 && bytes[0] !== 0 && bytes[1] === 0) return { ok: true, text: new TextDecoder('utf-16le').decode(bytes) };
  if (bytes.length >= 2 && bytes[0] === 0 && bytes[1] !== 0) return { ok: true, text: new TextDecoder('utf-16be').decode(bytes) };
  return decodeUtf8(bytes);
}

function decodeUtf8(bytes: Uint8Array): { ok: true; text: string } | { ok: false; message: string } {
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, message: 'is neither UTF-8 nor UTF-16 text' };
  }
}

/** Reads and parses a JSON configuration file; every failure becomes one problem for the whole document. */
export function readJsonFile(file: string): Parsed {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problem: { file, path: '', message: `cannot be read (${code ?? String(err)})` } };
  }
  const decoded = decodeConfigBytes(bytes);
  if (!decoded.ok) return { ok: false, problem: { file, path: '', message: decoded.message } };
  return parseJsonText(decoded.text, file);
}

export function parseJsonText(text: string, file: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const found = findJsonSyntaxError(text);
    const message = found
      ? `is not valid JSON: ${found.message} at line ${found.line}, column ${found.column}`
      : `is not valid JSON: ${(err as Error).message}`;
    return { ok: false, problem: { file, path: '', message } };
  }
}

export interface JsonSyntaxError {
  /** Offset in UTF-16 code units. */
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  message: string;
}

class SyntaxStop {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

/** The first syntax error of `text` as RFC 8259 defines JSON, or undefined when it is valid. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const describe = (at: number) =>
    at >= text.length ? 'the end of the input' : `'${text[at] === '\n' ? '\\n' : text[at]}'`;
  const fail = (expected: string, at = i): never => {
    throw new SyntaxStop(at, `expected ${expected}, found ${describe(at)}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) if (text[i + k] !== word[k]) fail(`the literal ${word}`, i + k);
    i += word.length;
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail("a closing '\"'");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new SyntaxStop(i, 'control character inside a string (escape it)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('four hex digits after \\u', i + 2);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('a valid escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)', i + 1);
      } else i++;
    }
  };
  const digits = () => {
    const start = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
    if (i === start) fail('a digit');
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail('a JSON value');
  };
  const object = () => {
    i++;
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') fail('a double-quoted property name');
      string();
      ws();
      if (text[i] !== ':') fail("':' after the property name");
      i++;
      value();
      ws();
      if (text[i] === ',') i++;
      else if (text[i] === '}') {
        i++;
        return;
      } else fail("',' or '}' after the property value");
    }
  };
  const array = () => {
    i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      value();
      ws();
      if (text[i] === ',') i++;
      else if (text[i] === ']') {
        i++;
        return;
      } else fail("',' or ']' after the array element");
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail('the end of the input after the JSON value');
    return undefined;
  } catch (err) {
    if (!(err instanceof SyntaxStop)) throw err;
    const before = text.slice(0, err.offset);
    const line = before.split('\n').length;
    const column = err.offset - (before.lastIndexOf('\n') + 1) + 1;
    return { offset: err.offset, line, column, message: err.message };
  }
}
