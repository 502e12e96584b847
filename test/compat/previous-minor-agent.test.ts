/**
 * The compatibility rule: a control plane accepts agents of its own minor version and of the
 * previous one (0.N-1.x with 0.N.y), so a fleet upgrades the control plane first and the agents
 * afterwards, in any order and at any pace.
 *
 * There is no older release of Fogline to run, so this test speaks the previous protocol itself:
 * the request bodies the agent sent before the later additions to src/contracts/nodes.ts (read
 * from `git log -- src/contracts/nodes.ts`), with `agent.version` set to the previous minor:
 *   - enrolment without `inferenceUrl` (added in a2e51d2: the URL then comes from the first heartbeat);
 *   - heartbeats without `backlog` (bd5cb4d) and without `agent.runtimes` (8347bb2);
 *   - the desired-state long poll and the status report as first written (29e5c72);
 *   - no pinned registry key from enrolment (f8f0185): the agent checks signatures with the key it is served.
 * The control plane must enrol it, keep it online, place a deployment on it, serve it the signed
 * bundle and take its status reports.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesiredState } from '../../src/contracts/deployments.js';
import type { NodeView } from '../../src/contracts/nodes.js';
import { verifyBundleSignature } from '../../src/registry/signing-key.js';
import { VERSION } from '../../src/version.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { eventually } from '../support/processes.js';

/** 0.N.x → 0.(N-1).0; 1.0.x → 0.… has no previous minor of the same major: the rule then names none. */
function previousMinor(version: string): string {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  if (minor === 0) throw new Error(`${version} has no previous minor version in its major`);
  return `${major}.${minor - 1}.0`;
}

const OLD_VERSION = previousMinor(VERSION);

/** The heartbeat body of the first agents (6145377): resources and agent info, nothing else. */
function oldHeartbeat(inferenceUrl: string) {
  return {
    resources: {
      cpuCount: 4,
      loadAverage: [0.1, 0.1, 0.1],
      memoryTotalBytes: 4e9,
      memoryFreeBytes: 3e9,
      diskTotalBytes: 3e10,
      diskFreeBytes: 2e10,
      gpus: [],
    },
    agent: { version: OLD_VERSION, os: 'linux', arch: 'arm64', hostname: 'old-pi', inferenceUrl },
  };
}

describe(`an agent of the previous minor version (${OLD_VERSION}) with this control plane (${VERSION})`, () => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    await cp.uploadPjme();
    await cp.train(cp.adminToken, { pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 1, hidden: [8], seed: 1 } });
  }, 120_000);

  afterAll(async () => {
    await cp?.close();
  });

  it('enrols, stays online, gets a deployment with a signed bundle, and reports its status', { timeout: 60_000 }, async () => {
    const join = await cp.admin.createToken({ name: 'old agent', role: 'join', maxUses: 1, expiresInSeconds: 600 });
    const enrolled = await cp.call('POST', '/api/v1/nodes/enroll', {
      token: join.token,
      body: { name: 'old-pi', role: 'edge', labels: { site: 'old' } },
    });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    const { nodeId, credential } = enrolled.body as { nodeId: string; credential: string };

    const inferenceUrl = 'http://127.0.0.1:9';
    const beat = await cp.call('POST', `/api/v1/nodes/${nodeId}/heartbeat`, { token: credential, body: oldHeartbeat(inferenceUrl) });
    expect(beat.status, JSON.stringify(beat.body)).toBe(200);
    const node = (await cp.call('GET', `/api/v1/nodes/${nodeId}`, { token: cp.adminToken })).body as NodeView;
    expect(node).toMatchObject({ status: 'online', agent: { version: OLD_VERSION } });
    // Enrolled without an advertise URL: the first heartbeat's URL is taken, once.
    expect(node.inferenceUrl).toBe(inferenceUrl);

    const created = await cp.call('POST', '/api/v1/deployments', {
      token: cp.adminToken,
      body: { name: 'energy', model: 'energy@1', nodeSelector: { site: 'old' } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    const desired = await eventually(async () => {
      const response = await cp.call('GET', `/api/v1/nodes/${nodeId}/desired-state?waitSeconds=0`, { token: credential });
      expect(response.status).toBe(200);
      const state = response.body as DesiredState;
      return state.deployments.length > 0 ? state : undefined;
    }, 15_000);
    const [deployment] = desired.deployments;
    expect(deployment).toMatchObject({ name: 'energy', model: 'energy', version: 1 });
    if (!deployment) throw new Error('no deployment');

    // The bundle downloads with the node credential, and its signature checks with the key served
    // to agents that pinned none at enrolment.
    const bundle = await fetch(`${cp.url}${deployment.downloadPath}`, { headers: { authorization: `Bearer ${credential}` } });
    expect(bundle.status).toBe(200);
    const bytes = Buffer.from(await bundle.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(deployment.sha256);
    const key = await cp.call('GET', '/api/v1/registry/public-key');
    expect(key.status).toBe(200);
    expect(
      verifyBundleSignature(
        (key.body as { publicKeyPem: string }).publicKeyPem,
        deployment.model,
        deployment.version,
        deployment.sha256,
        deployment.signature,
      ),
    ).toBe(true);

    // The long poll answers at once when the revision it holds is stale.
    const poll = await cp.call('GET', `/api/v1/nodes/${nodeId}/desired-state?revision=old&waitSeconds=5`, { token: credential });
    expect(poll.status).toBe(200);

    const report = await cp.call('POST', `/api/v1/nodes/${nodeId}/deployment-status`, {
      token: credential,
      body: { deployments: [{ name: 'energy', version: 1, state: 'serving' }] },
    });
    expect(report.status, JSON.stringify(report.body)).toBeLessThan(300);
    const view = (await cp.call('GET', '/api/v1/deployments/energy', { token: cp.adminToken })).body as {
      nodes: { nodeName: string; state: string }[];
    };
    expect(view.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ nodeName: 'old-pi', state: 'serving' })]));

    // And it keeps heartbeating in the old shape.
    const again = await cp.call('POST', `/api/v1/nodes/${nodeId}/heartbeat`, { token: credential, body: oldHeartbeat(inferenceUrl) });
    expect(again.status).toBe(200);
  });
});
