/** Server-side sessions: the express-session store, the keyring that seals their tokens, and the refresh lock. */
export { createKeyring, parseSessionKeys, MIN_SECRET_LENGTH } from './crypto.js';
export type { Keyring, SessionKey } from './crypto.js';
export { StorageSessionStore } from './store.js';
export type { SessionStoreOptions } from './store.js';
export { withLock, LockTimeoutError } from './lock.js';
export type { LockOptions } from './lock.js';
export type { SessionTokens } from './types.js';
