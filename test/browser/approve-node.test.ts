/**
 * The Approve button of the dashboard's Nodes page, in a real browser against real processes: an
 * agent enrolled with a --require-approval join token shows as pending with the button; a viewer's
 * click is refused with a message, an operator's approves the node.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeView } from '../../src/contracts/nodes.js';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { TestCluster } from '../support/cluster.js';
import { launchChromium } from './browser.js';

describe('approving a pending node from the dashboard (Chromium)', { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;

  const token = async (role: string) => (await cluster.api<{ token: string }>('POST', '/api/v1/tokens', { name: role, role })).body.token;

  async function signIn(as: string): Promise<void> {
    await page.goto(`${cluster.url}/ui/#/nodes`);
    await page.getByLabel('Access token').fill(as);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('node-table').waitFor();
  }

  beforeAllOrFail(async () => {
    const built = fileURLToPath(new URL('../../dist/dashboard/index.html', import.meta.url));
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: run npm run build (npm test does) before the browser tests`);
    browser = await launchChromium();
    cluster = await TestCluster.start('ui-approve');
    const join = await cluster.api<{ token: string }>('POST', '/api/v1/tokens', {
      name: 'approval',
      role: 'join',
      joinPolicy: { requireApproval: true },
    });
    await cluster.startAgent('edge-p', { labels: 'site=plant-p', joinToken: join.body.token });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('shows a pending node with an Approve button that only an operator can use', async () => {
    page = await browser.newPage();
    await signIn(await token('viewer'));
    const row = page.getByTestId('node-table').locator('tbody tr', { hasText: 'edge-p' });
    await expect.poll(() => row.textContent()).toContain('pending');
    await row.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => row.getByRole('alert').textContent()).toMatch(/Not allowed with this token/);
    expect((await cluster.api<NodeView>('GET', '/api/v1/nodes/edge-p')).body.pending).toBe(true);
    await page.close();

    page = await browser.newPage();
    await signIn(await token('operator'));
    const operatorRow = page.getByTestId('node-table').locator('tbody tr', { hasText: 'edge-p' });
    await operatorRow.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(async () => (await cluster.api<NodeView>('GET', '/api/v1/nodes/edge-p')).body.pending).toBe(false);
    await expect.poll(() => operatorRow.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await operatorRow.textContent()).not.toContain('pending');
  });
});
