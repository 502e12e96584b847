import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V2InferRequest } from '../../src/contracts/open-inference.js';
import { FoglineError } from '../../src/errors/fogline-error.js';
import { inferenceCall } from '../../src/inference/inference-call.js';
import type { V2ModelSource } from '../../src/inference/v2-model-source.js';
import { warmUpInputs } from '../../src/inference/warm-up-inputs.js';
import type { ModelSignature } from '../../src/ml/bundle/bundle-manifest.js';
import { isMlInputError } from '../../src/ml/errors.js';

/** A source under test: it serves `name` at `version` (a real model with `signature`), and nothing else. */
export interface SourceUnderTest {
  source: V2ModelSource;
  name: string;
  version: string;
  signature: ModelSignature;
  close(): Promise<void>;
}

/**
 * The contract every V2ModelSource keeps (src/inference/v2-model-source.ts), as one suite:
 * readiness, metadata, coded 404s for unknown names and versions, answers of the right shape,
 * requested outputs, bad input refused as MlInputError (the routes' 400) without changing what
 * it serves, and a caller gone before its answer.
 *
 * @example
 * describeV2ModelSource('DeployedModels', async () => ({ source: models, name: 'energy', version: '1', signature, close }));
 */
export function describeV2ModelSource(implementation: string, make: () => Promise<SourceUnderTest>): void {
  describe(`V2ModelSource conformance: ${implementation}`, { timeout: 60_000 }, () => {
    let under: SourceUnderTest;
    const request = (id = 'c1'): V2InferRequest => ({
      id,
      inputs: warmUpInputs(under.signature).map((input) => ({
        ...input,
        datatype: input.datatype ?? 'FP32',
        data: input.data as unknown[],
      })),
    });
    const ask = (body: V2InferRequest, version?: string, signal?: AbortSignal) =>
      under.source.infer(inferenceCall(under.name, version, body, signal));
    const coded = (status: number) => (error: unknown) =>
      error instanceof FoglineError && error.status === status && /^FOGLINE_ERR_/.test(error.code);

    beforeAll(async () => {
      under = await make();
    });
    afterAll(async () => {
      await under?.close();
    });

    it('is ready, and says what it serves', async () => {
      expect(await under.source.ready()).toBe(true);
      await expect(under.source.modelReady(under.name)).resolves.toBeUndefined();
      const metadata = await under.source.metadata(under.name);
      expect(metadata.versions).toContain(under.version);
      expect(metadata.inputs.map((i) => i.name)).toEqual(under.signature.inputs.map((i) => i.name));
      expect(metadata.outputs.map((o) => o.name)).toEqual(under.signature.outputs.map((o) => o.name));
      expect((await under.source.metadata(under.name, under.version)).versions).toContain(under.version);
    });

    it('answers an unknown name or version with a coded 404', async () => {
      await expect(under.source.metadata('no-such-model')).rejects.toSatisfy(coded(404));
      await expect(under.source.modelReady('no-such-model')).rejects.toSatisfy(coded(404));
      await expect(under.source.infer(inferenceCall('no-such-model', undefined, request()))).rejects.toSatisfy(coded(404));
      await expect(ask(request(), '99')).rejects.toSatisfy(coded(404));
    });

    it('answers with every output of the signature, in its shape, for the version asked or the one serving', async () => {
      for (const version of [undefined, under.version]) {
        const result = await ask(request(), version);
        expect(result.modelVersion).toBe(under.version);
        expect(result.outputs.map((o) => o.name)).toEqual(under.signature.outputs.map((o) => o.name));
        for (const output of result.outputs) {
          const spec = under.signature.outputs.find((o) => o.name === output.name)!;
          expect(output.shape.length).toBe(spec.shape.length);
          expect(output.shape[0]).toBe(1);
          expect((output.data as unknown[]).flat(16).length).toBe(output.shape.reduce((a, b) => a * b, 1));
        }
        // Where it ran is a field of the result, never written into its parameters by a layer.
        expect(result.parameters?.['fogline.ran_on']).toBeUndefined();
      }
    });

    it('answers only the outputs asked for, in the order asked', async () => {
      const names = under.signature.outputs.map((o) => o.name).reverse();
      const result = await ask({ ...request(), outputs: names.map((name) => ({ name })) });
      expect(result.outputs.map((o) => o.name)).toEqual(names);
    });

    it('refuses bad input as the caller’s error (MlInputError: 400), and serves on unchanged', async () => {
      const before = await ask(request());
      const [first, ...rest] = request().inputs;
      const wrongShape = { inputs: [{ ...first!, shape: [1, first!.shape.slice(1).reduce((a, b) => a * b, 1) + 1] }, ...rest] };
      const notFinite = {
        inputs: [{ ...first!, data: Float32Array.from(first!.data as number[], () => Number.NaN) as unknown as unknown[] }, ...rest],
      };
      const unknownOutput = { ...request(), outputs: [{ name: 'no-such-output' }] };
      for (const bad of [wrongShape, notFinite, unknownOutput]) {
        await expect(ask(bad)).rejects.toSatisfy(isMlInputError);
      }
      expect(await ask(request())).toEqual(before);
    });

    it('with its caller gone: answers or refuses with a coded error, and serves on', async () => {
      const controller = new AbortController();
      controller.abort();
      const gone = await ask(request(), undefined, controller.signal).then(
        () => 'answered',
        (error: unknown) => (error instanceof FoglineError ? error.code : String(error)),
      );
      expect(['answered', 'FOGLINE_ERR_REQUEST_ABANDONED']).toContain(gone);
      expect((await ask(request())).modelVersion).toBe(under.version);
    });
  });
}
