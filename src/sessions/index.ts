/** Server-side sessions: the store, the keyring that seals their tokens, and the one opener of a request's session. */
export { createKeyring, parseSessionKeys, MIN_SECRET_LENGTH } from './crypto.js';
export type { Keyring, SessionKey } from './crypto.js';
export { createSessionOpener } from './request-session.js';
export type { OpenedSession, RecentSession, SessionOpener, SessionOpenerOptions } from './request-session.js';
export { StorageSessionStore } from './store.js';
export type { SessionStoreOptions } from './store.js';
export type { GatewaySessionData, SessionTokens, SessionUser } from './types.js';
