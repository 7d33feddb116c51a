/**
 * The gateway's `/platform/v1/` endpoints assembled from what the start has built (one line in
 * src/server/start.ts). Organizations and autologin need the built-in zones and provisioning (a
 * tenant to create, a zone to log in at); the relay needs only the records, the storage and the
 * secret key, so it works for an installation with an external XSUAA too.
 */
import type { Settings } from '../config/environment.js';
import type { Logger } from '../log.js';
import type { Provisioning } from '../provisioning/service.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import type { Zones } from '../zones/start.js';
import { createAssertionVerifier } from './assertion.js';
import { createAudit } from './audit.js';
import { createPlatformHandler, type PlatformHandler } from './handler.js';
import { createRelay, createRelayInstallations, RELAY_CALLBACK_PATH, type Relay } from './relay.js';
import type { ZoneRelay } from '../zones/idp/services.js';
import { zonesPublicUrl } from '../zones/start.js';
import { createTrustedPlatforms } from './trusted-platforms.js';

/**
 * The redirect relay, made before the zones so that their identity providers can answer through it
 * (`useRelay`): its zone-facing side is the relay's callback on the bare UAA_DOMAIN (the gateway
 * answers /platform/ there before it hands a host to the zones), one URL for every zone.
 */
export function createGatewayRelay(input: {
  settings: Pick<Settings, 'uaaDomain' | 'uaaUrl'>;
  port: number;
  storage: Storage;
  records: RecordsDatabase;
  secretKey: () => Uint8Array;
  logger: Logger;
}): Relay & { zones: ZoneRelay } {
  const publicUrlFor = zonesPublicUrl(input.settings, input.port);
  const relay = createRelay({
    installations: createRelayInstallations(input.records),
    storage: input.storage,
    secretKey: input.secretKey,
    audit: createAudit(input.logger.child({ component: 'platform' })),
    zones: { uaaDomain: input.settings.uaaDomain, publicUrlFor },
  });
  return { ...relay, zones: { callbackUrl: `${publicUrlFor()}${RELAY_CALLBACK_PATH}`, stateFor: (url, state) => relay.stateForZone(url, state) } };
}

export function setUpPlatform(input: {
  settings: Pick<Settings, 'trustedProxies' | 'uaaDomain'>;
  storage: Storage;
  records: RecordsDatabase;
  zones: Zones | undefined;
  provisioning: Provisioning | undefined;
  secretKey: () => Uint8Array;
  logger: Logger;
  /** The relay made by createGatewayRelay; by default one without the zones' side. */
  relay?: Relay;
}): PlatformHandler {
  const { storage, records, zones, provisioning } = input;
  const logger = input.logger.child({ component: 'platform' });
  const audit = createAudit(logger);
  const platforms = createTrustedPlatforms(records);
  const verifier = createAssertionVerifier({ platforms, storage });
  const relay = input.relay ?? createRelay({ installations: createRelayInstallations(records), storage, secretKey: input.secretKey, audit });
  return createPlatformHandler({
    trustedProxies: input.settings.trustedProxies,
    logger,
    relay,
    ...(zones && provisioning
      ? {
          organizations: { platforms, verifier, provisioning, adminRoleCollection: provisioning.adminRoleCollection, audit },
          autologin: {
            platforms,
            verifier,
            directory: zones.directory,
            records,
            storage,
            uaaDomain: input.settings.uaaDomain,
            zoneUrlFor: (subdomain: string) => zones.publicUrlFor(subdomain),
            tenantUrlFor: provisioning.tenantUrlFor,
            audit,
            now: Date.now,
          },
        }
      : {}),
  });
}
