import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { DeploymentStatusReport } from '../../contracts/deployments.js';
import { StatusReporter } from './status-reporter.js';

const log = Fastify({ logger: false }).log;

describe('StatusReporter', () => {
  it('sends whole reports on changes only, and retries a failed send until it gets through', async () => {
    const sent: DeploymentStatusReport[] = [];
    let down = true;
    const reporter = new StatusReporter(async (report) => {
      if (down) throw new Error('connect ECONNREFUSED');
      sent.push(structuredClone(report));
    }, log);
    reporter.set('energy', 1, 'downloading');
    reporter.set('anomaly', 4, 'serving');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toEqual([]);
    down = false;
    const deadline = Date.now() + 5000;
    while (sent.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent.at(-1)?.deployments).toEqual([
      { name: 'energy', version: 1, state: 'downloading', servingVersion: null },
      { name: 'anomaly', version: 4, state: 'serving', servingVersion: null },
    ]);
    const count = sent.length;
    reporter.set('anomaly', 4, 'serving');
    reporter.set('energy', 1, 'failed', 'corrupt');
    reporter.delete('anomaly');
    while (sent.at(-1)?.deployments.length !== 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await reporter.stop();
    // Coalesced: the three changes went out in at most two reports.
    expect(sent.length - count).toBeLessThanOrEqual(2);
    expect(sent.at(-1)?.deployments).toEqual([{ name: 'energy', version: 1, state: 'failed', reason: 'corrupt', servingVersion: null }]);
  });

  it("adds the serving version's request counters, and reports again when only they moved", async () => {
    const sent: DeploymentStatusReport[] = [];
    const usage = { version: 3, requests: 10, errors: 1 };
    const reporter = new StatusReporter(
      async (report) => {
        sent.push(structuredClone(report));
      },
      log,
      (name) => (name === 'energy' ? usage : undefined),
      20,
    );
    reporter.set('energy', 3, 'serving', undefined, 3);
    // Counters of another version than the one serving are not this status's.
    reporter.set('anomaly', 2, 'loading', undefined, null);
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await until(() => sent.at(-1)?.deployments.length === 2);
    expect(sent.at(-1)?.deployments[0]).toMatchObject({ name: 'energy', requests: 10, errors: 1 });
    expect(sent.at(-1)?.deployments[1]).not.toHaveProperty('requests');
    const count = sent.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sent.length).toBe(count);
    usage.requests = 25;
    await until(() => sent.length > count);
    await reporter.stop();
    expect(sent.at(-1)?.deployments[0]).toMatchObject({ name: 'energy', requests: 25, errors: 1 });
  });

  it('adds where requests ran (local, offloaded), whatever version serves, and reports again when only they moved', async () => {
    const sent: DeploymentStatusReport[] = [];
    const ran = { local: 4, offloaded: 2 };
    const reporter = new StatusReporter(
      async (report) => {
        sent.push(structuredClone(report));
      },
      log,
      () => undefined,
      20,
      (name) => (name === 'energy' ? ran : undefined),
    );
    reporter.set('energy', 3, 'loading', undefined, null);
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await until(() => sent.length > 0);
    expect(sent.at(-1)?.deployments[0]).toMatchObject({ name: 'energy', localRequests: 4, offloadedRequests: 2 });
    const count = sent.length;
    ran.offloaded = 7;
    await until(() => sent.length > count);
    await reporter.stop();
    expect(sent.at(-1)?.deployments[0]).toMatchObject({ localRequests: 4, offloadedRequests: 7 });
  });
});
