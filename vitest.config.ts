import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/infra/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // The suites share one Kafka broker and one MongoDB wire server on a two-core machine.
    fileParallelism: false,
  },
});
