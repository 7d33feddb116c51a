/** The built-in identity zones: what the gateway and the CLI use. */
export { createIdentityServer } from './server.js';
export type { IdentityServer, IdentityServerOptions } from './server.js';
export { credentialsFor } from './oauth/credentials.js';
export type { XsuaaCredentials } from './oauth/credentials.js';
export { createKeyStore } from './keys/keystore.js';
export type { KeyStore, TokenKey } from './keys/keystore.js';
export { removeZone } from './removal.js';
export type { ZoneRemovalParts } from './removal.js';
export { compileRedirectPattern, compileRedirectPatterns, isAllowedRedirectUri } from './oauth/redirect-uri.js';
export { audienceFor } from './oauth/tokens.js';
export type { ZoneTokenClaims } from './oauth/tokens.js';
