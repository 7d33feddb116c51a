import type { XsSecurity } from '../../../src/config/types.js';

import type { Argon2Params } from '../../../src/zones/directory/password.js';

/**
 * Low argon2id cost (1 MiB, one pass) for tests that are not about hashing cost: each hash carries its
 * parameters, so these users verify like any other. The production default is checked in
 * directory-contract.ts.
 */
export const FAST_HASHING: Argon2Params = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
/** Low scrypt cost, for the frozen pre-argon2 directory that writes old keyspaces (test/records/legacy/). */
export const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

/** Hashes made by zonegate before argon2 (scrypt, N = 2^10 and its old default 2^15), of this password. */
export const LEGACY_PASSWORD = 'legacy-pass-1';
export const LEGACY_SCRYPT_FAST = 'scrypt$1024$8$1$gssKNwQFDZ0dSRMCTbXUEA$x15wtFfdvQWnEkoxLFyLQ3x_a5SDYZABYwpzzZxjCxg';
export const LEGACY_SCRYPT_DEFAULT = 'scrypt$32768$8$1$IyOi-GuHH0rXsRhU4gBwEg$B-IBX10kqDZ7aQND02dhcNaXkHeaI-P64m9ax6oKyFI';

/** An xs-security.json as the loader delivers it, with role templates, collections and a foreign scope. */
export function securityFor(xsappname: string, tenantMode: 'shared' | 'dedicated' = 'shared'): XsSecurity {
  return {
    file: 'xs-security.json',
    xsappname,
    tenantMode,
    scopes: [
      { name: '$XSAPPNAME.Admin', grantedApps: [], grantAsAuthorityToApps: [] },
      { name: '$XSAPPNAME.Viewer', grantedApps: [], grantAsAuthorityToApps: [] },
      { name: '$XSAPPNAME.Callback', grantedApps: [], grantAsAuthorityToApps: ['$XSAPPNAME(application,sap-provisioning,tenant-onboarding)'] },
    ],
    attributes: [{ name: 'Country', valueType: 'string', valueRequired: false }],
    roleTemplates: [
      // `other!t1.Audit` is a scope the client does not have: it must never reach a token.
      { name: 'Administrator', scopeReferences: ['$XSAPPNAME.Admin', '$XSAPPNAME.Viewer', 'other!t1.Audit'], attributeReferences: [] },
      { name: 'Viewer', scopeReferences: ['$XSAPPNAME.Viewer'], attributeReferences: ['Country'] },
    ],
    roleCollections: [
      { name: `${xsappname}_Administrator`, roleTemplateReferences: ['$XSAPPNAME.Administrator'] },
      { name: `${xsappname}_Viewer`, roleTemplateReferences: ['$XSAPPNAME.Viewer'] },
    ],
    authorities: ['$XSAPPNAME.Callback'],
    foreignScopeReferences: [],
    oauth2Configuration: {
      tokenValidity: 3600,
      refreshTokenValidity: 86400,
      redirectUris: ['https://*.app.example.com/**'],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    },
  };
}
