import { beforeAll, beforeEach } from 'vitest';

/**
 * `beforeAll`, except that when `setup` throws, each test of the suite fails with its error:
 * vitest reports the tests under a failed `beforeAll` as skipped, and a test whose dependency is
 * missing must fail, never be skipped. The suite's `afterAll` still runs, so it should clean up
 * only what setup got to start.
 *
 * @example
 * beforeAllOrFail(async () => {
 *   browser = await launchChromium();
 * }, 120_000);
 */
export function beforeAllOrFail(setup: () => Promise<void>, timeoutMs?: number): void {
  let failure: { error: unknown } | undefined;
  beforeAll(async () => {
    try {
      await setup();
    } catch (error) {
      failure = { error };
    }
  }, timeoutMs);
  beforeEach(() => {
    if (failure) throw failure.error;
  });
}
