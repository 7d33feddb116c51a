import type { Logger } from '../log.js';

/**
 * Resolves with the exit code once SIGTERM (Cloud Foundry, Kubernetes) or SIGINT has drained the
 * gateway. With `reload`, SIGHUP reads the configuration again (nginx's and Traefik's convention)
 * instead of ending the process, Node's default for it.
 */
export function untilSignal(stop: () => Promise<void>, logger: Logger, reload?: () => Promise<unknown>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    // Kept while stopping, ignored: without a listener a SIGHUP would end the drain at once.
    const onHangUp = () => {
      if (stopping) return;
      logger.info('reloading the configuration', { signal: 'SIGHUP' });
      reload!().catch((err: unknown) => logger.error('configuration reload failed', { error: String(err) }));
    };
    if (reload) process.on('SIGHUP', onHangUp);
    const onSignal = (signal: NodeJS.Signals) => {
      // Ctrl-C reaches the workers of --workers twice: from the terminal and from their primary.
      if (stopping) return;
      stopping = true;
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
