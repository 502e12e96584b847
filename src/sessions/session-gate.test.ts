import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { installErrorHandlers } from '../http/error-handler.js';
import type { V2ModelSource } from '../inference/v2-model-source.js';
import { SESSION_IDLE_CLOSE_CODE, v2StreamRoutes } from '../inference/v2-stream.js';
import { SigningKey } from '../registry/signing-key.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sessionGate } from './session-gate.js';
import { decodeSessionToken, encodeSessionToken } from './session-token.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-session-gate-'));
const key = SigningKey.loadOrCreate(path.join(dir, 'key.pem'));
const other = SigningKey.loadOrCreate(path.join(dir, 'other.pem'));
const sign = (claims: { sid: string; model?: string; node?: string; exp?: number; idleMs?: number }, by = key) =>
  encodeSessionToken({ model: 'energy', node: 'node-1', exp: Date.now() + 60_000, idleMs: 60_000, ...claims }, (message) =>
    by.signBytes(message),
  );

describe('session tokens', () => {
  it('round-trips, and refuses another key, a changed payload and an expired token', () => {
    const token = sign({ sid: 's1' });
    expect(decodeSessionToken(token, key.publicKeyPem)).toMatchObject({ sid: 's1', model: 'energy', node: 'node-1' });
    expect(decodeSessionToken(token, other.publicKeyPem)).toEqual({ refused: expect.stringMatching(/not signed/) });
    const [prefix, , signature] = token.split('.');
    const forged = `${prefix}.${Buffer.from(JSON.stringify({ sid: 's1', model: 'x', node: 'node-1', exp: 9e15, idleMs: 1 })).toString('base64url')}.${signature}`;
    expect(decodeSessionToken(forged, key.publicKeyPem)).toEqual({ refused: expect.stringMatching(/not signed/) });
    expect(decodeSessionToken(sign({ sid: 's2', exp: Date.now() - 1 }), key.publicKeyPem)).toEqual({
      refused: expect.stringMatching(/expired/),
    });
    expect(decodeSessionToken('fgl.abc', key.publicKeyPem)).toEqual({ refused: 'not a session token' });
  });
});

describe('a stream behind a required session gate', { timeout: 30_000 }, () => {
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  const events: string[] = [];
  let base = '';
  const source: V2ModelSource = {
    infer: async (name: string) => ({ model_name: name, outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [1] }] }),
  } as unknown as V2ModelSource;

  beforeAll(async () => {
    installErrorHandlers(app);
    const gate = sessionGate({
      required: true,
      publicKey: () => key.publicKeyPem,
      holder: () => 'node-1',
      modelClaim: (name) => name,
      report: (id, event, reason) => events.push(`${id} ${event}${reason ? ` ${reason}` : ''}`),
    });
    await app.register(v2StreamRoutes(source, 'public', gate));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await app.close();
  });

  const status = (url: string) =>
    new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('open', () => {
        socket.close();
        resolve(101);
      });
      socket.on('error', reject);
    });

  it('refuses a missing, foreign, misplaced, wrong-model or reused token before the upgrade', async () => {
    expect(await status(`${base}/v2/models/energy/stream`)).toBe(401);
    expect(await status(`${base}/v2/models/energy/stream?session=${sign({ sid: 'a' }, other)}`)).toBe(401);
    expect(await status(`${base}/v2/models/energy/stream?session=${sign({ sid: 'b', node: 'node-2' })}`)).toBe(401);
    expect(await status(`${base}/v2/models/other/stream?session=${sign({ sid: 'c' })}`)).toBe(401);
    const token = sign({ sid: 'd' });
    expect(await status(`${base}/v2/models/energy/stream?session=${token}`)).toBe(101);
    expect(await status(`${base}/v2/models/energy/stream?session=${token}`)).toBe(401);
  });

  it('reports connect and close, and closes an idle socket with code 4000', async () => {
    const socket = new WebSocket(`${base}/v2/models/energy/stream?session=${sign({ sid: 'e', idleMs: 1000 })}`);
    const answers: unknown[] = [];
    socket.on('message', (data: Buffer) => answers.push(JSON.parse(data.toString())));
    await new Promise((resolve) => socket.on('open', resolve));
    socket.send(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }));
    const code = await new Promise<number>((resolve) => socket.on('close', resolve));
    expect(code).toBe(SESSION_IDLE_CLOSE_CODE);
    expect(answers).toHaveLength(1);
    expect(events).toContain('e connected');
    await vi.waitFor(() => expect(events).toContain('e closed idle timeout'));
  });
});
