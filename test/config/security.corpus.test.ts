/**
 * 35 real xs-security.json files (../shared/corpus/xs-security). They have no SAP verdict (the router
 * does not read them), so the table states, per file, whether zonegate loads it or which specific
 * problem refuses it, and why that is right.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadXsSecurity } from '../../src/config/security.js';
import { ConfigError, type ConfigProblem } from '../../src/errors.js';
import type { XsSecurity } from '../../src/config/types.js';

const corpusDir = fileURLToPath(new URL('../../../shared/corpus/xs-security/', import.meta.url));

type Expectation =
  | { loads: Partial<Pick<XsSecurity, 'xsappname' | 'tenantMode'>> & { tokenValidity?: number; scopes?: number } }
  | { refused: { path: string; message: RegExp }[] };

const XSAPPNAME_MISSING = { path: '/xsappname', message: /^is required \(MTA projects often set it in mta\.yaml/ };

const table: Record<string, Expectation> = {
  '001.json': { loads: { xsappname: 'travustabtravelproc', tokenValidity: 9000 } }, // leading blank line, xsenableasyncservice "true"
  '002.json': { loads: { xsappname: 'itsm-demo', scopes: 4 } },
  '003.json': { loads: { xsappname: 'user-infov2' } }, // attribute-references as objects
  '004.json': { loads: { xsappname: 'smart-returns-approuter' } },
  '005.json': { loads: { xsappname: 'oilAndGas_Tracking' } },
  '006.json': { refused: [XSAPPNAME_MISSING] },
  '007.json': { loads: { xsappname: 'ztesttoken-auth' } }, // grant-types incl. password, user_token
  '008.json': { loads: { xsappname: 'remunerations', scopes: 5 } },
  '010.json': { loads: { xsappname: 'pp-backendServices-001' } },
  '012.json': { loads: { xsappname: 'javarest' } },
  '014.json': { loads: { xsappname: 'weikaopu', scopes: 2 } }, // UTF-16LE with BOM, CRLF
  '015.json': { loads: { xsappname: 'recyclone' } },
  '016.json': { loads: { xsappname: 'labsupplies' } },
  '017.json': { loads: { xsappname: 'orderapp' } },
  '019.json': { loads: { xsappname: 'HiMTA', scopes: 0 } },
  '021.json': {
    refused: [{ path: '/role-collections/0/role-template-references/0', message: /^role template "Forecasting_Administrator" is not declared in role-templates/ }],
  },
  '022.json': { loads: { xsappname: 'product-list' } },
  '023.json': { loads: { xsappname: 'trix-xsuaa', scopes: 11 } },
  '024.json': { loads: { xsappname: 'bookshop-demo' } }, // valueType "s" (SAP's shorthand)
  '025.json': { refused: [{ path: '/xsappname', message: /^contains the unresolved MTA placeholder "\$\{space\}"/ }] },
  '026.json': {
    // Scopes are referenced but never declared (the project adds them in mta.yaml).
    refused: [
      { path: '/role-templates/0/scope-references/0', message: /^scope "\$XSAPPNAME\.MtxDiagnose" is not declared in scopes/ },
      { path: '/role-templates/0/scope-references/1', message: /^scope "\$XSAPPNAME\.mtdeployment" is not declared/ },
      { path: '/role-templates/0/scope-references/2', message: /^scope "\$XSAPPNAME\.mtcallback" is not declared/ },
      { path: '/role-templates/1/scope-references/0', message: /^scope "\$XSAPPNAME\.cds\.ExtensionDeveloper" is not declared/ },
      { path: '/role-templates/2/scope-references/0', message: /^scope "\$XSAPPNAME\.admin" is not declared/ },
      { path: '/role-templates/3/scope-references/0', message: /^scope "\$XSAPPNAME\.Display" is not declared/ },
    ],
  },
  '027.json': { loads: { xsappname: 'fake-html5-repo-auth', scopes: 0 } },
  '029.json': { loads: { xsappname: 'wordle' } },
  '030.json': { loads: { xsappname: 'dpp-capgemini' } },
  '033.json': { loads: { xsappname: 'FSMApp', tokenValidity: 900 } }, // $ACCEPT_GRANTED_SCOPES, system-attributes
  '034.json': { loads: { xsappname: 'developer-keynote' } },
  '035.json': { loads: { xsappname: 'BTP-DynamicBackend' } }, // valueRequired "false" as a string
  '038.json': { refused: [XSAPPNAME_MISSING] },
  '039.json': { refused: [XSAPPNAME_MISSING] },
  '040.json': { refused: [XSAPPNAME_MISSING] },
  '042.json': { refused: [XSAPPNAME_MISSING] },
  '046.json': { loads: { xsappname: 'flp' } }, // uaa.user referenced without declaration
  '048.json': { loads: { xsappname: 'springBtp', tenantMode: 'shared', tokenValidity: 86400 } },
  '049.json': {
    // XSUAA: role-template names are letters, digits, ".", "-", "_" (no spaces).
    refused: [
      { path: '/role-templates/0/name', message: /^expected letters, digits, "\.", "-" and "_", at most 64 characters, got "Viewing Role"$/ },
      { path: '/role-templates/1/name', message: /^expected letters, digits, "\.", "-" and "_", at most 64 characters, got "Editing Role"$/ },
    ],
  },
  '050.json': { loads: { xsappname: 'multitenant-xsuaa', tenantMode: 'shared' } },
};

test('the table covers every corpus file', () => {
  expect(Object.keys(table).sort()).toEqual(readdirSync(corpusDir).sort());
});

describe('xs-security corpus', () => {
  test.each(Object.entries(table))('%s', (file, expectation) => {
    let loaded: XsSecurity | undefined;
    let problems: readonly ConfigProblem[] = [];
    try {
      loaded = loadXsSecurity(corpusDir + file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    if ('loads' in expectation) {
      expect(problems).toEqual([]);
      const { tokenValidity, scopes, ...rest } = expectation.loads;
      expect(loaded).toMatchObject(rest);
      if (tokenValidity !== undefined) expect(loaded?.oauth2Configuration.tokenValidity).toBe(tokenValidity);
      if (scopes !== undefined) expect(loaded?.scopes).toHaveLength(scopes);
    } else {
      expect(loaded).toBeUndefined();
      expect(problems.map((p) => ({ path: p.path, message: p.message }))).toEqual(
        expectation.refused.map((r) => ({ path: r.path, message: expect.stringMatching(r.message) })),
      );
      for (const p of problems) expect(p.file).toBe(corpusDir + file);
    }
  });
});
