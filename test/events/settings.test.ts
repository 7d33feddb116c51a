import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { backoffMs } from '../../src/events/worker.js';
import { signBody, signatureOf, verifySignature } from '../../src/webhooks/signature.js';
import { settingsProblems } from '../config/settings-problems.js';

const cwd = os.tmpdir();

describe('readSettings: events (issue 15 part 3)', () => {
  it('leaves webhooks and events off without EVENTS_ADMIN_TOKEN, and reads their defaults with it', () => {
    expect(readSettings({}, { cwd }).events).toBeUndefined();
    const token = 'e'.repeat(32);
    expect(readSettings({ EVENTS_ADMIN_TOKEN: token }, { cwd }).events).toEqual({ adminToken: token, pollPerMinute: 60, maxAttempts: 8, deliveryTimeoutMs: 10_000, retentionDays: 30 });
    expect(readSettings({ EVENTS_ADMIN_TOKEN: token, EVENTS_POLL_RATE_LIMIT: '5', EVENTS_MAX_ATTEMPTS: '3', EVENTS_DELIVERY_TIMEOUT_MS: '2500' }, { cwd }).events).toMatchObject({ pollPerMinute: 5, maxAttempts: 3, deliveryTimeoutMs: 2500 });
  });

  it('names every bad EVENTS_ variable at once', () => {
    expect(settingsProblems({ EVENTS_ADMIN_TOKEN: 'short', EVENTS_POLL_RATE_LIMIT: '0', EVENTS_MAX_ATTEMPTS: 'many', EVENTS_DELIVERY_TIMEOUT_MS: '-1' }, cwd)).toEqual([
      'environment variable EVENTS_ADMIN_TOKEN: expected at least 16 characters',
      'environment variable EVENTS_POLL_RATE_LIMIT: expected a whole number between 1 and 100000, got "0"',
      'environment variable EVENTS_MAX_ATTEMPTS: expected a whole number between 1 and 100, got "many"',
      'environment variable EVENTS_DELIVERY_TIMEOUT_MS: expected a whole number between 1 and 300000, got "-1"',
    ]);
    // Not silently ignored while the feature is off.
    expect(settingsProblems({ EVENTS_MAX_ATTEMPTS: '3' }, cwd)).toEqual(['environment variable EVENTS_MAX_ATTEMPTS: only used when the event relay is on (EVENTS_ADMIN_TOKEN)']);
  });
});

describe('webhook signatures', () => {
  const body = Buffer.from('{"a":1}');
  it('accepts its own signature, and any one of several v1 values (secret rotation)', () => {
    expect(verifySignature(signBody('s1', body, 1000), 's1', body, { nowSeconds: 1000 })).toBe('valid');
    expect(verifySignature(`t=1000,v1=${signatureOf('old', 1000, body)},v1=${signatureOf('s1', 1000, body)}`, 's1', body, { nowSeconds: 1000 })).toBe('valid');
  });
  it('tells missing, malformed, stale and wrong apart', () => {
    expect(verifySignature(undefined, 's1', body)).toBe('missing');
    expect(verifySignature('v1=abc', 's1', body)).toBe('malformed');
    expect(verifySignature(['t=1', 't=2'], 's1', body)).toBe('malformed');
    expect(verifySignature(`t=1000,t=1000,v1=${signatureOf('s1', 1000, body)}`, 's1', body, { nowSeconds: 1000 })).toBe('malformed');
    expect(verifySignature(signBody('s1', body, 1000), 's1', body, { nowSeconds: 1301 })).toBe('stale');
    expect(verifySignature(signBody('s1', body, 1301), 's1', body, { nowSeconds: 1000 })).toBe('stale');
    expect(verifySignature(signBody('s2', body, 1000), 's1', body, { nowSeconds: 1000 })).toBe('mismatch');
  });
});

describe('retry back-off', () => {
  it('waits a random time under a cap that doubles per attempt, up to the maximum', () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(a, 1000, 600_000, () => 0.999999))).toEqual([999, 1999, 3999, 7999]);
    expect(backoffMs(30, 1000, 600_000, () => 0.5)).toBe(300_000);
    expect(backoffMs(3, 1000, 600_000, () => 0)).toBe(0);
  });
});
