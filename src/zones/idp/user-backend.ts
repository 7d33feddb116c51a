/**
 * A tenant's user backend (issue 13; Uitsmijter's "providers"): the zone's own login form takes the
 * user name and password, and this asks the tenant's endpoint whether they are valid.
 *
 * The call: `POST <url>` with `Content-Type: application/json` and the body
 *   {"username": "...", "password": "...", "zone": "<zone id>", "origin": "<origin key>", "nonce": "<random>", "timestamp": <unix s>}
 * signed with the shared secret in `X-Zonegate-Signature: t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
 * (the backend recomputes it over the raw body, compares in constant time, and refuses old
 * timestamps and seen nonces). Over TLS, against the configured CA when one is set.
 *
 * The answer: `200 {"valid": true, "user": {"user_name": ..., "email": ..., "groups": [...]}}`, or
 * `200 {"valid": false}` for wrong credentials. Anything else (another status, no answer within the
 * timeout, a TLS or connection failure, a body that is not such JSON) means the backend cannot decide:
 * the user sees ZG_ERR_IDP_UNAVAILABLE, never "wrong password" (which would make them retry into the
 * lockout). The password exists only in this call: never stored, never logged.
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { UserBackendConfig } from './types.js';

const MAX_ANSWER_BYTES = 64 * 1024;

export type BackendAnswer =
  | { kind: 'valid'; user: Record<string, unknown> }
  | { kind: 'invalid' }
  /** `reason` for the log only. */
  | { kind: 'unavailable'; reason: string };

export interface BackendCall {
  zoneId: string;
  originKey: string;
  userName: string;
  password: string;
  /** Unix seconds. */
  now: number;
}

/** The signature header for `body` at `timestamp` (exported for backends written in TypeScript, and the tests). */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export async function askUserBackend(config: UserBackendConfig, sharedSecret: string, call: BackendCall): Promise<BackendAnswer> {
  const body = JSON.stringify({
    username: call.userName,
    password: call.password,
    zone: call.zoneId,
    origin: call.originKey,
    nonce: randomBytes(16).toString('base64url'),
    timestamp: call.now,
  });
  const url = new URL(config.url);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<BackendAnswer>((resolve) => {
    let settled = false;
    const done = (answer: BackendAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const req = transport.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-zonegate-signature': signatureHeader(sharedSecret, call.now, body),
        },
        ...(url.protocol === 'https:' && config.caCertificate !== undefined ? { ca: config.caCertificate } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy();
            done({ kind: 'unavailable', reason: `answer larger than ${MAX_ANSWER_BYTES} bytes` });
          } else {
            chunks.push(c);
          }
        });
        res.on('error', (err) => done({ kind: 'unavailable', reason: err.message }));
        res.on('end', () => done(readAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
      },
    );
    // The whole call, connection and TLS included, within the timeout.
    const timer = setTimeout(() => {
      req.destroy();
      done({ kind: 'unavailable', reason: `no answer within ${config.timeoutMs} ms` });
    }, config.timeoutMs);
    req.on('error', (err) => done({ kind: 'unavailable', reason: `${(err as { code?: string }).code ?? ''} ${err.message}`.trim() }));
    req.end(body);
  });
}

function readAnswer(status: number, text: string): BackendAnswer {
  if (status !== 200) return { kind: 'unavailable', reason: `HTTP ${status}` };
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return { kind: 'unavailable', reason: 'the answer is not JSON' };
  }
  const a = answer as { valid?: unknown; user?: unknown };
  if (a?.valid === false) return { kind: 'invalid' };
  if (a?.valid === true && typeof a.user === 'object' && a.user !== null && !Array.isArray(a.user)) return { kind: 'valid', user: a.user as Record<string, unknown> };
  return { kind: 'unavailable', reason: 'the answer has no boolean "valid" (and a "user" object when true)' };
}
