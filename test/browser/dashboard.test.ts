/**
 * The web dashboard in a real browser (Debian's Chromium, driven by playwright-core) against real
 * processes: a control plane on SQLite and two `fogline agent`s. Log in, see the nodes, start a
 * run from the UI and watch it finish, move an alias and watch the deployment roll to the new
 * version, all without reloading the page. Screenshots go to test/browser/artifacts/.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { RunView } from '../../src/contracts/runs.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { PJME_TEXT, TestCluster } from '../support/cluster.js';
import { eventually, requestJson } from '../support/processes.js';
import { launchChromium, screenshot } from './browser.js';

describe('dashboard in Chromium (real control plane and agents)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);
  const startAgent = async (name: string, site: string, args: string[] = []) =>
    cluster.startAgent(name, { labels: `site=${site}`, joinToken: await cluster.joinToken(1), args });

  // Each test fails with the setup's error (Chromium missing, dist/ not built), none is skipped.
  beforeAllOrFail(async () => {
    const built = fileURLToPath(new URL('../../dist/dashboard/index.html', import.meta.url));
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: run npm run build (npm test does) before the browser tests`);
    browser = await launchChromium();
    cluster = await TestCluster.start('ui');
    await cluster.uploadPjme();
    // edge-a takes device data from the machine's Mosquitto (the deployment's binding); edge-b has no broker.
    await startAgent('edge-a', 'plant-a', ['--mqtt-url', 'mqtt://127.0.0.1:1883']);
    await startAgent('edge-b', 'plant-b');
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('redirects / to the dashboard, refuses a wrong token with a clear message, and logs in', async () => {
    await page.goto(cluster.url);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    const tokenField = page.getByLabel('Access token');
    await tokenField.fill('fgl.nosuchtoken.secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/did not accept this token/);
    await tokenField.fill(cluster.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Pages' }).waitFor();
    await expect.poll(() => page.getByTestId('nodes-online').textContent(), { timeout: 15_000 }).toBe('2');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Live' }).count()).toBe(1);
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('fogline.token'),
      ),
    ).toBe(cluster.adminToken);
    // Keyboard: the first Tab reaches the skip link, which moves focus to the page's content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe('main');
    await screenshot(page, '01-overview');
  });

  it('lists the nodes and charts one node’s CPU and memory from its heartbeats', async () => {
    await page.getByRole('link', { name: 'Nodes', exact: true }).click();
    const table = page.getByTestId('node-table');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    expect(await table.textContent()).toMatch(/edge-a.*online.*site=plant-a/s);
    await page.getByRole('link', { name: 'edge-a' }).click();
    await page.getByRole('heading', { name: /edge-a/ }).waitFor();
    // Samples come from the control plane's history, then live from the event stream.
    await expect
      .poll(() => page.getByRole('img', { name: /CPU load/ }).getAttribute('aria-label'), { timeout: 20_000 })
      .toMatch(/now [\d.]+ on \d+ CPUs/);
    await expect.poll(() => page.getByRole('img', { name: /Memory used/ }).getAttribute('aria-label')).toMatch(/now .+ of .+/);
    await screenshot(page, '02-nodes');
  });

  it('starts a run from the UI and shows its steps and loss curve live until it finishes', async () => {
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    const form = page.getByRole('form', { name: 'Start a run' });
    await form.getByLabel('Pipeline').selectOption('forecast');
    await expect.poll(() => form.getByLabel('Dataset').inputValue()).toBe('pjme');
    await form.getByLabel('Model name').fill('energy');
    await form.getByLabel('Epochs').fill('2');
    await form.getByLabel('Register').selectOption('none');
    // The queue line above the run table, idle before the run; every text it shows from here on is kept.
    const queueLine = page.getByTestId('run-queue');
    await expect.poll(() => queueLine.textContent()).toBe('Queue (in-process): 0 waiting · 0 running · 0 delayed');
    await page.evaluate(() => {
      const w = globalThis as any;
      w.queueTexts = [];
      new w.MutationObserver(() => {
        const text = w.document.querySelector('[data-testid="run-queue"]')?.textContent;
        if (text && w.queueTexts.at(-1) !== text) w.queueTexts.push(text);
      }).observe(w.document.body, { subtree: true, childList: true, characterData: true });
    });
    await form.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/#\/runs\/[\w-]+$/);
    const id = page.url().split('/').at(-1)!;
    const detail = page.getByTestId('run-detail');
    // Each state shows up by itself: the page is never reloaded.
    await expect.poll(() => detail.getByRole('heading').textContent(), { timeout: 60_000 }).toMatch(/running|succeeded/);
    await expect.poll(() => detail.getByRole('heading').textContent(), { timeout: 180_000, interval: 500 }).toMatch(/succeeded/);
    await expect.poll(() => detail.getByRole('img', { name: /Loss per epoch/ }).getAttribute('aria-label')).toMatch(/2 epochs/);
    expect(await detail.getByRole('list', { name: 'Steps' }).textContent()).toMatch(
      /prepare.*(succeeded|cached).*train.*succeeded.*evaluate.*succeeded.*register.*succeeded/s,
    );
    expect(await detail.textContent()).toMatch(/registered v1/);
    // The control plane's own worker ran it, on its first attempt (no "attempt N" shown).
    const worker = (await api<RunView>('GET', `/api/v1/runs/${id}`)).body.worker!;
    expect(worker).toMatch(/^control plane .+:\d+$/);
    expect(await detail.getByTestId('run-worker').textContent()).toBe(`Worker: ${worker}`);
    const table = page.getByTestId('run-table');
    const headers = await table.locator('thead th').allTextContents();
    const row = table.locator('tbody tr').filter({ has: page.getByRole('link', { name: id, exact: true }) });
    expect((await row.locator('th, td').allTextContents())[headers.indexOf('Worker')]).toBe(worker);
    // The queue line followed the run live: it took the run (1 running), then went idle again.
    await expect.poll(() => queueLine.textContent()).toBe('Queue (in-process): 0 waiting · 0 running · 0 delayed');
    expect(await page.evaluate(() => (globalThis as any).queueTexts)).toContain('Queue (in-process): 0 waiting · 1 running · 0 delayed');
    await screenshot(page, '03-run');
  });

  it('moves an alias from the models page and watches the deployment roll to the new version', async () => {
    expect(await cluster.trainForecaster({ epochs: 1, hidden: [16], seed: 1 })).toBe(2);
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 1 })).status).toBe(200);
    const mqtt = { input: `ui-${process.pid}/+/load`, output: 'fogline/predictions/{deployment}/{device}' };
    expect((await api('POST', '/api/v1/deployments', { name: 'energy', model: 'energy@champion', mqtt })).status).toBe(201);
    const servingEverywhere = async (version: number) =>
      eventually(async () => {
        const view = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
        return view.nodes.length === 2 && view.nodes.every((n) => n.state === 'serving' && n.servingVersion === version) ? true : undefined;
      }, 60_000);
    await servingEverywhere(1);

    await page.getByRole('link', { name: 'Models', exact: true }).click();
    await expect.poll(() => page.getByTestId('aliases').textContent()).toMatch(/champion → v1/);
    const form = page.getByRole('form', { name: 'Move an alias' });
    await form.getByLabel('Alias').fill('champion');
    await form.getByLabel('Version').selectOption('2');
    await form.getByRole('button', { name: 'Move alias' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toMatch(/champion now points at v2/);
    await expect.poll(() => page.getByTestId('aliases').textContent()).toMatch(/champion → v2/);

    await page.getByRole('link', { name: 'Deployments', exact: true }).click();
    const deployment = page.getByTestId('deployment-energy');
    await expect.poll(() => deployment.getByTestId('target-version').textContent()).toBe('v2');
    for (const node of ['edge-a', 'edge-b']) {
      await expect
        .poll(() => deployment.getByTestId(`deployment-node-${node}`).textContent(), { timeout: 60_000, interval: 250 })
        .toMatch(/serving.*v2.*v2/);
    }
    expect(await deployment.textContent()).toMatch(/2\/2 nodes serve v2/);
    expect(await deployment.getByRole('heading').textContent()).toMatch(/healthy/);
    expect(await deployment.getByTestId('mqtt-binding').textContent()).toMatch(
      /ui-\d+\/\+\/load \(edgex\) → fogline\/predictions\/\{deployment\}\/\{device\} · dead letters to fogline\/dead-letter\/\{deployment\}/,
    );
    // The node with a broker reports its binding's counts (nothing published to it here); the other has none to report.
    await expect.poll(() => deployment.getByTestId('mqtt-edge-a').textContent(), { timeout: 30_000 }).toMatch(/mqtt: 0 in \/ 0 out/);
    expect(await deployment.getByTestId('mqtt-edge-b').count()).toBe(0);
    await expect.poll(() => deployment.getByTestId('drift-energy').textContent()).toMatch(/No drift events/);
    await screenshot(page, '04-deployment-rolled');
    await servingEverywhere(2);
  });

  it('shows the request rate and latency the nodes report while an agent serves requests', async () => {
    const series = parseTimeSeriesCsv(PJME_TEXT, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
    const request = {
      inputs: [
        { name: 'history', shape: [1, 168], datatype: 'FP32', data: Array.from(series.values.subarray(series.values.length - 168)) },
        { name: 'start_time', shape: [1], datatype: 'INT64', data: [series.start + series.values.length * series.intervalSeconds] },
      ],
    };
    let stop = false;
    let served = 0;
    const load = (async () => {
      while (!stop) {
        const answer = await requestJson(`${cluster.agents.get('edge-a')!.url}/v2/models/energy/infer`, { method: 'POST', body: request });
        expect(answer.status).toBe(200);
        served += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      const chart = page.getByTestId('deployment-energy').getByRole('img', { name: /Requests per second/ });
      // Agents report their counters about every 10 s; a rate needs two reports.
      await expect.poll(() => chart.getAttribute('aria-label'), { timeout: 45_000, interval: 500 }).toMatch(/now [1-9][\d.]* requests\/s/);
      expect(await page.getByTestId('deployment-node-edge-a').textContent()).toMatch(/\d+(\.\d)?\/s/);
      // The node's latency over its last requests, as it reports it with the counters.
      expect(await page.getByTestId('latency-edge-a').textContent()).toMatch(/^[\d.]+ \/ [\d.]+ ms$/);
      expect(await page.getByTestId('latency-summary').textContent()).toMatch(/slowest node p99 [\d.]+ ms on edge-a/);
      // Where the node's requests ran (an edge-only deployment: all on the node), as it reports it.
      expect(await page.getByTestId('ran-edge-a').textContent()).toMatch(/^[1-9]\d* local \/ 0 offloaded$/);
      await screenshot(page, '05-deployment-rate');
    } finally {
      stop = true;
      await load;
    }
    expect(served).toBeGreaterThan(10);
  });

  it('draws forecasts beside actuals for the deployment', async () => {
    await page.getByRole('link', { name: 'Predictions', exact: true }).click();
    await expect
      .poll(() => page.getByRole('img', { name: /actual and forecast/ }).getAttribute('aria-label'), { timeout: 30_000 })
      .toMatch(/[2-7] of 7 days forecast, mean MAPE [\d.]+%/);
    await screenshot(page, '06-predictions');
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    await screenshot(page, '07-overview-after');
    expect(pageErrors).toEqual([]);
  });
});
