import type { ModelSignature } from '../../ml/bundle/bundle-manifest.js';
import type { InferInput, InferOutput, Predictor } from '../../ml/bundle/infer-tensors.js';
import { isMlInputError } from '../../ml/errors.js';
import type { Settled } from './micro-batcher.js';

/**
 * Runs several requests' inputs as one predict call where the signature allows it (every input
 * batched on its first dimension) and gives each request its own rows of every output. A request
 * that cannot join (other input names, shapes or types) runs on its own, and when the merged call
 * refuses its input (one bad request), each request runs again alone so only the bad one fails.
 */
export async function predictBatch(predictor: Predictor, items: InferInput[][]): Promise<Settled<InferOutput[]>[]> {
  if (items.length === 1) return [await settle(predictor.predict(items[0] ?? []))];
  const results = new Array<Settled<InferOutput[]>>(items.length);
  const groups = new Map<string, number[]>();
  items.forEach((inputs, i) => {
    const key = batchKey(predictor.signature, inputs);
    if (key === undefined) groups.set(`alone:${i}`, [i]);
    else groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const group = indexes.map((i) => items[i] ?? []);
      const answers = group.length === 1 ? [await settle(predictor.predict(group[0] ?? []))] : await predictMerged(predictor, group);
      indexes.forEach((index, j) => (results[index] = answers[j] ?? { ok: false, error: new Error('no answer') }));
    }),
  );
  return results;
}

async function predictMerged(predictor: Predictor, group: InferInput[][]): Promise<Settled<InferOutput[]>[]> {
  const rows = group.map((inputs) => inputs[0]?.shape[0] ?? 0);
  const total = rows.reduce((a, b) => a + b, 0);
  const first = group[0] ?? [];
  const merged: InferInput[] = first.map((input, k) => {
    const data: (number | bigint | boolean)[] = [];
    for (const inputs of group) {
      const part = inputs[k]?.data ?? [];
      for (let i = 0; i < part.length; i++) data.push(part[i] as number | bigint | boolean);
    }
    return { name: input.name, shape: [total, ...input.shape.slice(1)], ...(input.datatype ? { datatype: input.datatype } : {}), data };
  });
  let outputs: InferOutput[];
  try {
    outputs = await predictor.predict(merged);
  } catch (error) {
    if (!isMlInputError(error)) return group.map(() => ({ ok: false, error }));
    return Promise.all(group.map((inputs) => settle(predictor.predict(inputs))));
  }
  if (!outputs.every((o) => o.shape[0] === total)) return Promise.all(group.map((inputs) => settle(predictor.predict(inputs))));
  let offset = 0;
  return rows.map((count) => {
    const answer = outputs.map((output) => {
      const width = output.shape.slice(1).reduce((a, b) => a * b, 1);
      const data = output.data.slice(offset * width, (offset + count) * width) as InferOutput['data'];
      return { ...output, shape: [count, ...output.shape.slice(1)], data };
    });
    offset += count;
    return { ok: true as const, value: answer };
  });
}

/**
 * Requests with the same key can be concatenated: the same inputs in the same order, each batched
 * on its first dimension by the signature and by as many rows as the first input. Undefined when
 * the request cannot join others (it is then run alone, and any error in it is its own).
 */
function batchKey(signature: ModelSignature, inputs: InferInput[]): string | undefined {
  const rows = inputs[0]?.shape[0];
  if (rows === undefined || !Number.isInteger(rows) || rows < 1) return undefined;
  const parts: string[] = [];
  for (const input of inputs) {
    const spec = signature.inputs.find((s) => s.name === input.name);
    if (!spec || spec.shape[0] !== -1 || !Array.isArray(input.shape) || input.shape[0] !== rows) return undefined;
    const width = input.shape.slice(1).reduce((a, b) => a * b, 1);
    if (input.data.length !== rows * width) return undefined;
    parts.push(`${input.name}:${input.datatype ?? ''}:${input.shape.slice(1).join('x')}`);
  }
  if (inputs.length !== signature.inputs.length) return undefined;
  return parts.join('|');
}

async function settle<T>(work: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error };
  }
}
