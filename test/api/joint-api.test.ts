/**
 * Joint inference settings through the API, on a real control plane: two small digit classifiers
 * (edge and cloud) and a forecaster. A valid setting is stored, shown with the version its cloud
 * model resolves to, handed to the placed node with the cloud model's /v2 path, and the node's
 * reported counts come back with their rates; every unusable setting is a 400 that stores nothing.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { DeploymentView, DesiredState } from '../../src/contracts/deployments.js';
import { IDLE_HEARTBEAT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

const DIGITS = fs.readFileSync(fileURLToPath(new URL('../../data/optdigits/optdigits.csv', import.meta.url)), 'utf8');

describe('joint inference settings (API)', { timeout: 240_000 }, () => {
  let cp: TestControlPlane;
  let operator: string;
  let node: { nodeId: string; credential: string };

  const train = (body: object) => cp.train(operator, body);
  const create = (name: string, extra: object) =>
    cp.call('POST', '/api/v1/deployments', {
      token: operator,
      body: { name, model: 'digits-small@1', nodeSelector: { site: 'a' }, ...extra },
    });

  beforeAll(async () => {
    cp = await startTestControlPlane();
    operator = (await cp.admin.createToken({ name: 'ops', role: 'operator' })).token;
    const pushed = await cp.call('POST', '/api/v1/datasets/digits/versions?kind=image-csv&imageHeight=8&imageWidth=8', {
      token: operator,
      body: DIGITS,
      headers: { 'content-type': 'text/csv' },
    });
    expect(pushed.status).toBe(201);
    await cp.uploadPjme(operator);
    const digits = { pipeline: 'image-classifier', dataset: 'digits' };
    expect(await train({ ...digits, model: 'digits-small', params: { epochs: 1, hidden: [4] } })).toBe(1);
    expect(await train({ ...digits, model: 'digits-large', params: { epochs: 1, hidden: [32] } })).toBe(1);
    expect(await train({ pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 1, hidden: [8] } })).toBe(1);
    await cp.admin.setAlias('digits-large', 'champion', 1);
    const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 1 })).token;
    node = await new ApiClient({ server: cp.url }).enroll(join, { name: 'edge-a', role: 'edge', labels: { site: 'a' } });
    await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, {
      token: node.credential,
      body: IDLE_HEARTBEAT,
    });
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('stores a joint setting, hands the node the cloud version with its /v2 path, and shows the counts the node reports', async () => {
    const created = await create('digits', { joint: { cloudModel: 'digits-large@champion', rule: 'confidence', threshold: 0.25 } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((created.body as DeploymentView).joint).toEqual({
      cloudModel: 'digits-large@champion',
      rule: 'confidence',
      threshold: 0.25,
      cloudVersion: 1,
    });
    const desired = (await cp.call('GET', `/api/v1/nodes/${node.nodeId}/desired-state`, { token: node.credential })).body as DesiredState;
    expect(desired.deployments).toEqual([
      expect.objectContaining({
        name: 'digits',
        model: 'digits-small',
        version: 1,
        joint: {
          model: 'digits-large',
          version: 1,
          rule: 'confidence',
          threshold: 0.25,
          inferPath: '/v2/models/digits-large/versions/1/infer',
        },
      }),
    ]);
    const counts = { easy: 70, hard: 25, fallback: 5, labelled: 40, edgeCorrect: 30, finalCorrect: 36 };
    const reported = await cp.call('POST', `/api/v1/nodes/${node.nodeId}/deployment-status`, {
      token: node.credential,
      body: { deployments: [{ name: 'digits', version: 1, state: 'serving', joint: counts }] },
    });
    expect(reported.status).toBe(204);
    const view = (await cp.call('GET', '/api/v1/deployments/digits', { token: operator })).body as DeploymentView;
    expect(view.nodes[0]?.joint).toEqual({ ...counts, offloadRate: 0.25, edgeAccuracy: 0.75, finalAccuracy: 0.9 });
    // A deployment without joint inference says so, and its node gets no joint entry.
    const plain = await create('plain', {});
    expect(plain.status).toBe(201);
    expect((plain.body as DeploymentView).joint).toBeNull();
  });

  it('refuses every unusable setting with a 400 that says why, and stores nothing', async () => {
    const cases: [object, string, RegExp][] = [
      [{ cloudModel: 'no-such-model', rule: 'confidence', threshold: 0.2 }, 'FOGLINE_ERR_JOINT_INVALID', /no-such-model/],
      [{ cloudModel: 'digits-large@nope', rule: 'confidence', threshold: 0.2 }, 'FOGLINE_ERR_JOINT_INVALID', /alias/],
      [{ cloudModel: 'Not a selector', rule: 'confidence', threshold: 0.2 }, 'FOGLINE_ERR_JOINT_INVALID', /selector/],
      [{ cloudModel: 'digits-large', rule: 'confidence', threshold: 1.5 }, 'FOGLINE_ERR_JOINT_INVALID', /between 0 and 1/],
      [{ cloudModel: 'digits-large', rule: 'entropy', threshold: 2 }, 'FOGLINE_ERR_JOINT_INVALID', /between 0 and 1/],
      [{ cloudModel: 'digits-large', rule: 'interval-width', threshold: 0.5 }, 'FOGLINE_ERR_JOINT_INVALID', /lower, forecast, upper/],
      [{ cloudModel: 'energy', rule: 'confidence', threshold: 0.2 }, 'FOGLINE_ERR_JOINT_INVALID', /same inputs/],
      [{ cloudModel: 'digits-large', rule: 'confidence', threshold: -0.1 }, 'FOGLINE_ERR_REQUEST_INVALID', /threshold/],
      [{ cloudModel: 'digits-large', rule: 'margin', threshold: 0.2 }, 'FOGLINE_ERR_REQUEST_INVALID', /rule/],
      [{ cloudModel: 'digits-large', threshold: 0.2 }, 'FOGLINE_ERR_REQUEST_INVALID', /rule/],
    ];
    for (const [joint, code, message] of cases) {
      const refused = await create('refused', { joint });
      expect(refused.status, JSON.stringify(joint)).toBe(400);
      expect(refused.body.code, JSON.stringify(joint)).toBe(code);
      expect(JSON.stringify(refused.body), JSON.stringify(joint)).toMatch(message);
    }
    // Joint inference runs the edge model first: it does not mix with offload policies that skip it.
    const auto = await create('refused', { offload: 'auto', joint: { cloudModel: 'digits-large', rule: 'confidence', threshold: 0.2 } });
    expect(auto.body).toMatchObject({ code: 'FOGLINE_ERR_JOINT_INVALID', message: expect.stringMatching(/edge-only/) });
    expect((await cp.call('GET', '/api/v1/deployments/refused', { token: operator })).status).toBe(404);
    const names = (
      (await cp.call('GET', '/api/v1/deployments', { token: operator })).body as { deployments: DeploymentView[] }
    ).deployments.map((d) => d.name);
    expect(names.sort()).toEqual(['digits', 'plain']);
  });
});
