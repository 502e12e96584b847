import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v2Routes } from '../../inference/v2-routes.js';
import { signedDeployment, testSigningKey } from '../test-support/signed-deployment.js';
import { trainedBundle } from '../test-support/trained-bundle.js';
import { DeployedModels } from './deployed-models.js';
import { loadVersion } from './load-version.js';
import { warmUpInputs } from './warm-up-inputs.js';

describe('DeployedModels on the V2 routes', { timeout: 60_000 }, () => {
  const models = new DeployedModels();
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  const key = testSigningKey();
  let bytes: Uint8Array;
  let signature: Parameters<typeof warmUpInputs>[0];
  const infer = (url = '/v2/models/energy/infer') => app.inject({ method: 'POST', url, payload: { inputs: warmUpInputs(signature) } });

  beforeAll(async () => {
    bytes = await trainedBundle();
    const loaded = await loadVersion(bytes, signedDeployment(key, bytes, 1));
    signature = loaded.predictor.signature;
    await models.put('energy', loaded);
    await app.register(v2Routes(models, 'public'));
  });
  afterAll(async () => {
    await app.close();
    await models.close();
  });

  it('serves the deployment by its name, and only its serving version', async () => {
    const answer = await infer();
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ model_name: 'energy', model_version: '1', outputs: [{ name: 'forecast', shape: [1, 24] }] });
    expect((await infer('/v2/models/energy/versions/1/infer')).statusCode).toBe(200);
    expect((await infer('/v2/models/energy/versions/2/infer')).statusCode).toBe(404);
    expect((await infer('/v2/models/other/infer')).json()).toEqual({ error: expect.stringContaining('other') });
    expect((await app.inject({ method: 'GET', url: '/v2/models/energy' })).json()).toMatchObject({ name: 'energy', versions: ['1'] });
  });

  it('answers 503 with Retry-After, not 404, for a deployment that is still loading', async () => {
    models.expect(['energy', 'anomaly']);
    const loading = await infer('/v2/models/anomaly/infer');
    expect(loading.statusCode).toBe(503);
    expect(loading.headers['retry-after']).toBe('5');
    expect(loading.json()).toEqual({ error: expect.stringContaining('not serving yet') });
    expect((await infer('/v2/models/other/infer')).statusCode).toBe(404);
    models.expect(['energy']);
    expect((await infer('/v2/models/anomaly/infer')).statusCode).toBe(404);
  });

  it('hot-swaps to another version under a stream of requests without failing one', async () => {
    let stop = false;
    const statuses: number[] = [];
    const versions = new Set<string>();
    const client = async () => {
      while (!stop) {
        const answer = await infer();
        statuses.push(answer.statusCode);
        if (answer.statusCode === 200) versions.add(answer.json().model_version);
      }
    };
    const loops = [client(), client(), client()];
    await new Promise((resolve) => setTimeout(resolve, 100));
    await models.put('energy', await loadVersion(bytes, signedDeployment(key, bytes, 2)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await Promise.all(loops);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect([...versions].sort()).toEqual(['1', '2']);
    expect(models.serving('energy')?.version).toBe(2);
  });
});
