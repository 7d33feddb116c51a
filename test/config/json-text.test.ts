import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeConfigBytes, findJsonSyntaxError, parseJsonText, readJsonFile } from '../../src/config/json-text.js';

const dir = mkdtempSync(path.join(tmpdir(), 'zg-json-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const doc = '{"xsappname": "caf\u00e9"}';

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i < le.length; i += 2) {
    be[i] = le[i + 1]!;
    be[i + 1] = le[i]!;
  }
  return be;
}

describe('decodeConfigBytes', () => {
  test.each([
    ['UTF-8', Buffer.from(doc, 'utf8')],
    ['UTF-8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc, 'utf8')])],
    ['UTF-16LE with BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(doc, 'utf16le')])],
    ['UTF-16BE with BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(doc)])],
    ['UTF-16LE without BOM', Buffer.from(doc, 'utf16le')],
    ['UTF-16BE without BOM', utf16be(doc)],
  ])('%s', (_name, bytes) => {
    expect(decodeConfigBytes(bytes)).toEqual({ ok: true, text: doc });
  });

  test('bytes that are not UTF-8 are refused, not mangled', () => {
    expect(decodeConfigBytes(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))).toEqual({ ok: false, message: 'is neither UTF-8 nor UTF-16 text' });
  });
});

describe('findJsonSyntaxError', () => {
  test.each([
    ['<<<<<<< HEAD\n{}', 1, 1, 'expected a JSON value'],
    ['\n\t"a": 1', 2, 5, 'expected the end of the input after the JSON value'],
    ['{\n  "a": 1,\n}', 3, 1, 'expected a double-quoted property name'],
    ['{"a" 1}', 1, 6, "expected ':' after the property name"],
    ['{"a": tru}', 1, 10, 'expected the literal true'],
    ['[1 2]', 1, 4, "expected ',' or ']' after the array element"],
    ['{"a": 1 "b": 2}', 1, 9, "expected ',' or '}' after the property value"],
    ['{"a": "x\ny"}', 1, 9, 'control character inside a string'],
    ['{"a": "\\q"}', 1, 9, 'expected a valid escape'],
    ['{"a": 01}', 1, 8, "expected ',' or '}'"],
    ['{"a": -}', 1, 8, 'expected a digit'],
    ['{"a": [1,', 1, 10, 'found the end of the input'],
  ])('%j fails at line %i column %i', (text, line, column, message) => {
    expect(() => JSON.parse(text)).toThrow();
    const found = findJsonSyntaxError(text);
    expect(found).toMatchObject({ line, column });
    expect(found?.message).toContain(message);
  });

  test.each(['{}', '[]', ' {"a": [1, -2.5e+3, true, false, null, "\\u00e9\\n"]} ', '"x"', '0'])('%j is valid', (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(findJsonSyntaxError(text)).toBeUndefined();
  });
});

describe('readJsonFile / parseJsonText', () => {
  test('a parse error names the file, line and column', () => {
    const r = parseJsonText('{\n  "a": 1,\n}', 'routes.json');
    expect(r).toEqual({
      ok: false,
      problem: { file: 'routes.json', path: '', message: "is not valid JSON: expected a double-quoted property name, found '}' at line 3, column 1" },
    });
  });

  test('a UTF-16 file with BOM is read', () => {
    const file = path.join(dir, 'utf16.json');
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(doc, 'utf16le')]));
    expect(readJsonFile(file)).toEqual({ ok: true, value: { xsappname: 'caf\u00e9' } });
  });

  test('a missing file is a problem, not a crash', () => {
    const file = path.join(dir, 'nope.json');
    expect(readJsonFile(file)).toEqual({ ok: false, problem: { file, path: '', message: 'cannot be read (ENOENT)' } });
  });
});
