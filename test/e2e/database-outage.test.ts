/**
 * The database goes away under load and comes back: the control plane (a real `fogline server`
 * on its own PostgreSQL) answers 503 with Retry-After while it is down — never a 500, never a
 * crash — and serves again once it is back, without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { PrivatePostgres } from '../support/private-postgres.js';
import { eventually } from '../support/processes.js';

describe('database outage (real PostgreSQL stopped and started)', { timeout: 120_000 }, () => {
  let postgres: PrivatePostgres;
  let cluster: TestCluster;

  beforeAll(async () => {
    postgres = await PrivatePostgres.create();
    postgres.start();
    cluster = await TestCluster.start('outage', ['--db', postgres.url, '--log-level', 'fatal']);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    postgres?.destroy();
  });

  async function call(route: string, init: RequestInit = {}): Promise<{ status: number; retryAfter: string | null; code?: string }> {
    const response = await fetch(`${cluster.url}${route}`, {
      ...init,
      headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json', ...init.headers },
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await response.json().catch(() => ({}))) as { code?: string };
    return { status: response.status, retryAfter: response.headers.get('retry-after'), code: body.code };
  }

  it('answers 503 with Retry-After while PostgreSQL is down, and recovers by itself when it is back', async () => {
    const seen: { status: number; retryAfter: string | null; code?: string; route: string }[] = [];
    let stop = false;
    let phase: 'before' | 'down' | 'after' = 'before';
    const byPhase = { before: [] as number[], down: [] as number[], after: [] as number[] };
    const routes = ['/api/v1/nodes', '/api/v1/models', '/readyz'];
    const loops = routes.map(async (route) => {
      while (!stop) {
        const answer = await call(route).catch((error: Error) => ({ status: -1, retryAfter: null, code: error.message }));
        seen.push({ ...answer, route });
        byPhase[phase].push(answer.status);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    phase = 'down';
    postgres.stop();
    // The outage is visible as coded 503s with Retry-After.
    await eventually(async () => (seen.some((s) => s.status === 503) ? true : undefined), 20_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // A write during the outage is refused the same way, not half-done.
    const write = await call('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'during-outage', role: 'viewer' }) });
    expect(write).toMatchObject({ status: 503, retryAfter: '5', code: 'FOGLINE_ERR_DB_UNAVAILABLE' });
    postgres.start();
    phase = 'after';
    await eventually(
      async () => {
        const answers = await Promise.all(routes.map((route) => call(route)));
        return answers.every((a) => a.status === 200) ? true : undefined;
      },
      30_000,
      200,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop = true;
    await Promise.all(loops);

    expect(byPhase.before.every((status) => status === 200)).toBe(true);
    const unavailable = seen.filter((s) => s.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const answer of unavailable) expect(answer).toMatchObject({ retryAfter: '5', code: 'FOGLINE_ERR_DB_UNAVAILABLE' });
    // Never a 500 for the database being away, never a dropped connection.
    expect(seen.filter((s) => s.status !== 200 && s.status !== 503)).toEqual([]);
    // The process never restarted: the same server answers, and nothing was written during the outage.
    expect(cluster.server.child.exitCode).toBeNull();
    const tokens = (await (
      await fetch(`${cluster.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${cluster.adminToken}` } })
    ).json()) as {
      tokens: { name: string }[];
    };
    expect(tokens.tokens.map((t) => t.name)).not.toContain('during-outage');
  });
});
