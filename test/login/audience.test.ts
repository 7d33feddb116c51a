/**
 * xssec's audience rule (REFERENCE.md §3) as a table; the attacks through real HTTP are in
 * trust-boundaries.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { isIssuedFor } from '../../src/login/audience.js';

const app = { clientid: 'sb-myapp!t7', xsappname: 'myapp!t7' };

describe('isIssuedFor', () => {
  it.each([
    ['its client id in aud', { aud: ['sb-myapp!t7', 'openid'], scope: ['openid'], cid: 'sb-myapp!t7' }, true],
    ['its xsappname in aud (another app granted one of its scopes)', { aud: ['sb-other!t9', 'myapp!t7'], scope: ['myapp!t7.Read'], cid: 'sb-other!t9' }, true],
    ['aud as a single string', { aud: 'sb-myapp!t7', scope: [] }, true],
    ['an aud entry that is one of its scopes', { aud: ['myapp!t7.Admin'], cid: 'x' }, true],
    ['no aud: a scope of the application', { aud: [], scope: ['openid', 'myapp!t7.Admin'], cid: 'sb-other!t9' }, true],
    ['no aud, no scope: its cid', { scope: [], cid: 'sb-myapp!t7' }, true],
    ["the zone's admin client", { aud: ['zonegate-admin', 'scim', 'openid'], scope: ['openid', 'scim.read'], cid: 'zonegate-admin' }, false],
    ['another application', { aud: ['sb-other!t9', 'other!t9', 'openid'], scope: ['openid', 'other!t9.Admin'], cid: 'sb-other!t9' }, false],
    ['a name that only begins like it', { aud: ['myapp!t70', 'sb-myapp!t7x', 'myapp!t7-evil.Admin'], cid: 'sb-myapp!t77' }, false],
    ['a non-empty aud wins over scope', { aud: ['sb-other!t9'], scope: ['myapp!t7.Admin'], cid: 'sb-other!t9' }, false],
    ['nothing at all', {}, false],
  ])('%s', (_name, claims, expected) => {
    expect(isIssuedFor(claims as never, app)).toBe(expected);
  });

  it('an empty xsappname in the binding matches nothing', () => {
    expect(isIssuedFor({ aud: ['', 'x'], cid: 'x' }, { clientid: 'sb-myapp!t7', xsappname: '' })).toBe(false);
  });
});
