import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, GatewayError, toGatewayError } from '../src/errors.js';

describe('error registry', () => {
  it('is documented code for code, with the same statuses (docs/errors.md)', () => {
    const doc = fs.readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Map([...doc.matchAll(/^\| `(ZG_ERR_\w+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
    const registered = new Map(Object.entries(ERRORS).map(([code, e]) => [code, e.status]));
    expect(documented).toEqual(registered);
  });

  it('exposes 4xx messages and hides 5xx internals by default', () => {
    expect(new GatewayError('ZG_ERR_FORBIDDEN', 'no scope').expose).toBe(true);
    expect(new GatewayError('ZG_ERR_INTERNAL', 'stack trace').expose).toBe(false);
    const wrapped = toGatewayError(new Error('db password wrong'));
    expect(wrapped).toMatchObject({ code: 'ZG_ERR_INTERNAL', status: 500, expose: false });
  });
});
