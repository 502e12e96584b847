import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import fc from 'fast-check';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployedModels } from '../agent/runtime/deployed-models.js';
import { loadVersion } from '../agent/runtime/load-version.js';
import { warmUpInputs } from './warm-up-inputs.js';
import { signedDeployment, testSigningKey } from '../agent/test-support/signed-deployment.js';
import { trainedBundle } from '../agent/test-support/trained-bundle.js';
import { v2Routes } from './v2-routes.js';

/**
 * V2 inference payloads from fast-check against a real loaded forecaster: malformed tensors,
 * wrong shapes and datatypes, NaN and Infinity, nested data, odd parameters. A client's mistake
 * is a 400 with `{"error": …}`; never a 500; a valid request still gets its answer afterwards.
 */
describe('Open Inference Protocol payload fuzzing', { timeout: 120_000 }, () => {
  const models = new DeployedModels({ batching: { maxBatchSize: 8, maxDelayMs: 0 } });
  const app = Fastify({ bodyLimit: 1_048_576 }).withTypeProvider<TypeBoxTypeProvider>();
  let inputs: ReturnType<typeof warmUpInputs>;

  beforeAll(async () => {
    const bytes = await trainedBundle();
    const loaded = await loadVersion(bytes, signedDeployment(testSigningKey(), bytes, 1));
    inputs = warmUpInputs(loaded.predictor.signature);
    await models.put('energy', loaded);
    await app.register(v2Routes(models, 'public'));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await models.close();
  });

  const number = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e308, -0));
  const data = fc.oneof(
    fc.array(number, { maxLength: 400 }),
    fc.array(fc.array(number, { maxLength: 200 }), { maxLength: 3 }),
    fc.array(fc.oneof(fc.string(), fc.boolean(), fc.constant(null)), { maxLength: 20 }),
    fc.anything(),
  );
  const tensor = fc.record(
    {
      name: fc.oneof(fc.constantFrom('history', 'start_time', ''), fc.string({ maxLength: 20 })),
      shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 300 }), { maxLength: 4 }), fc.anything()),
      datatype: fc.oneof(fc.constantFrom('FP32', 'FP64', 'INT64', 'INT32', 'BYTES', 'BOOL', 'fp32'), fc.string({ maxLength: 6 })),
      data,
      parameters: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue()), { nil: undefined }),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    fc.record({ id: fc.option(fc.string(), { nil: undefined }), inputs: fc.array(tensor, { maxLength: 3 }) }, { requiredKeys: ['inputs'] }),
    fc.record({ inputs: fc.constant(null), outputs: fc.anything() }),
    fc.jsonValue(),
  );

  it('answers arbitrary payloads with 200 or a clear 4xx, never a 500', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const response = await app.inject({
          method: 'POST',
          url: '/v2/models/energy/infer',
          payload: JSON.stringify(payload),
          headers: { 'content-type': 'application/json' },
        });
        seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
        expect(response.statusCode, response.body).toBeLessThan(500);
        if (response.statusCode >= 400) expect(response.json()).toHaveProperty('error');
        if (response.statusCode === 200) {
          for (const output of response.json().outputs as { data: number[] }[]) expect(output.data.every(Number.isFinite)).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
    expect(seen.get(400)).toBeGreaterThan(0);
    // Still serving correctly after all of it.
    const valid = await app.inject({ method: 'POST', url: '/v2/models/energy/infer', payload: { inputs } });
    expect(valid.statusCode).toBe(200);
  });

  it('refuses NaN and Infinity inside an otherwise valid request', async () => {
    // JSON has no NaN or Infinity: clients send null (what JSON.stringify makes of NaN), the
    // string "NaN", or a number too large for a double (1e999 parses to Infinity).
    for (const bad of ['null', '"NaN"', '1e999', '-1e999']) {
      const payload = JSON.stringify({ inputs }).replace(/"data":\[[^,\]]+/, `"data":[${bad}`);
      expect(payload).toContain(`"data":[${bad}`);
      const response = await app.inject({
        method: 'POST',
        url: '/v2/models/energy/infer',
        payload,
        headers: { 'content-type': 'application/json' },
      });
      expect(response.statusCode, `${bad}: ${response.body}`).toBe(400);
      expect(response.json()).toHaveProperty('error');
    }
  });
});
