/**
 * A client-credentials access token of the application (RFC 6749 §4.4), for the status reports of
 * asynchronous subscriptions (./status-report.ts). Fetched over HTTP from the provider zone's token
 * endpoint like any client would (built-in zones or XSUAA alike), with `client_secret_post` as
 * @sap/xssec sends it (REFERENCE.md §3), and reused until a minute before it expires.
 */
export interface ClientTokenOptions {
  /** The zone's base URL (an xsuaa binding's `url`); the token endpoint is `<url>/oauth/token`. */
  url: string;
  clientId: string;
  clientSecret: string;
  fetch?: (url: string | URL, init?: RequestInit) => Promise<Response>;
  now?: () => number;
}

const EARLY_MS = 60_000;

export function createClientTokenGetter(options: () => ClientTokenOptions): () => Promise<string> {
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const o = options();
    const now = o.now ?? Date.now;
    const res = await (o.fetch ?? fetch)(`${o.url.replace(/\/+$/, '')}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: o.clientId, client_secret: o.clientSecret }).toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
    if (!res.ok || typeof body.access_token !== 'string') {
      throw new Error(`the token endpoint answered ${res.status}${typeof body.error === 'string' ? ` (${body.error})` : ''}`);
    }
    const lifetimeMs = typeof body.expires_in === 'number' ? body.expires_in * 1000 : 0;
    cached = { token: body.access_token, expiresAt: now() + lifetimeMs - EARLY_MS };
    return body.access_token;
  }

  return async () => {
    const now = options().now ?? Date.now;
    if (cached && cached.expiresAt > now()) return cached.token;
    // Concurrent reports share one request.
    pending ??= fetchToken().finally(() => (pending = undefined));
    return pending;
  };
}
