import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Before any test: stops the run with one message when this machine lacks something the
    // selected tests need (Chromium, Prometheus, the databases…) and says how to install it.
    globalSetup: ['test/support/preflight.ts'],
    pool: 'forks',
    // Two cores: more workers only make the cross-process tests fight for CPU.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
