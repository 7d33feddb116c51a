import type { XsSecurity } from '../../../src/config/types.js';

/** Low scrypt cost for tests that are not about hashing cost (the parameters are stored with each hash). */
export const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

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
