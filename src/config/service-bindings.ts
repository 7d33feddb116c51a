/**
 * Cloud Foundry service bindings in VCAP_SERVICES (REFERENCE.md §12): found by label or tag, and the
 * parts of their credentials that every kind of service spells alike. Read by readSettings' helpers
 * only (one reader of the environment).
 */

/** The first binding whose label (the instance's `label`, else its key) or one of whose tags `matches`. */
export function firstBinding(
  vcap: Record<string, unknown>,
  matches: (label: string, tags: readonly string[]) => boolean,
): { credentials: unknown; at: string } | undefined {
  for (const [serviceLabel, instances] of Object.entries(vcap)) {
    if (!Array.isArray(instances)) continue;
    for (const [i, instance] of instances.entries()) {
      if (!isRecord(instance)) continue;
      const label = typeof instance['label'] === 'string' ? instance['label'] : serviceLabel;
      const tags = Array.isArray(instance['tags']) ? instance['tags'].filter((t): t is string => typeof t === 'string') : [];
      if (matches(label, tags)) return { credentials: instance['credentials'], at: `/${serviceLabel}/${i}/credentials` };
    }
  }
  return undefined;
}

/** The CA of a binding: PEM text, or base64 of it (`ca_base64`); undefined when none is given. */
export function caFromCredentials(c: Record<string, unknown>): string | { problem: string; field: string } | undefined {
  for (const field of ['ca_base64', 'server_ca', 'sslrootcert']) {
    const value = c[field];
    if (typeof value !== 'string' || value.trim() === '') continue;
    const pem = value.includes('-----BEGIN') ? value : Buffer.from(value, 'base64').toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) return { problem: `expected "${field}" to hold PEM certificates${field === 'ca_base64' ? ' in base64' : ''}`, field: `/${field}` };
    return pem;
  }
  return undefined;
}

/** A TCP port, given as number or digits. */
export function portOf(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n > 0 && n <= 65535 ? n : undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
