/**
 * Inference sessions end to end, with real processes: a control plane that allows one session per
 * node and idles sockets out after 3 s, and one agent that streams only with a session token
 * (--stream-sessions required) and guards its endpoints with inference tokens (--edge-auth token),
 * which a stream with a session token does not need. A session is placed on the node serving the
 * deployment, streams 1:1, and is reported closed on disconnect; while the node is full (or no
 * node matches the selector) the next one goes to the cloud's stream; tokens are single-use and
 * model-bound; an idle socket is closed; the CLI opens one and prints the predictions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { OpenSessionResponse, SessionList, SessionView } from '../../src/contracts/sessions.js';
import { type AgentHandle, FORECAST_REQUEST, TestCluster } from '../support/cluster.js';
import { eventually, runFogline, tempDir } from '../support/processes.js';

interface Streamed {
  socket: WebSocket;
  answers: unknown[];
  closed: Promise<number>;
}

/** Connects; resolves once open, or rejects with the HTTP status of a refused upgrade. */
function connect(url: string): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const answers: unknown[] = [];
    const closed = new Promise<number>((done) => socket.on('close', (code) => done(code)));
    socket.on('message', (data: Buffer) => answers.push(JSON.parse(data.toString())));
    socket.on('unexpected-response', (_request, response) => reject(new Error(`refused ${response.statusCode}`)));
    socket.on('error', reject);
    socket.on('open', () => resolve({ socket, answers, closed }));
  });
}

interface Answer {
  outputs: { data: number[] }[];
}

async function ask(stream: Streamed): Promise<Answer> {
  const before = stream.answers.length;
  stream.socket.send(JSON.stringify(FORECAST_REQUEST));
  return eventually(async () => (stream.answers.length > before ? (stream.answers[before] as Answer) : undefined), 20_000);
}

describe('inference sessions (real processes)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  let agent: AgentHandle;
  const inputDir = tempDir('sessions-input');

  const open = (body: object) => cluster.api<OpenSessionResponse>('POST', '/api/v1/sessions', body);
  const session = async (id: string) =>
    (await cluster.api<SessionList>('GET', '/api/v1/sessions?all=true')).body.sessions.find((s) => s.id === id) as SessionView;

  beforeAll(async () => {
    // A high --session-max-load: placement must not depend on how busy the test machine is (the
    // overload rule has its own unit test in src/sessions/session-service.test.ts).
    cluster = await TestCluster.start('sessions', [
      '--sessions-per-node',
      '1',
      '--session-idle-timeout',
      '3',
      '--session-max-load',
      '1000',
    ]);
    await cluster.uploadPjme();
    await cluster.trainForecaster({ seed: 7 });
    agent = await cluster.startAgent('edge-a', {
      labels: 'site=plant-a',
      joinToken: await cluster.joinToken(1),
      args: ['--stream-sessions', 'required', '--edge-auth', 'token'],
    });
    await cluster.nodesOnline(1);
    const created = await cluster.api<DeploymentView>('POST', '/api/v1/deployments', { name: 'energy', model: 'energy@1' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // The node must report the deployment serving before a session can be placed there.
    await eventually(async () => {
      const { body } = await cluster.api<DeploymentView>('GET', '/api/v1/deployments/energy');
      return body.nodes.some((n) => n.state === 'serving') ? true : undefined;
    }, 60_000);
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    fs.rmSync(inputDir, { recursive: true, force: true });
  });

  it('places a session on the serving node, streams 1:1 and records connect and disconnect', async () => {
    const opened = await open({ model: 'energy', kind: 'scalar', nodeSelector: { site: 'plant-a' } });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    expect(opened.body.session).toMatchObject({ placement: 'edge', nodeName: 'edge-a', state: 'pending' });
    expect(opened.body.url.startsWith(`${agent.url.replace(/^http/, 'ws')}/v2/models/energy/stream?session=`)).toBe(true);

    const stream = await connect(opened.body.url);
    const answer = await ask(stream);
    expect(answer.outputs[0]!.data.length).toBeGreaterThan(0);
    await eventually(async () => ((await session(opened.body.session.id)).state === 'connected' ? true : undefined), 10_000);

    // The same token cannot open a second socket.
    await expect(connect(opened.body.url)).rejects.toThrow(/refused 401/);
    stream.socket.close(1000);
    await eventually(async () => ((await session(opened.body.session.id)).state === 'closed' ? true : undefined), 10_000);
    expect((await session(opened.body.session.id)).closeReason).toBe('disconnected');
  });

  it('refuses the node stream without a token, and a token for another model', async () => {
    await expect(connect(`${agent.url.replace(/^http/, 'ws')}/v2/models/energy/stream`)).rejects.toThrow(/refused 401/);
    const opened = await open({ model: 'energy', kind: 'scalar' });
    const elsewhere = opened.body.url.replace('/v2/models/energy/stream', '/v2/models/other/stream');
    await expect(connect(elsewhere)).rejects.toThrow(/refused 401/);
    const wrongKind = await open({ model: 'energy', kind: 'image' });
    expect(wrongKind.status).toBe(400);
    expect((wrongKind.body as unknown as { code: string }).code).toBe('FOGLINE_ERR_SESSION_KIND_MISMATCH');
    // Give the node back its one session for the next test.
    expect((await cluster.api('DELETE', `/api/v1/sessions/${opened.body.session.id}`)).status).toBe(200);
  });

  it('sends the session to the cloud when the node is full or no node matches, and the cloud answers with the same numbers', async () => {
    const first = await open({ model: 'energy', kind: 'scalar' });
    expect(first.body.session.placement).toBe('edge');
    const edge = await connect(first.body.url);
    const edgeAnswer = await ask(edge);

    const second = await open({ model: 'energy', kind: 'scalar' });
    expect(second.body.session).toMatchObject({ placement: 'cloud', nodeId: null });
    expect(second.body.session.reason).toMatch(/edge-a full/);
    expect(second.body.url.startsWith(`${cluster.url.replace(/^http/, 'ws')}/v2/models/energy/versions/1/stream?session=`)).toBe(true);
    const cloud = await connect(second.body.url);
    const cloudAnswer = await ask(cloud);
    expect(cloudAnswer.outputs[0]!.data).toEqual(edgeAnswer.outputs[0]!.data);
    await eventually(async () => ((await session(second.body.session.id)).state === 'connected' ? true : undefined), 10_000);

    const listed = (await cluster.api<SessionList>('GET', '/api/v1/sessions')).body.sessions.map((s) => s.id);
    expect(listed).toEqual(expect.arrayContaining([first.body.session.id, second.body.session.id]));

    const remote = await open({ model: 'energy', kind: 'scalar', nodeSelector: { site: 'plant-b' } });
    expect(remote.body.session.placement).toBe('cloud');
    // The cloud stream takes no API token, only a session.
    await expect(connect(`${cluster.url.replace(/^http/, 'ws')}/v2/models/energy/versions/1/stream`)).rejects.toThrow(/refused 401/);

    // Idle for longer than --session-idle-timeout: both holders close the socket and report it.
    expect(await edge.closed).toBe(4000);
    expect(await cloud.closed).toBe(4000);
    await eventually(async () => ((await session(first.body.session.id)).closeReason === 'idle timeout' ? true : undefined), 10_000);
    expect((await session(second.body.session.id)).closeReason).toBe('idle timeout');
  });

  it('fogline sessions open streams the input file and prints one prediction per request; sessions list shows it', async () => {
    const input = path.join(inputDir, 'requests.ndjson');
    fs.writeFileSync(input, `${JSON.stringify(FORECAST_REQUEST)}\n${JSON.stringify(FORECAST_REQUEST)}\n`);
    const client = ['--server', cluster.url, '--token', cluster.adminToken];
    const result = await runFogline(['sessions', 'open', '--model', 'energy', '--kind', 'scalar', '--input', input, ...client]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/on edge-a/);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
    expect(result.stdout).toMatch(/^#1 \S+: [\d.]+/);
    const listed = await runFogline(['sessions', 'list', '--all', ...client]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/energy\s+scalar\s+edge-a\s+closed \(disconnected\)/);
  });
});
