import { describe, expect, it } from 'vitest';
import { LruMap } from '../src/lru-map.js';

describe('LruMap', () => {
  it('forgets the least recently used entry when full; a get makes an entry recent, a peek does not', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect([lru.has('a'), lru.has('b'), lru.has('c')]).toEqual([true, false, true]);
    expect(lru.peek('a')).toBe(1);
    lru.set('d', 4);
    expect([lru.has('a'), lru.has('c'), lru.has('d')]).toEqual([false, true, true]);
    expect(lru.size).toBe(2);
  });

  it('keeps an entry that is hit while the map fills, though hits below half its capacity leave the order alone', () => {
    const lru = new LruMap<string, number>(4);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // half full: a becomes the most recent
    lru.set('c', 3);
    lru.set('d', 4);
    lru.set('e', 5); // full: the least recently used, b, goes
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => lru.has(k))).toEqual([true, false, true, true, true]);
  });

  it('drops every stale entry, wherever it stands in the order', () => {
    const lru = new LruMap<string, number>(10);
    for (const [key, value] of [['a', 1], ['b', 5], ['c', 2]] as const) lru.set(key, value);
    lru.deleteWhere((value) => value < 3);
    expect([lru.has('a'), lru.has('b'), lru.has('c')]).toEqual([false, true, false]);
    expect(lru.size).toBe(1);
    lru.clear();
    expect(lru.size).toBe(0);
  });

  it('refuses a capacity that bounds nothing', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new LruMap(capacity)).toThrow(RangeError);
  });
});
