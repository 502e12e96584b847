/**
 * A node may not drive the operator's terminal: strings it reports (its OS, host name, version and
 * arch in heartbeats, the reason of a deployment status) reach `fogline nodes list`, `nodes get`
 * and `deploy get` without control characters or bidirectional overrides, while their text stays.
 * A real control plane and the real CLI (bin/fogline.js).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import { IDLE_HEARTBEAT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { cleanFoglineEnv, runFogline } from '../support/processes.js';

/** Any character that could move the cursor, clear the screen, retitle the window or reorder text. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('node-supplied strings in the CLI', { timeout: 120_000 }, () => {
  let cp: TestControlPlane;
  const cli = (args: string[]) => runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: cp.url, FOGLINE_TOKEN: cp.adminToken }));

  beforeAll(async () => {
    cp = await startTestControlPlane();
    await cp.uploadPjme();
    await cp.train(cp.adminToken, { pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 1, hidden: [8], seed: 1 } });
    const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 1 })).token;
    const node = await new ApiClient({ server: cp.url }).enroll(join, { name: 'edge-x', role: 'edge', labels: { site: 'x' } });
    const heartbeat = await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, {
      token: node.credential,
      body: {
        ...IDLE_HEARTBEAT,
        agent: {
          ...IDLE_HEARTBEAT.agent,
          version: '1.0\u001b[2J',
          os: 'linux\u001b]0;pwned\u0007',
          arch: 'arm64\u202e',
          hostname: 'pi\r\u001b[1Aroot',
        },
      },
    });
    expect(heartbeat.status, JSON.stringify(heartbeat.body)).toBe(200);
    const created = await cp.call('POST', '/api/v1/deployments', {
      token: cp.adminToken,
      body: { name: 'energy', model: 'energy@1', nodeSelector: { site: 'x' } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const status = await cp.call('POST', `/api/v1/nodes/${node.nodeId}/deployment-status`, {
      token: node.credential,
      body: {
        deployments: [{ name: 'energy', version: 1, state: 'failed', reason: 'load failed\u001b[31m\u009b2J: disk\u0008\u0008\u0008 ok' }],
      },
    });
    expect(status.status, JSON.stringify(status.body)).toBe(204);
  }, 100_000);

  afterAll(async () => {
    await cp?.close();
  });

  it('prints their text without a control character, in tables, details and JSON', async () => {
    const outputs = {
      list: await cli(['nodes', 'list']),
      get: await cli(['nodes', 'get', 'edge-x']),
      json: await cli(['nodes', 'get', 'edge-x', '--json']),
      deploy: await cli(['deploy', 'get', 'energy']),
    };
    for (const [name, { code, stdout, stderr }] of Object.entries(outputs)) {
      expect(code, `${name}: ${stderr}`).toBe(0);
      expect(UNSAFE.test(stdout), `${name} printed a control character: ${JSON.stringify(stdout)}`).toBe(false);
    }
    expect(outputs.get.stdout).toContain('linux]0;pwned');
    expect(outputs.get.stdout).toContain('(pi[1Aroot)');
    expect(outputs.deploy.stdout).toContain('load failed[31m2J: disk ok');
  });
});
