import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  DEFAULT_GRANT_TYPES,
  DEFAULT_REFRESH_TOKEN_VALIDITY_S,
  DEFAULT_TOKEN_VALIDITY_S,
  loadXsSecurity,
  checkXsSecurityDocument,
  validateXsSecurityDocument,
} from '../../src/config/security.js';
import { ConfigError, type ConfigProblem } from '../../src/errors.js';
import { loadConfiguration } from '../../src/server/configuration.js';

const FILE = 'xs-security.json';
const dir = mkdtempSync(path.join(tmpdir(), 'zg-xs-security-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(doc: unknown): ConfigProblem[] {
  try {
    validateXsSecurityDocument(doc, FILE);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected the document to be refused');
}

function onlyProblem(doc: unknown): ConfigProblem {
  const problems = problemsOf(doc);
  expect(problems, JSON.stringify(problems, null, 1)).toHaveLength(1);
  return problems[0]!;
}

const base = { xsappname: 'myapp' };

describe('a valid descriptor', () => {
  test('is converted to camelCase with XSUAA defaults', () => {
    expect(validateXsSecurityDocument({ xsappname: 'myapp' }, FILE)).toEqual({
      file: FILE,
      xsappname: 'myapp',
      tenantMode: 'dedicated',
      scopes: [],
      attributes: [],
      roleTemplates: [],
      roleCollections: [],
      authorities: [],
      foreignScopeReferences: [],
      oauth2Configuration: {
        tokenValidity: 43_200,
        refreshTokenValidity: 2_592_000,
        redirectUris: [],
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
      },
    });
    expect([DEFAULT_TOKEN_VALIDITY_S, DEFAULT_REFRESH_TOKEN_VALIDITY_S]).toEqual([43_200, 2_592_000]);
    expect(DEFAULT_GRANT_TYPES).not.toContain('password');
  });

  test('every part is converted', () => {
    const sec = validateXsSecurityDocument(
      {
        xsappname: 'my-app_10/x\\y',
        'tenant-mode': 'shared',
        description: 'demo',
        scopes: [
          { name: '$XSAPPNAME.Admin', description: 'admin', 'grant-as-authority-to-apps': ['$XSAPPNAME(application,other)'] },
          { name: '$XSAPPNAME.Callback', 'granted-apps': ['$XSAPPNAME(application,sap-provisioning,tenant-onboarding)'] },
        ],
        attributes: [
          { name: 'Country', valueType: 's' },
          { name: 'Level', valueType: 'int', valueRequired: 'false', description: 'lvl' },
        ],
        'role-templates': [
          { name: 'Admin', 'scope-references': ['$XSAPPNAME.Admin', 'uaa.user'], 'attribute-references': [{ name: 'Country', 'default-values': ['DE'] }, 'Level'] },
          { name: 'Cb', description: 'cb', 'default-role-name': 'Callback role', 'scope-references': ['$XSAPPNAME.Callback'] },
        ],
        'role-collections': [{ name: 'Admins', description: 'all', 'role-template-references': ['$XSAPPNAME.Admin'] }],
        authorities: ['$XSAPPNAME.Callback'],
        'authorities-inheritance': false,
        xsenableasyncservice: 'true',
        'oauth2-configuration': {
          'token-validity': 900,
          'refresh-token-validity': 604800,
          'redirect-uris': ['https://*.example.com/**', 'http*://localhost:*/**'],
          'grant-types': ['authorization_code', 'password'],
          autoapprove: true,
          'system-attributes': ['rolecollections'],
          'credential-types': ['binding-secret'],
        },
      },
      FILE,
    );
    expect(sec.tenantMode).toBe('shared');
    expect(sec.description).toBe('demo');
    expect(sec.scopes).toEqual([
      { name: '$XSAPPNAME.Admin', description: 'admin', grantedApps: [], grantAsAuthorityToApps: ['$XSAPPNAME(application,other)'] },
      { name: '$XSAPPNAME.Callback', grantedApps: ['$XSAPPNAME(application,sap-provisioning,tenant-onboarding)'], grantAsAuthorityToApps: [] },
    ]);
    expect(sec.attributes).toEqual([
      { name: 'Country', valueType: 'string', valueRequired: true },
      { name: 'Level', valueType: 'int', valueRequired: false, description: 'lvl' },
    ]);
    expect(sec.roleTemplates).toEqual([
      { name: 'Admin', scopeReferences: ['$XSAPPNAME.Admin', 'uaa.user'], attributeReferences: ['Country', 'Level'], attributeDefaultValues: { Country: ['DE'] } },
      { name: 'Cb', description: 'cb', defaultRoleName: 'Callback role', scopeReferences: ['$XSAPPNAME.Callback'], attributeReferences: [] },
    ]);
    expect(sec.roleCollections).toEqual([{ name: 'Admins', description: 'all', roleTemplateReferences: ['$XSAPPNAME.Admin'] }]);
    expect(sec.authorities).toEqual(['$XSAPPNAME.Callback']);
    expect(sec.oauth2Configuration).toEqual({
      tokenValidity: 900,
      refreshTokenValidity: 604800,
      redirectUris: ['https://*.example.com/**', 'http*://localhost:*/**'],
      grantTypes: ['authorization_code', 'password'],
    });
  });
});

describe('reading the file', () => {
  test('UTF-16 with BOM (as Windows editors save it) and UTF-8 with BOM', () => {
    const json = JSON.stringify({ xsappname: 'utf16app', 'tenant-mode': 'shared' });
    const le = path.join(dir, 'le.json');
    writeFileSync(le, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, 'utf16le')]));
    expect(loadXsSecurity(le)).toMatchObject({ file: le, xsappname: 'utf16app', tenantMode: 'shared' });
    const u8 = path.join(dir, 'u8.json');
    writeFileSync(u8, `\ufeff${json}`);
    expect(loadXsSecurity(u8).xsappname).toBe('utf16app');
  });

  test("the gateway's start-up configuration carries the descriptor's warnings (the CLI prints them before listening)", () => {
    const app = path.join(dir, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'routes.json'), JSON.stringify({ routes: [{ source: '^/(.*)$', localDir: '.', authenticationType: 'none' }] }));
    writeFileSync(path.join(app, 'xs-security.json'), JSON.stringify({ xsappname: 'extapp', 'tenant-mode': 'external' }));
    const config = loadConfiguration({}, { cwd: app });
    expect(config.security?.tenantMode).toBe('dedicated');
    expect(config.warnings).toContainEqual({ file: path.join(app, 'xs-security.json'), path: '/tenant-mode', message: expect.stringMatching(/^tenant-mode "external" .* runs as "dedicated"/) });
  });

  test('invalid JSON names line and column', () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, '{\n  "xsappname": "a"\n  "tenant-mode": "shared"\n}');
    expect(() => loadXsSecurity(file)).toThrow(ConfigError);
    try {
      loadXsSecurity(file);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        { file, path: '', message: "is not valid JSON: expected ',' or '}' after the property value, found '\"' at line 3, column 3" },
      ]);
    }
  });
});

describe('xsappname', () => {
  test('required', () => {
    const p = onlyProblem({ 'tenant-mode': 'shared' });
    expect(p.path).toBe('/xsappname');
    expect(p.message).toMatch(/^is required .*expected letters, digits/);
  });

  test('no "!" (the server appends !t<N>)', () => {
    expect(onlyProblem({ xsappname: 'myapp!t7' })).toEqual({
      file: FILE,
      path: '/xsappname',
      message: 'may not contain "!" (the server appends "!t<N>" itself); expected letters, digits, "_", "-", "/" or "\\"',
    });
  });

  test('unresolved MTA placeholder', () => {
    expect(onlyProblem({ xsappname: 'shop-${space}' }).message).toMatch(/^contains the unresolved MTA placeholder "\$\{space\}"/);
  });

  test('other characters and length (XSUAA: letters, digits, "-", "_", "/", "\\"; at most 100)', () => {
    expect(onlyProblem({ xsappname: 'my app?' }).message).toBe('contains " ", "?"; expected letters, digits, "_", "-", "/" or "\\"');
    // XSUAA reads "<xsappname>.<scope>": a "." in the name would make the two ambiguous.
    expect(onlyProblem({ xsappname: 'my.app' })).toEqual({
      file: FILE,
      path: '/xsappname',
      message: 'contains "."; expected letters, digits, "_", "-", "/" or "\\"',
    });
    expect(onlyProblem({ xsappname: 'a'.repeat(101) }).message).toBe('is 101 characters long; expected at most 100');
    expect(validateXsSecurityDocument({ xsappname: 'a'.repeat(100) }, FILE).xsappname).toHaveLength(100);
  });

  test('type', () => {
    expect(onlyProblem({ xsappname: 7 })).toEqual({ file: FILE, path: '/xsappname', message: 'expected string, got integer' });
  });
});

describe('tenant-mode', () => {
  test('dedicated, shared or external', () => {
    expect(onlyProblem({ ...base, 'tenant-mode': 'private' })).toEqual({
      file: FILE,
      path: '/tenant-mode',
      message: 'expected one of "dedicated", "shared", "external", got "private"',
    });
  });

  test('"external" loads, served as "dedicated", and says so', () => {
    const { security, warnings } = checkXsSecurityDocument({ ...base, 'tenant-mode': 'external' }, FILE);
    expect(security.tenantMode).toBe('dedicated');
    expect(warnings).toEqual([
      {
        file: FILE,
        path: '/tenant-mode',
        message:
          'tenant-mode "external" (an OAuth client per subscription) is not served by zonegate\'s zones: the application runs as "dedicated" (its client works in the provider zone only, and tenants cannot subscribe)',
      },
    ]);
    expect(checkXsSecurityDocument({ ...base, 'tenant-mode': 'shared' }, FILE).warnings).toEqual([]);
  });
});

describe('scope names (XSUAA: letters, digits, "-", "_", "/", "\\", ":", "."; no leading "."; at most 193 with the application name)', () => {
  const scope = (name: string, xsappname = 'myapp') => ({ xsappname, scopes: [{ name }] });

  test('accepted: every documented character', () => {
    expect(validateXsSecurityDocument(scope('$XSAPPNAME.cds.Sub-scriber_1/a\\b:c'), FILE).scopes).toHaveLength(1);
  });

  test('refused: spaces and other characters', () => {
    expect(onlyProblem(scope('$XSAPPNAME.Read All'))).toEqual({
      file: FILE,
      path: '/scopes/0/name',
      message: 'scope "$XSAPPNAME.Read All" contains " "; expected letters, digits, "_", "-", "/", "\\", ":" or "."',
    });
    expect(onlyProblem(scope('$XSAPPNAME.Read*')).message).toBe('scope "$XSAPPNAME.Read*" contains "*"; expected letters, digits, "_", "-", "/", "\\", ":" or "."');
  });

  test('refused: a leading "."', () => {
    expect(onlyProblem(scope('$XSAPPNAME..Read'))).toEqual({
      file: FILE,
      path: '/scopes/0/name',
      message: 'scope "$XSAPPNAME..Read" starts with "."; expected a name that starts with a letter, digit, "_", "-", "/", "\\" or ":"',
    });
  });

  test('refused: longer than 193 characters once registered as <xsappname>!t<N>.<name>', () => {
    // 5 (myapp) + 3 (!t1) + 1 (.) + 184 = 193: the limit exactly.
    expect(validateXsSecurityDocument(scope(`$XSAPPNAME.${'a'.repeat(184)}`), FILE).scopes).toHaveLength(1);
    expect(onlyProblem(scope(`$XSAPPNAME.${'a'.repeat(185)}`))).toEqual({
      file: FILE,
      path: '/scopes/0/name',
      message: `scope "$XSAPPNAME.${'a'.repeat(185)}" is 194 characters long once registered (at least, as "myapp!t1.${'a'.repeat(185)}"); expected at most 193, the application name included`,
    });
  });
});

describe("counts (XSUAA's limits for the application security descriptor)", () => {
  const many = (n: number, make: (i: number) => object) => Array.from({ length: n }, (_, i) => make(i));

  test('at most 500 scopes, 50 attributes, 500 role templates, 250 role collections', () => {
    const atLimit = {
      ...base,
      scopes: many(500, (i) => ({ name: `$XSAPPNAME.S${i}` })),
      attributes: many(50, (i) => ({ name: `A${i}`, valueType: 'string' })),
      'role-templates': many(500, (i) => ({ name: `T${i}` })),
      'role-collections': many(250, (i) => ({ name: `C${i}`, 'role-template-references': [`$XSAPPNAME.T${i}`] })),
    };
    expect(validateXsSecurityDocument(atLimit, FILE).scopes).toHaveLength(500);
    const over = {
      ...atLimit,
      scopes: many(501, (i) => ({ name: `$XSAPPNAME.S${i}` })),
      attributes: many(51, (i) => ({ name: `A${i}`, valueType: 'string' })),
      'role-templates': many(501, (i) => ({ name: `T${i}` })),
      'role-collections': many(251, (i) => ({ name: `C${i}`, 'role-template-references': [`$XSAPPNAME.T${i}`] })),
    };
    expect(problemsOf(over)).toEqual([
      { file: FILE, path: '/scopes', message: "has 501 entries; expected at most 500 (XSUAA's limit)" },
      { file: FILE, path: '/attributes', message: "has 51 entries; expected at most 50 (XSUAA's limit)" },
      { file: FILE, path: '/role-templates', message: "has 501 entries; expected at most 500 (XSUAA's limit)" },
      { file: FILE, path: '/role-collections', message: "has 251 entries; expected at most 250 (XSUAA's limit)" },
    ]);
  });

  test('at most 250 scopes granted to other applications', () => {
    const granted = (n: number) => ({ ...base, scopes: many(n, (i) => ({ name: `$XSAPPNAME.S${i}`, 'granted-apps': ['$XSAPPNAME(application,other)'] })) });
    expect(validateXsSecurityDocument(granted(250), FILE).scopes).toHaveLength(250);
    expect(onlyProblem(granted(251))).toEqual({
      file: FILE,
      path: '/scopes',
      message: "251 scopes are granted to other applications (granted-apps or grant-as-authority-to-apps); expected at most 250 (XSUAA's limit)",
    });
  });
});

describe('references', () => {
  test('duplicate scope names', () => {
    expect(onlyProblem({ ...base, scopes: [{ name: '$XSAPPNAME.A' }, { name: '$XSAPPNAME.A' }] })).toEqual({
      file: FILE,
      path: '/scopes/1/name',
      message: 'duplicate scope name "$XSAPPNAME.A" (first declared at /scopes/0)',
    });
  });

  test('duplicate role template and role collection names', () => {
    expect(onlyProblem({ ...base, 'role-templates': [{ name: 'R' }, { name: 'R' }] }).path).toBe('/role-templates/1/name');
    expect(
      onlyProblem({ ...base, 'role-templates': [{ name: 'R' }], 'role-collections': [{ name: 'C', 'role-template-references': ['$XSAPPNAME.R'] }, { name: 'C', 'role-template-references': ['$XSAPPNAME.R'] }] }).path,
    ).toBe('/role-collections/1/name');
  });

  test('attack: a role template may not grant an undeclared own scope', () => {
    expect(onlyProblem({ ...base, scopes: [{ name: '$XSAPPNAME.Read' }], 'role-templates': [{ name: 'R', 'scope-references': ['$XSAPPNAME.Read', '$XSAPPNAME.Admin'] }] })).toEqual({
      file: FILE,
      path: '/role-templates/0/scope-references/1',
      message: 'scope "$XSAPPNAME.Admin" is not declared in scopes; expected one of: $XSAPPNAME.Read',
    });
  });

  test('foreign scopes must be listed in foreign-scope-references (or accepted wholesale)', () => {
    const doc = { ...base, 'role-templates': [{ name: 'R', 'scope-references': ['xs_user.read'] }] };
    expect(onlyProblem(doc).message).toMatch(/^foreign scope "xs_user.read" is not listed in foreign-scope-references/);
    expect(validateXsSecurityDocument({ ...doc, 'foreign-scope-references': ['xs_user.read'] }, FILE).foreignScopeReferences).toEqual(['xs_user.read']);
    expect(validateXsSecurityDocument({ ...doc, 'foreign-scope-references': ['$ACCEPT_GRANTED_SCOPES'] }, FILE).roleTemplates).toHaveLength(1);
    // uaa.user needs no declaration (token exchange).
    expect(validateXsSecurityDocument({ ...base, 'role-templates': [{ name: 'T', 'scope-references': ['uaa.user'] }] }, FILE).roleTemplates).toHaveLength(1);
  });

  test("attack: an application may not claim another application's scopes or authorities (issue 9)", () => {
    // The zones issue an application's authorities to its client-credentials tokens; claiming the
    // provider app's callback scope made any registered client a SaaS registry.
    const problems = problemsOf({
      ...base,
      scopes: [{ name: '$XSAPPNAME.Own' }, { name: 'victim!t1.Callback' }],
      authorities: ['$XSAPPNAME.Own', 'victim!t1.Callback', 'uaa.resource', '$XSAPPNAME(application,victim).Callback', '$ACCEPT_GRANTED_AUTHORITIES', 'scim.write'],
      'foreign-scope-references': ['victim!t1.Admin', '$XSAPPNAME(application,victim).Admin', 'xs_user.read'],
      'role-templates': [{ name: 'R', 'scope-references': ['victim!t1.Admin', 'victim!t1.Callback'] }],
    });
    expect(problems.map((p) => `${p.file}${p.path}`)).toEqual([
      'xs-security.json/scopes/1/name',
      'xs-security.json/authorities/1',
      'xs-security.json/authorities/5',
      'xs-security.json/foreign-scope-references/0',
    ]);
    expect(problems[0]!.message).toBe(
      'scope "victim!t1.Callback" is not this application\'s; expected "$XSAPPNAME.<name>" (or "uaa.user"): another application\'s scope reaches this one only through that application\'s granted-apps',
    );
    expect(problems[1]!.message).toBe(
      'authority "victim!t1.Callback" is not this application\'s to claim; expected "$XSAPPNAME.<scope>", "$XSAPPNAME(<service plan>,<xsappname>).<scope>" or "$XSSERVICENAME(<service instance>).<scope>" (granted by that application\'s grant-as-authority-to-apps), "$ACCEPT_GRANTED_AUTHORITIES" or "uaa.resource"',
    );
    expect(problems[3]!.message).toMatch(/^"victim!t1.Admin" names another application's registered instance; expected "\$XSAPPNAME\(<service plan>,<xsappname>\)\.<scope>"/);
    // What real descriptors write loads: uaa.user declared for the token exchange, uaa.resource for introspection.
    const ok = validateXsSecurityDocument({ ...base, scopes: [{ name: 'uaa.user' }], authorities: ['uaa.resource', '$ACCEPT_GRANTED_AUTHORITIES'] }, FILE);
    expect(ok.authorities).toEqual(['uaa.resource', '$ACCEPT_GRANTED_AUTHORITIES']);
  });

  test('$ACCEPT_GRANTED_SCOPES does not excuse an undeclared own scope', () => {
    expect(
      onlyProblem({ ...base, 'foreign-scope-references': ['$ACCEPT_GRANTED_SCOPES'], 'role-templates': [{ name: 'R', 'scope-references': ['$XSAPPNAME.Admin'] }] }).path,
    ).toBe('/role-templates/0/scope-references/0');
  });

  test('attribute references must be declared (string or object form)', () => {
    const problems = problemsOf({ ...base, attributes: [{ name: 'Country', valueType: 'string' }], 'role-templates': [{ name: 'R', 'attribute-references': ['Country', 'Region', { name: 'Dept' }] }] });
    expect(problems).toEqual([
      { file: FILE, path: '/role-templates/0/attribute-references/1', message: 'attribute "Region" is not declared in attributes' },
      { file: FILE, path: '/role-templates/0/attribute-references/2', message: 'attribute "Dept" is not declared in attributes' },
    ]);
  });

  test('role collections reference $XSAPPNAME.<declared template>', () => {
    const doc = (ref: string) => ({ ...base, 'role-templates': [{ name: 'Viewer' }], 'role-collections': [{ name: 'C', 'role-template-references': [ref] }] });
    expect(onlyProblem(doc('$XSAPPNAME.Editor'))).toEqual({
      file: FILE,
      path: '/role-collections/0/role-template-references/0',
      message: 'role template "Editor" is not declared in role-templates; expected one of: Viewer',
    });
    expect(onlyProblem(doc('Viewer')).message).toBe(
      'expected "$XSAPPNAME.<role template name>" or another application\'s "$XSAPPNAME(<service plan>,<xsappname>).<role template name>", got "Viewer"',
    );
    expect(onlyProblem({ ...base, 'role-collections': [{ name: 'C' }] })).toEqual({
      file: FILE,
      path: '/role-collections/0/role-template-references',
      message: 'is required',
    });
  });
});

describe('references XSUAA resolves and zonegate cannot', () => {
  test("role collections may reference other applications' role templates: a warning, not a refusal", () => {
    const { security, warnings } = checkXsSecurityDocument(
      {
        ...base,
        'role-templates': [{ name: 'Viewer' }],
        'role-collections': [{ name: 'C', 'role-template-references': ['$XSAPPNAME.Viewer', '$XSAPPNAME(application,other).Editor', '$XSSERVICENAME(other-uaa).Editor'] }],
      },
      FILE,
    );
    expect(security.roleCollections[0]!.roleTemplateReferences).toHaveLength(3);
    expect(warnings).toEqual([
      {
        file: FILE,
        path: '/role-collections/0/role-template-references/1',
        message: '"$XSAPPNAME(application,other).Editor" is a role template of another application, which zonegate cannot resolve: the role collection grants nothing from it',
      },
      {
        file: FILE,
        path: '/role-collections/0/role-template-references/2',
        message: '"$XSSERVICENAME(other-uaa).Editor" is a role template of another application, which zonegate cannot resolve: the role collection grants nothing from it',
      },
    ]);
  });

  test('$XSSERVICENAME(<service instance>) in scope references, authorities and grants loads with a warning; its authorities grant nothing', () => {
    const { security, warnings } = checkXsSecurityDocument(
      {
        ...base,
        scopes: [{ name: '$XSAPPNAME.Read', 'granted-apps': ['$XSSERVICENAME(reader-uaa)'], 'grant-as-authority-to-apps': ['$XSAPPNAME(application,other)'] }],
        authorities: ['$XSAPPNAME.Read', '$XSSERVICENAME(other-uaa).Write'],
        'foreign-scope-references': ['$XSSERVICENAME(other-uaa).Write'],
        'role-templates': [{ name: 'T', 'scope-references': ['$XSAPPNAME.Read', '$XSSERVICENAME(other-uaa).Write'] }],
      },
      FILE,
    );
    // Nothing to resolve it with: the zones never see it as an authority of this client.
    expect(security.authorities).toEqual(['$XSAPPNAME.Read']);
    expect(security.roleTemplates[0]!.scopeReferences).toEqual(['$XSAPPNAME.Read', '$XSSERVICENAME(other-uaa).Write']);
    expect(warnings.map((w) => [w.path, w.message])).toEqual([
      ['/scopes/0/granted-apps/0', '"$XSSERVICENAME(reader-uaa)" names a service instance, which only the platform resolves: zonegate grants this scope to no application for it'],
      ['/role-templates/0/scope-references/1', '"$XSSERVICENAME(other-uaa).Write" names a service instance, which only the platform resolves: the role template grants nothing from it in zonegate\'s zones'],
      ['/authorities/1', '"$XSSERVICENAME(other-uaa).Write" names a service instance, which only the platform resolves: zonegate\'s zones grant no authority for it'],
    ]);
  });

  test('a service instance scope in a role template must still be listed, like any foreign scope', () => {
    expect(onlyProblem({ ...base, 'role-templates': [{ name: 'T', 'scope-references': ['$XSSERVICENAME(other-uaa).Write'] }] }).message).toMatch(
      /^foreign scope "\$XSSERVICENAME\(other-uaa\)\.Write" is not listed in foreign-scope-references/,
    );
  });
});

describe('other names XSUAA limits (64 characters; descriptions 1000; default role names 255)', () => {
  test('role template, role collection and attribute names', () => {
    const long = 'a'.repeat(65);
    expect(onlyProblem({ ...base, 'role-templates': [{ name: long }] })).toEqual({
      file: FILE,
      path: '/role-templates/0/name',
      message: `expected letters, digits, ".", "-" and "_", at most 64 characters, got "${long}"`,
    });
    expect(onlyProblem({ ...base, attributes: [{ name: long, valueType: 's' }] }).path).toBe('/attributes/0/name');
    const collection = (c: object) => ({ ...base, 'role-templates': [{ name: 'T' }], 'role-collections': [{ name: 'C', 'role-template-references': ['$XSAPPNAME.T'], ...c }] });
    expect(onlyProblem(collection({ name: long })).path).toBe('/role-collections/0/name');
    expect(onlyProblem(collection({ description: 'd'.repeat(1001) })).path).toBe('/role-collections/0/description');
    expect(validateXsSecurityDocument(collection({ name: 'a'.repeat(64), description: 'd'.repeat(1000) }), FILE).roleCollections).toHaveLength(1);
    expect(onlyProblem({ ...base, 'role-templates': [{ name: 'T', 'default-role-name': 'r'.repeat(256) }] }).path).toBe('/role-templates/0/default-role-name');
  });
});

describe('attributes', () => {
  test('valueType and valueRequired', () => {
    expect(onlyProblem({ ...base, attributes: [{ name: 'A', valueType: 'float' }] })).toEqual({
      file: FILE,
      path: '/attributes/0/valueType',
      message: 'expected one of "string", "s", "int", "date", "s4hana", got "float"',
    });
    expect(onlyProblem({ ...base, attributes: [{ name: 'A', valueType: 'int', valueRequired: 'maybe' }] }).path).toBe('/attributes/0/valueRequired');
    expect(onlyProblem({ ...base, attributes: [{ name: 'A' }] })).toEqual({ file: FILE, path: '/attributes/0/valueType', message: 'is required' });
  });

  test('names follow XSUAA (letters, digits, underscore)', () => {
    expect(onlyProblem({ ...base, attributes: [{ name: 'Cost Center', valueType: 'string' }] })).toEqual({
      file: FILE,
      path: '/attributes/0/name',
      message: 'expected letters, digits and "_", at most 64 characters, got "Cost Center"',
    });
  });
});

describe('oauth2-configuration', () => {
  const oauth = (cfg: Record<string, unknown>) => ({ ...base, 'oauth2-configuration': cfg });

  test("token validities are whole seconds within XSUAA's limits (60 s to 24 h; refresh 60 s to 1 year)", () => {
    expect(onlyProblem(oauth({ 'token-validity': 0 }))).toEqual({
      file: FILE,
      path: '/oauth2-configuration/token-validity',
      message: "expected whole seconds from 60 to 86400 (XSUAA's limits), got 0",
    });
    expect(onlyProblem(oauth({ 'token-validity': -60 })).path).toBe('/oauth2-configuration/token-validity');
    expect(onlyProblem(oauth({ 'token-validity': 59 })).path).toBe('/oauth2-configuration/token-validity');
    // Above XSUAA's maximum: a day.
    expect(onlyProblem(oauth({ 'token-validity': 86_401 }))).toEqual({
      file: FILE,
      path: '/oauth2-configuration/token-validity',
      message: "expected whole seconds from 60 to 86400 (XSUAA's limits), got 86401",
    });
    expect(onlyProblem(oauth({ 'token-validity': 900.5 }))).toEqual({
      file: FILE,
      path: '/oauth2-configuration/token-validity',
      message: 'expected integer, got number',
    });
    expect(onlyProblem(oauth({ 'refresh-token-validity': 10 }))).toEqual({
      file: FILE,
      path: '/oauth2-configuration/refresh-token-validity',
      message: "expected whole seconds from 60 to 31536000 (XSUAA's limits), got 10",
    });
    expect(onlyProblem(oauth({ 'refresh-token-validity': 31_536_001 })).message).toBe("expected whole seconds from 60 to 31536000 (XSUAA's limits), got 31536001");
    expect(onlyProblem(oauth({ 'refresh-token-validity': '3600' })).message).toBe('expected integer, got string');
  });

  test('accepted: the bounds XSUAA accepts', () => {
    const at = (t: number, r: number) => validateXsSecurityDocument(oauth({ 'token-validity': t, 'refresh-token-validity': r }), FILE).oauth2Configuration;
    expect(at(60, 60)).toMatchObject({ tokenValidity: 60, refreshTokenValidity: 60 });
    expect(at(86_400, 31_536_000)).toMatchObject({ tokenValidity: 86_400, refreshTokenValidity: 31_536_000 });
  });

  test('system-attributes: ias-token and ias-corporate-idp-token load, with a warning that the zones cannot embed them', () => {
    const { security, warnings } = checkXsSecurityDocument(oauth({ 'system-attributes': ['groups', 'ias-token', 'ias-corporate-idp-token'] }), FILE);
    expect(security.xsappname).toBe('myapp');
    expect(warnings).toEqual([
      {
        file: FILE,
        path: '/oauth2-configuration/system-attributes/1',
        message: '"ias-token" embeds a token of SAP Cloud Identity Services in XSUAA\'s tokens; zonegate\'s zones log users in themselves, so their tokens carry no such token',
      },
      {
        file: FILE,
        path: '/oauth2-configuration/system-attributes/2',
        message: '"ias-corporate-idp-token" embeds a token of SAP Cloud Identity Services in XSUAA\'s tokens; zonegate\'s zones log users in themselves, so their tokens carry no such token',
      },
    ]);
    expect(onlyProblem(oauth({ 'system-attributes': ['ias-tokens'] }))).toEqual({
      file: FILE,
      path: '/oauth2-configuration/system-attributes/0',
      message: 'expected one of "groups", "rolecollections", "ias-token", "ias-corporate-idp-token", got "ias-tokens"',
    });
  });

  test('redirect-uris are strings; wildcards are allowed', () => {
    expect(onlyProblem(oauth({ 'redirect-uris': ['https://a.example/cb', 5] })).path).toBe('/oauth2-configuration/redirect-uris/1');
    expect(validateXsSecurityDocument(oauth({ 'redirect-uris': ['https://*.a.example/**', 'http*://x:*/cb'] }), FILE).oauth2Configuration.redirectUris).toHaveLength(2);
  });

  test('attack: a redirect-uri whose wildcards would stall /oauth/authorize on a hostile redirect_uri is refused', () => {
    // `**` becomes `.*`: three of them take cubic time in the redirect_uri's length.
    expect(onlyProblem(oauth({ 'redirect-uris': ['https://a.example/cb', 'https://a.example/**/**/**/x'] }))).toEqual({
      file: FILE,
      path: '/oauth2-configuration/redirect-uris/1',
      message: expect.stringMatching(/^its wildcards may backtrack catastrophically \(polynomial time of degree 3 in the length of a hostile redirect_uri\)/),
    });
  });

  test('grant types from the known list; password only when listed', () => {
    expect(onlyProblem(oauth({ 'grant-types': ['authorization_code', 'magic'] }))).toEqual({
      file: FILE,
      path: '/oauth2-configuration/grant-types/1',
      message: expect.stringMatching(/^unknown grant type "magic"; expected one of: authorization_code, refresh_token, client_credentials, /),
    });
    expect(validateXsSecurityDocument(oauth({}), FILE).oauth2Configuration.grantTypes).not.toContain('password');
    expect(validateXsSecurityDocument(oauth({ 'grant-types': ['password'] }), FILE).oauth2Configuration.grantTypes).toEqual(['password']);
  });

  test("properties XSUAA accepts are tolerated; others are not", () => {
    expect(validateXsSecurityDocument(oauth({ autoapprove: true, 'system-attributes': [], allowedproviders: ['idp'], 'credential-types': ['x509'] }), FILE).xsappname).toBe('myapp');
    const p = onlyProblem(oauth({ 'token-validty': 900 }));
    expect(p.path).toBe('/oauth2-configuration/token-validty');
    expect(p.message).toMatch(/^unknown property "token-validty" \(expected one of: token-validity, refresh-token-validity/);
  });
});

describe('top level', () => {
  test('XSUAA properties tolerated, unknown ones refused', () => {
    expect(validateXsSecurityDocument({ ...base, description: 'x', 'authorities-inheritance': false, xsenableasyncservice: 'true' }, FILE).description).toBe('x');
    const p = onlyProblem({ ...base, 'role-template': [] });
    expect(p.path).toBe('/role-template');
    expect(p.message).toMatch(/^unknown property "role-template" \(expected one of: xsappname, tenant-mode/);
  });

  test('not an object', () => {
    expect(onlyProblem('myapp')).toEqual({ file: FILE, path: '', message: 'expected object, got string' });
  });

  test('every problem at once', () => {
    const problems = problemsOf({ xsappname: 'a!b', 'tenant-mode': 'x', 'oauth2-configuration': { 'token-validity': 1 }, 'role-templates': [{ name: 'R', 'scope-references': ['$XSAPPNAME.X'] }] });
    expect(problems.map((p) => p.path).sort()).toEqual([
      '/oauth2-configuration/token-validity',
      '/role-templates/0/scope-references/0',
      '/tenant-mode',
      '/xsappname',
    ]);
  });
});
