/// <reference lib="dom" />
/**
 * The end-to-end case of issue 16: a UI5-structured application built for the repository (the
 * fixture: manifest.json, xs-app.json, index.html, Component.js), zipped as a build would, deployed,
 * and opened in Chromium through the gateway: the user logs in at the tenant's zone, the application
 * loads from the repository, and its data request goes through its own xs-app.json route to a
 * destination with the user's token.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAppZip } from '../../src/html5-apps/package.js';
import { createHtml5Apps } from '../../src/html5-apps/serve.js';
import { createHtml5AppStore } from '../../src/html5-apps/store.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { launchChromium } from '../support/chromium.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';
import { openTestRecords } from '../support/records.js';
import { makeZip } from '../support/zip.js';
import { ORDERS_APP } from './fixtures.js';
import { startOrdersBackend, type OrdersBackend } from './orders-backend.js';

describe('a UI5 application from the repository, in Chromium', () => {
  let stack: LoginStack;
  let backend: OrdersBackend;
  let records: RecordsDatabase;
  let browser: Browser;

  beforeAll(async () => {
    backend = await startOrdersBackend();
    records = await openTestRecords();
    const store = createHtml5AppStore(records);
    const zip = makeZip(fs.readdirSync(ORDERS_APP).map((name) => ({ name, content: fs.readFileSync(path.join(ORDERS_APP, name)) })));
    await store.deploy([await readAppZip('orders.zip', zip)]);
    stack = await startLoginStack({
      // The central router of a repository-based application, as SAP's samples write it.
      routes: { authenticationMethod: 'route', routes: [{ source: '^(.*)$', target: '$1', service: 'html5-apps-repo-rt', authenticationType: 'xsuaa' }] },
      destinations: [{ name: 'orders-backend', url: backend.url }],
      html5Apps: (xsappname) => createHtml5Apps({ store, xsappname }),
    });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await backend?.close();
    await records?.close();
  });

  it('logs in, loads the application and shows the data its destination returns', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const failed: string[] = [];
    page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
    await page.goto(`${stack.base('acme')}/comexampleorders/`);
    // Not logged in: the tenant's own zone asks.
    expect(new URL(page.url()).host).toBe(`acme.localhost:${stack.zones.port}`);
    await page.fill('input[name="username"]', 'alice');
    await page.fill('input[name="password"]', 'correct-horse-1');
    await Promise.all([page.waitForURL(`${stack.base('acme')}/comexampleorders/index.html`), page.click('button[type="submit"], input[type="submit"]')]);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 30_000 });
    expect(await page.textContent('#title')).toBe('Orders');
    expect(await page.textContent('#user-name')).toBe('alice');
    expect(await page.$$eval('#orders li', (items) => items.map((i) => i.textContent))).toEqual(['O-1: Bicycle', 'O-2: Helmet']);
    // The data request took the application's route to its destination, with alice's token.
    expect(backend.seen).toContainEqual({ path: '/orders', bearer: true });
    expect(failed).toEqual([]);
    await page.screenshot({ path: `${process.env.SCREENSHOT_DIR ?? '/tmp'}/zonegate-html5-app.png` });
    // The same application under its version and its service prefix.
    for (const prefix of ['comexampleorders-1.0.0', 'comexampleshop.comexampleorders']) {
      await page.goto(`${stack.base('acme')}/${prefix}/`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 30_000 });
      expect(page.url()).toBe(`${stack.base('acme')}/${prefix}/index.html`);
      expect(await page.$$eval('#orders li', (items) => items.length)).toBe(2);
    }
    await context.close();
  }, 90_000);
});
