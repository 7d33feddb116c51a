/**
 * How many requests may use a destination's connections at once, and how long the others wait.
 *
 * Node's agent queues the requests above its `maxSockets` without any bound: while slow uploads or
 * a stalled backend hold every connection, each further request waits until its client gives up,
 * and may still be sent to the backend after the gateway has stopped waiting for it. The wait is
 * bounded here instead, before a request is handed to the agent, so that a request refused for
 * lack of a connection is refused cleanly (503) and is never sent. The agent itself is unlimited.
 */
export interface Waiter {
  readonly start: () => void;
  readonly expire: () => void;
  timer: NodeJS.Timeout | undefined;
}

export class ConnectionLimit {
  #active = 0;
  /** In arrival order (a Set iterates in insertion order): the longest waiting goes first. */
  readonly #waiting = new Set<Waiter>();

  constructor(
    readonly max: number,
    readonly waitMs: number,
  ) {}

  /** Takes a connection if one is free. The common case: no allocation, no timer. */
  tryAcquire(): boolean {
    if (this.#active >= this.max) return false;
    this.#active++;
    return true;
  }

  /**
   * Queues for a connection: `start` runs when one is handed over (it is then held, to be given back
   * with release()), or `expire` runs after `waitMs` without one. cancel() withdraws from the queue.
   */
  wait(start: () => void, expire: () => void): Waiter {
    const waiter: Waiter = { start, expire, timer: undefined };
    waiter.timer = setTimeout(() => {
      this.#waiting.delete(waiter);
      expire();
    }, this.waitMs);
    this.#waiting.add(waiter);
    return waiter;
  }

  cancel(waiter: Waiter): void {
    if (this.#waiting.delete(waiter)) clearTimeout(waiter.timer);
  }

  /** Gives a connection back: to the longest waiting request, if any. */
  release(): void {
    for (const next of this.#waiting) {
      this.#waiting.delete(next);
      clearTimeout(next.timer);
      next.start();
      return;
    }
    this.#active--;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.size;
  }
}
