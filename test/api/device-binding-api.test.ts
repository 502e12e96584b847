/**
 * MQTT device bindings through the API, on a real control plane with a small forecaster: a valid
 * binding is stored with its defaults, handed to the placed node in its desired state, and the
 * counts the node reports come back per node; every unusable binding is a 400 that says why and
 * stores nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { DeploymentView, DesiredState } from '../../src/contracts/deployments.js';
import { IDLE_HEARTBEAT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

describe('MQTT device bindings (API)', { timeout: 240_000 }, () => {
  let cp: TestControlPlane;
  let operator: string;
  let node: { nodeId: string; credential: string };

  const create = (name: string, mqtt: unknown) =>
    cp.call('POST', '/api/v1/deployments', { token: operator, body: { name, model: 'energy@1', nodeSelector: { site: 'a' }, mqtt } });

  beforeAll(async () => {
    cp = await startTestControlPlane();
    operator = (await cp.admin.createToken({ name: 'ops', role: 'operator' })).token;
    await cp.uploadPjme(operator);
    expect(await cp.train(operator, { pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 1, hidden: [8] } })).toBe(
      1,
    );
    const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 1 })).token;
    node = await new ApiClient({ server: cp.url }).enroll(join, { name: 'edge-a', role: 'edge', labels: { site: 'a' } });
    await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, { token: node.credential, body: IDLE_HEARTBEAT });
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('stores a binding with its defaults, hands it to the node, and shows the counts the node reports', async () => {
    const created = await create('meters', {
      input: 'edgex/events/device/+/+/+/load',
      output: 'fogline/predictions/{deployment}/{device}',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const binding = {
      input: 'edgex/events/device/+/+/+/load',
      output: 'fogline/predictions/{deployment}/{device}',
      format: 'edgex',
      resource: null,
      deadLetter: 'fogline/dead-letter/{deployment}',
    };
    expect((created.body as DeploymentView).mqtt).toEqual(binding);
    const desired = (await cp.call('GET', `/api/v1/nodes/${node.nodeId}/desired-state`, { token: node.credential })).body as DesiredState;
    expect(desired.deployments).toEqual([expect.objectContaining({ name: 'meters', mqtt: binding })]);
    const counts = { messages: 500, predictions: 320, deadLetters: 3, buffered: 12, latencyP99Ms: 4.5, connected: true };
    const reported = await cp.call('POST', `/api/v1/nodes/${node.nodeId}/deployment-status`, {
      token: node.credential,
      body: { deployments: [{ name: 'meters', version: 1, state: 'serving', mqtt: counts }] },
    });
    expect(reported.status).toBe(204);
    const view = (await cp.call('GET', '/api/v1/deployments/meters', { token: operator })).body as DeploymentView;
    expect(view.nodes[0]?.mqtt).toEqual(counts);
    // A deployment without a binding says so.
    const plain = await cp.call('POST', '/api/v1/deployments', { token: operator, body: { name: 'plain', model: 'energy@1' } });
    expect((plain.body as DeploymentView).mqtt).toBeNull();
  });

  it('refuses every unusable binding with a 400 that says why, and stores nothing', async () => {
    const ok = { input: 'plant/+/load', output: 'out/{device}' };
    const cases: [unknown, RegExp][] = [
      [{ ...ok, input: 'plant/#/load' }, /#/],
      [{ ...ok, input: 'plant/meter+/load' }, /\+/],
      [{ ...ok, input: '' }, /input/],
      [{ ...ok, output: 'out/+/{device}' }, /wildcard|\+/],
      [{ ...ok, output: 'out/{site}' }, /\{site\}/],
      [{ ...ok, deadLetter: 'dead/#' }, /#/],
      [{ ...ok, format: 'xml' }, /format/],
      [{ ...ok, qos: 2 }, /qos|additional/i],
      [{ input: 'plant/+/load' }, /output/],
    ];
    for (const [mqtt, message] of cases) {
      const refused = await create('refused', mqtt);
      expect(refused.status, JSON.stringify(mqtt)).toBe(400);
      expect(refused.body.code, JSON.stringify(mqtt)).toBe('FOGLINE_ERR_REQUEST_INVALID');
      expect(JSON.stringify(refused.body), JSON.stringify(mqtt)).toMatch(message);
    }
    expect((await cp.call('GET', '/api/v1/deployments/refused', { token: operator })).status).toBe(404);
  });
});
