import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers and share one Redis; keep the 2-core machine unsaturated.
    maxWorkers: 2,
  },
});
