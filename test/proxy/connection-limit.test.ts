import { describe, expect, it } from 'vitest';
import { ConnectionLimit } from '../../src/proxy/connection-limit.js';

describe('ConnectionLimit', () => {
  it('hands a freed connection to the longest waiting request, skipping those withdrawn', () => {
    const limit = new ConnectionLimit(1, 60_000);
    const started: string[] = [];
    expect(limit.tryAcquire()).toBe(true);
    expect(limit.tryAcquire()).toBe(false);
    const first = limit.wait(() => started.push('first'), () => started.push('first expired'));
    limit.wait(() => started.push('second'), () => started.push('second expired'));
    limit.cancel(first);
    limit.release();
    expect(started).toEqual(['second']);
    expect(limit.active).toBe(1);
    limit.release();
    expect(limit.active).toBe(0);
    expect(limit.waiting).toBe(0);
  });

  it('expires a request that waited waitMs, and it no longer takes a connection', async () => {
    const limit = new ConnectionLimit(1, 20);
    limit.tryAcquire();
    const outcome = await new Promise<string>((resolve) => limit.wait(() => resolve('started'), () => resolve('expired')));
    expect(outcome).toBe('expired');
    limit.release();
    expect(limit.active).toBe(0);
  });
});
