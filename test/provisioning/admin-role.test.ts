import { describe, expect, it } from 'vitest';
import { defaultAdminRoleCollection } from '../../src/provisioning/service.js';
import type { Application } from '../../src/zones/directory/types.js';

function app(roleCollections: Application['roleCollections'], roleTemplates: Application['roleTemplates']): Application {
  return {
    xsappname: 'a',
    instanceName: 'a!t1',
    clientId: 'sb-a!t1',
    tenantMode: 'shared',
    providerZoneId: 'p',
    scopes: ['a!t1.R', 'a!t1.W', 'a!t1.X'],
    authorities: [],
    roleTemplates,
    roleCollections,
    redirectUris: [],
    grantTypes: [],
    tokenValiditySeconds: 3600,
    refreshTokenValiditySeconds: 86400,
  };
}

const templates = [
  { name: 'Reader', scopes: ['a!t1.R'], attributes: [] },
  { name: 'Writer', scopes: ['a!t1.R', 'a!t1.W'], attributes: [] },
  { name: 'Auditor', scopes: ['a!t1.X'], attributes: [] },
];

describe('defaultAdminRoleCollection', () => {
  it('takes the collection whose templates together carry the most distinct scopes', () => {
    const chosen = defaultAdminRoleCollection(
      app(
        [
          { name: 'Readers', roleTemplates: ['Reader'] },
          // Two templates, but the same scope twice: 1 distinct scope.
          { name: 'Readers twice', roleTemplates: ['Reader', 'Reader'] },
          { name: 'Admins', roleTemplates: ['Writer', 'Auditor'] },
          { name: 'Writers', roleTemplates: ['Writer'] },
        ],
        templates,
      ),
    );
    expect(chosen).toBe('Admins');
  });

  it('breaks ties by declaration order, ignores unknown templates, and has no answer without collections', () => {
    expect(defaultAdminRoleCollection(app([{ name: 'First', roleTemplates: ['Writer'] }, { name: 'Second', roleTemplates: ['Reader', 'Auditor'] }], templates))).toBe('First');
    expect(defaultAdminRoleCollection(app([{ name: 'Ghost', roleTemplates: ['Nope', 'Nada'] }, { name: 'Real', roleTemplates: ['Reader'] }], templates))).toBe('Real');
    expect(defaultAdminRoleCollection(app([], templates))).toBeUndefined();
  });
});
