/**
 * The event relay's and the webhooks' settings, read by readSettings (src/config/environment.ts, the
 * one reader of the environment) from EVENTS_*. Off until EVENTS_ADMIN_TOKEN is set: then the gateway
 * answers `/webhooks/...`, `/events` and its admin API `/_zonegate/events/...`, `/_zonegate/webhooks/...`.
 */
export interface EventsSettings {
  /** `EVENTS_ADMIN_TOKEN`: the bearer credential of the admin API (publishing, subscriptions, webhooks, dead letters). */
  adminToken: string;
  /** `EVENTS_POLL_RATE_LIMIT`: `GET /events` requests per minute and polling token. */
  pollPerMinute: number;
  /** `EVENTS_MAX_ATTEMPTS`: delivery attempts before a delivery goes to the dead letters. */
  maxAttempts: number;
  /**
   * `EVENTS_DELIVERY_TIMEOUT_MS`: the longest wait for a subscriber's answer. A delivery is leased
   * for twice this plus a second: an instance that dies mid-delivery leaves it to another after that.
   */
  deliveryTimeoutMs: number;
  /** `EVENTS_RETENTION_DAYS`: how long published events stay pollable (and their ids recognised as repeats). */
  retentionDays: number;
}

type Environment = Readonly<Record<string, string | undefined>>;

// RFC 6750 §2.1's b68token, as METRICS_TOKEN.
const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const MIN_TOKEN = 16;

export function readEventsSettings(env: Environment, problem: (variable: string, message: string) => void): EventsSettings | undefined {
  const token = env.EVENTS_ADMIN_TOKEN || undefined;
  if (token !== undefined) {
    if (!BEARER_TOKEN.test(token)) problem('EVENTS_ADMIN_TOKEN', 'expected a bearer token: letters, digits and -._~+/ (e.g. from `openssl rand -hex 32`)');
    else if (token.length < MIN_TOKEN) problem('EVENTS_ADMIN_TOKEN', `expected at least ${MIN_TOKEN} characters`);
  }
  const whole = (name: 'EVENTS_POLL_RATE_LIMIT' | 'EVENTS_MAX_ATTEMPTS' | 'EVENTS_DELIVERY_TIMEOUT_MS' | 'EVENTS_RETENTION_DAYS', fallback: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
      problem(name, `expected a whole number between 1 and ${max}, got "${raw}"`);
      return fallback;
    }
    return Number(raw);
  };
  const pollPerMinute = whole('EVENTS_POLL_RATE_LIMIT', 60, 100_000);
  const maxAttempts = whole('EVENTS_MAX_ATTEMPTS', 8, 100);
  const deliveryTimeoutMs = whole('EVENTS_DELIVERY_TIMEOUT_MS', 10_000, 300_000);
  const retentionDays = whole('EVENTS_RETENTION_DAYS', 30, 3650);
  if (token === undefined) {
    for (const name of ['EVENTS_POLL_RATE_LIMIT', 'EVENTS_MAX_ATTEMPTS', 'EVENTS_DELIVERY_TIMEOUT_MS', 'EVENTS_RETENTION_DAYS'] as const) {
      if (env[name]) problem(name, 'only used when the event relay is on (EVENTS_ADMIN_TOKEN)');
    }
    return undefined;
  }
  return Object.freeze({ adminToken: token, pollPerMinute, maxAttempts, deliveryTimeoutMs, retentionDays });
}
