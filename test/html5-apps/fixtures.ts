import { fileURLToPath } from 'node:url';

/** A built UI5-style application (manifest.json, xs-app.json, index.html, Component.js), as the repository takes it. */
export const ORDERS_APP = fileURLToPath(new URL('./fixtures/orders/', import.meta.url));
