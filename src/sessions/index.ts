/** Server-side sessions: the express-session store and the keyring that seals their tokens. */
export { createKeyring, parseSessionKeys, MIN_SECRET_LENGTH } from './crypto.js';
export type { Keyring, SessionKey } from './crypto.js';
export { StorageSessionStore } from './store.js';
export type { SessionStoreOptions } from './store.js';
export type { SessionTokens } from './types.js';
