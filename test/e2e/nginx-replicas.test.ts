/**
 * nginx in front of two control-plane replicas (issue 16), with real processes: two `fogline
 * server`s on one fresh PostgreSQL database, each with its own data dir and port (and one signing
 * key, --signing-key-file), and Debian's nginx running
 * deploy/nginx/fogline.conf.template as render.sh writes it. Through nginx: REST calls are spread
 * over both replicas, a long poll is held open, live events arrive as they happen, a session's
 * WebSocket streams inference, a 20 MB dataset CSV is streamed to a replica, and when a replica is
 * killed (SIGKILL) idempotent requests, a long poll it held included, are answered by the other;
 * a streamed upload it was receiving fails with the proxy's JSON 502 and is not sent twice.
 *
 * Not covered here: artifacts stay in each data dir here (--artifact-store folder), so the stream's inference is checked on the
 * replica that stored the model only, and no artifact is downloaded through nginx.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { SERVER_OPTIONS } from '../../src/config/server-options.js';
import { DesiredStateQuery } from '../../src/contracts/deployments.js';
import { FederatedTaskQuery } from '../../src/contracts/federated.js';
import type { OpenSessionResponse } from '../../src/contracts/sessions.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { type RunningNginx, render } from '../support/nginx.js';
import { requireBinary } from '../support/processes.js';
import { type ReplicaProcess, ReplicaSet } from '../support/replicas.js';

const FIXTURES = fileURLToPath(new URL('../../src/ml/onnx/fixtures/', import.meta.url));
/** A PyTorch export: features FP32 [batch, 4] → probabilities FP32 [batch, 3]. */
const TINY = fs.readFileSync(path.join(FIXTURES, 'tiny-mlp.onnx'));
const TINY_EXPECTED = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tiny-mlp.expected.json'), 'utf8')) as {
  input: number[][];
  output: number[][];
};

interface Answer {
  status: number;
  body: any;
  /** X-Fogline-Upstream: the replica(s) nginx sent the request to, "a, b" when it retried. */
  upstream: string;
}

/** `count` hourly rows of a time series CSV (Datetime,PJME_MW), from hour `from`. */
function csvRows(from: number, count: number): string {
  const lines: string[] = [];
  for (let i = from; i < from + count; i++) {
    const time = new Date(Date.UTC(2000, 0, 1) + i * 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
    lines.push(`${time},${(30_000 + 5000 * Math.sin(i / 24)).toFixed(1)}`);
  }
  return `${lines.join('\n')}\n`;
}
const CSV_HEADER = 'Datetime,PJME_MW\n';
const UPLOAD_QUERY = 'timeColumn=Datetime&valueColumn=PJME_MW';

/** Seconds of an nginx time ("120s", "1h", "500ms", "90"). */
function seconds(value: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!match) throw new Error(`not an nginx time: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] ?? 's']!;
  return Number(match[1]) * unit;
}

/** Bytes of an nginx size ("512m", "64k", "100"). */
function bytes(value: string): number {
  const match = /^(\d+)([kmg])?$/i.exec(value);
  if (!match) throw new Error(`not an nginx size: ${value}`);
  return Number(match[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()]!;
}

/** The directives of the `location <match>` block in `nginx -T` output (name → value). */
function locationBlock(config: string, match: string): Map<string, string> {
  const start = config.indexOf(`location ${match} {`);
  if (start < 0) throw new Error(`no "location ${match}" in the configuration`);
  const block = config.slice(start, config.indexOf('}', start));
  const directives = new Map<string, string>();
  for (const line of block.split('\n').slice(1)) {
    const directive = /^\s*([a-z_]+)\s+([^;]+);/.exec(line);
    if (directive) directives.set(directive[1]!, directive[2]!.trim());
  }
  return directives;
}

/** A streamed upload that sends its first rows now and the rest when told: it stays in flight meanwhile. */
function slowUpload(url: string, token: string, dataset: string): { answered: Promise<Answer>; finish(): Promise<Answer> } {
  const request = http.request(`${url}/api/v1/datasets/${dataset}/versions?${UPLOAD_QUERY}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
  });
  const answered = new Promise<Answer>((resolve, reject) => {
    request.on('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text), upstream: String(response.headers['x-fogline-upstream']) }),
      );
    });
    request.on('error', reject);
  });
  // The rest may be refused once the proxy has answered: the answer is what counts.
  answered.catch(() => undefined);
  request.write(CSV_HEADER + csvRows(0, 500));
  return {
    answered,
    finish() {
      if (!request.destroyed) request.end(csvRows(500, 500));
      return answered;
    },
  };
}

describe('nginx in front of two control-plane replicas (real processes)', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let set: ReplicaSet;
  let nginx: RunningNginx;
  let replicas: ReplicaProcess[] = [];
  let adminToken = '';
  /** An enrolled node (through nginx), for the long polls. */
  let node: { id: string; credential: string };

  async function via(method: string, route: string, options: { token?: string; json?: unknown; base?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? adminToken}` };
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${options.base ?? nginx.url}${route}`, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      signal: AbortSignal.timeout(90_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? undefined : JSON.parse(text),
      upstream: response.headers.get('x-fogline-upstream') ?? '',
    };
  }

  const desiredState = (query: string) => via('GET', `/api/v1/nodes/${node.id}/desired-state?${query}`, { token: node.credential });

  beforeAll(async () => {
    const nginxBin = requireBinary('nginx');
    database = await createTestDatabase('postgres');
    // Artifacts in each replica's data dir (--artifact-store folder); one signing key for model
    // bundles and session tokens, as every replica must have.
    set = new ReplicaSet({ db: database.url, artifactStore: 'folder' });
    replicas = await set.startReplicas(['a', 'b']);
    adminToken = set.adminToken;
    nginx = await set.startNginx(nginxBin);

    const join = await via('POST', '/api/v1/tokens', { json: { name: 'join', role: 'join', maxUses: 1 } });
    expect(join.status, JSON.stringify(join.body)).toBe(201);
    const enrolled = await via('POST', '/api/v1/nodes/enroll', { token: join.body.token, json: { name: 'edge-1', role: 'edge' } });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    node = { id: enrolled.body.nodeId, credential: enrolled.body.credential };
  }, 120_000);

  afterAll(async () => {
    await set?.stop();
    await database?.drop();
  });

  it('nginx -t accepts the rendered configuration; its timeouts and limits cover what the routes need', () => {
    expect(nginx.check(['-t']).status).toBe(0);
    const dump = nginx.check(['-T']);
    expect(dump.status).toBe(0);
    const config = dump.output;
    for (const replica of replicas) expect(config).toContain(`server ${replica.address} max_fails=2 fail_timeout=10s;`);

    // Long polls hold a request up to their maximum wait; nginx's default read timeout is 60 s.
    const longestPoll = Math.max(
      DesiredStateQuery.properties.waitSeconds.maximum as number,
      FederatedTaskQuery.properties.wait.maximum as number,
    );
    const api = locationBlock(config, '/');
    expect(seconds(api.get('proxy_read_timeout')!)).toBeGreaterThan(longestPoll);
    expect(seconds(api.get('proxy_read_timeout')!)).toBeGreaterThan(SERVER_OPTIONS.importTrialSeconds.defaultValue({}));

    const events = locationBlock(config, '= /api/v1/events');
    expect(events.get('proxy_buffering')).toBe('off');
    expect(events.get('gzip')).toBe('off');

    const uploads = locationBlock(config, '~ ^/api/v1/(datasets|models)/[^/]+/versions$');
    expect(uploads.get('proxy_request_buffering')).toBe('off');
    expect(bytes(uploads.get('client_max_body_size')!)).toBeGreaterThanOrEqual(
      Math.max(SERVER_OPTIONS.datasetLimitBytes.defaultValue({}), SERVER_OPTIONS.modelLimitBytes.defaultValue({})),
    );

    // A quiet session socket is closed by the replica after its idle timeout, not by nginx before.
    const streams = locationBlock(config, '~ ^/v2/models/[^/]+(/versions/[^/]+)?/stream$');
    expect(seconds(streams.get('proxy_read_timeout')!)).toBeGreaterThan(SERVER_OPTIONS.sessionIdleSeconds.defaultValue({}));

    // render.sh refuses what would break the configuration, and says why.
    const bad = render(['127.0.0.1:7070;', 'include /etc/passwd']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/a replica must be host:port/);
    expect(render([]).stderr).toMatch(/at least one replica/);
  });

  it('spreads REST calls over both replicas', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 12; i++) answers.push(await via('GET', '/api/v1/nodes'));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((a) => a.upstream))).toEqual(new Set(replicas.map((r) => r.address)));
    // Each replica sees the same database: the node enrolled through either.
    for (const answer of answers) expect(answer.body.nodes.map((n: { name: string }) => n.name)).toEqual(['edge-1']);
  });

  it('holds a long poll open until the replica answers it', async () => {
    const first = await desiredState('waitSeconds=0');
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const started = Date.now();
    const held = await desiredState(`revision=${encodeURIComponent(first.body.revision)}&waitSeconds=5`);
    const elapsed = Date.now() - started;
    expect(held.status).toBe(200);
    expect(held.body.revision).toBe(first.body.revision);
    expect(elapsed).toBeGreaterThanOrEqual(4500);
    expect(elapsed).toBeLessThan(15_000);
  });

  it('streams live events through nginx as they happen (no buffering)', async () => {
    const abort = new AbortController();
    const response = await fetch(`${nginx.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${adminToken}` },
      signal: abort.signal,
    });
    try {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('content-encoding')).toBeNull();
      const serving = replicas.find((r) => r.address === response.headers.get('x-fogline-upstream'));
      expect(serving, String(response.headers.get('x-fogline-upstream'))).toBeDefined();

      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const nextEvent = async (name: string, timeoutMs: number): Promise<number> => {
        const deadline = Date.now() + timeoutMs;
        while (!new RegExp(`^event: ${name}$`, 'm').test(text)) {
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`no "${name}" event within ${timeoutMs} ms; got:\n${text}`);
          let timer: NodeJS.Timeout | undefined;
          const chunk = await Promise.race([
            reader.read(),
            new Promise<never>(
              (_, reject) =>
                (timer = setTimeout(() => reject(new Error(`no "${name}" event within ${timeoutMs} ms; got:\n${text}`)), left)),
            ),
          ]).finally(() => clearTimeout(timer));
          if (chunk.done) throw new Error(`the stream ended before a "${name}" event`);
          text += decoder.decode(chunk.value, { stream: true });
        }
        return Date.now();
      };
      await nextEvent('hello', 5000);
      text = '';
      // A change made on the replica that holds the stream (directly, not through nginx) reaches the
      // browser at once; a buffering proxy would hold it until its buffer filled.
      const changed = Date.now();
      const created = await via('POST', '/api/v1/tokens', { base: serving!.url, json: { name: 'sse', role: 'viewer' } });
      expect(created.status).toBe(201);
      const arrived = await nextEvent('change', 5000);
      expect(arrived - changed).toBeLessThan(1000);
    } finally {
      abort.abort();
    }
  });

  it('streams a 20 MB dataset upload to a replica without spooling it', async () => {
    const rowsPerChunk = 10_000;
    const chunks = 72;
    const encoder = new TextEncoder();
    let sent = 0;
    let chunk = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (chunk === chunks) return controller.close();
        const bytes = encoder.encode((chunk === 0 ? CSV_HEADER : '') + csvRows(chunk * rowsPerChunk, rowsPerChunk));
        sent += bytes.length;
        chunk++;
        controller.enqueue(bytes);
      },
    });
    const response = await fetch(`${nginx.url}/api/v1/datasets/big/versions?${UPLOAD_QUERY}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'text/csv' },
      body,
      duplex: 'half',
      signal: AbortSignal.timeout(120_000),
    } as RequestInit);
    const view = (await response.json()) as { sizeBytes: number; rowCount: number };
    expect(response.status, JSON.stringify(view)).toBe(201);
    expect(sent).toBeGreaterThan(20_000_000);
    expect(view.sizeBytes).toBe(sent);
    expect(view.rowCount).toBe(chunks * rowsPerChunk);
    // nginx says so when it writes a request body to a temporary file.
    expect(nginx.errorLog()).not.toMatch(/client request body is buffered/);
  });

  it("opens a session's WebSocket through nginx and streams inference on it", async () => {
    const imported = await fetch(`${nginx.url}/api/v1/models/tiny/versions?filename=tiny-mlp.onnx`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/octet-stream' },
      body: TINY,
    });
    expect(imported.status, await imported.clone().text()).toBe(201);
    // The bundle lives in the data dir of the replica that imported it (artifacts are per data dir today).
    const holder = imported.headers.get('x-fogline-upstream');
    expect((await via('POST', '/api/v1/deployments', { json: { name: 'tiny', model: 'tiny@1' } })).status).toBe(201);

    // Without a session token the upgrade is refused by the replica, and nginx passes the refusal on.
    const refused = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${nginx.url.replace(/^http/, 'ws')}/v2/models/tiny/versions/1/stream`);
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('open', () => reject(new Error('opened without a session')));
      socket.on('error', reject);
    });
    expect(refused).toBe(401);

    // Sessions go to the cloud (no node serves tiny); nginx picks the replica for each socket.
    const upstreams = new Set<string>();
    for (let attempt = 0; attempt < 6 && !upstreams.has(holder!); attempt++) {
      const opened = await via('POST', '/api/v1/sessions', { json: { model: 'tiny', kind: 'scalar' } });
      expect(opened.status, JSON.stringify(opened.body)).toBe(201);
      const session = opened.body as OpenSessionResponse;
      expect(session.session.placement).toBe('cloud');
      // The replica builds the URL from the Host nginx passes on: the proxy's address, not its own.
      expect(session.url.startsWith(`${nginx.url.replace(/^http/, 'ws')}/v2/models/tiny/versions/1/stream?session=`)).toBe(true);

      const socket = new WebSocket(session.url);
      const upstream = await new Promise<string>((resolve, reject) => {
        socket.on('upgrade', (response) => resolve(String(response.headers['x-fogline-upstream'])));
        socket.on('unexpected-response', (_request, response) => reject(new Error(`refused ${response.statusCode}`)));
        socket.on('error', reject);
      });
      await new Promise((resolve) => (socket.readyState === WebSocket.OPEN ? resolve(undefined) : socket.once('open', resolve)));
      upstreams.add(upstream);
      const answers: unknown[] = [];
      socket.on('message', (data: Buffer) => answers.push(JSON.parse(data.toString())));
      const answered = (count: number) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no answer on the socket: ${JSON.stringify(answers)}`)), 20_000);
          const check = () => (answers.length >= count ? (clearTimeout(timer), resolve()) : setTimeout(check, 20));
          check();
        });
      // Both ways over the proxied socket: a bad message gets its error and the socket stays open.
      socket.send('not json');
      await answered(1);
      expect(answers[0]).toMatchObject({ status: 400 });
      if (upstream === holder) {
        socket.send(
          JSON.stringify({ id: 'one', inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: TINY_EXPECTED.input[0] }] }),
        );
        await answered(2);
        const output = (answers[1] as { outputs: { data: number[] }[] }).outputs[0]!.data;
        output.forEach((value, i) => expect(value).toBeCloseTo(TINY_EXPECTED.output[0]![i]!, 4));
      }
      socket.close(1000);
    }
    expect(upstreams.has(holder!), `sockets went to ${[...upstreams].join(' and ')}`).toBe(true);
  });

  it('answers through the surviving replica when one is killed; a streamed upload in flight there fails and is not sent twice', async () => {
    const [survivor, victim] = replicas;
    // With nothing else open, nginx (least_conn) gives each replica one upload, then one long poll.
    const uploads = [slowUpload(nginx.url, adminToken, 'slow-1')];
    await delay(500);
    uploads.push(slowUpload(nginx.url, adminToken, 'slow-2'));
    await delay(500);
    const revision = (await desiredState('waitSeconds=0')).body.revision as string;
    const polls = [desiredState(`revision=${revision}&waitSeconds=6`)];
    await delay(300);
    polls.push(desiredState(`revision=${revision}&waitSeconds=6`));
    await delay(500);

    victim!.process.child.kill('SIGKILL');
    await victim!.process.exited;

    // The long poll the victim held is sent again to the survivor (a GET may be), and answered.
    const polled = await Promise.all(polls);
    expect(polled.map((p) => p.status)).toEqual([200, 200]);
    expect(polled.map((p) => p.upstream).sort()).toEqual([survivor!.address, `${victim!.address}, ${survivor!.address}`].sort());

    // The upload the victim was receiving is not replayed: nginx answers 502 in the control plane's JSON shape.
    const finished = await Promise.all(uploads.map((upload) => upload.finish()));
    const byStatus = new Map(finished.map((answer) => [answer.status, answer]));
    expect([...byStatus.keys()].sort()).toEqual([201, 502]);
    expect(byStatus.get(502)!.body.code).toBe('FOGLINE_ERR_NO_REPLICA');
    expect(byStatus.get(201)!.upstream).toBe(survivor!.address);

    // Every later call succeeds, reads and writes: nothing was sent to the dead replica, so a
    // POST may be sent to the next one too.
    const after: Answer[] = [];
    for (let i = 0; i < 10; i++) after.push(await via('GET', '/api/v1/nodes'));
    for (let i = 0; i < 4; i++) after.push(await via('POST', '/api/v1/tokens', { json: { name: `after-${i}`, role: 'viewer' } }));
    expect(after.map((a) => a.status)).toEqual([...Array(10).fill(200), ...Array(4).fill(201)]);
    // Passive health check: after its failures the dead replica is out of the rotation.
    expect(after.at(-1)!.upstream).toBe(survivor!.address);
  });
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
