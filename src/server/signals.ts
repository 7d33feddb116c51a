import type { Logger } from '../log.js';

/** Resolves with the exit code once SIGTERM (Cloud Foundry, Kubernetes) or SIGINT has drained the gateway. */
export function untilSignal(stop: () => Promise<void>, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info('shutting down', { signal });
      stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error('shutdown failed', { error: String(err) });
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
