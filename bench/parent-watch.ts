/**
 * Preloaded (`node --import`) into every process the benchmark starts, the gateway included: when
 * the benchmark dies without stopping its children (SIGKILL, OOM), the IPC channel closes and the
 * child stops itself, so no server is left holding a port or a core. SIGTERM takes the child's own
 * graceful path (the gateway's drain, and `--cpu-prof` writes its profile on that exit).
 * Nothing here runs per request.
 */
if (process.send) {
  process.on('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), 10_000).unref();
  });
}
export {};
