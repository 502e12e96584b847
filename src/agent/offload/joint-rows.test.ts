import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { V2InferRequest } from '../../contracts/open-inference.js';
import { inferenceCall } from '../../inference/inference-call.js';
import { isMlInputError } from '../../ml/errors.js';
import { type FlatOutput, mergeRows, readLabels, sliceRows } from './joint-rows.js';

const row = (output: FlatOutput, r: number, batch: number) => {
  const width = output.data.length / batch;
  return output.data.slice(r * width, (r + 1) * width);
};

describe('joint inference rows', () => {
  it('merging: one row per input row, each the edge answer or (for hard rows) the cloud answer for that row', () => {
    const case_ = fc
      .record({ batch: fc.integer({ min: 1, max: 12 }), widths: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }) })
      .chain(({ batch, widths }) =>
        fc.record({
          batch: fc.constant(batch),
          widths: fc.constant(widths),
          hard: fc.subarray([...Array(batch).keys()]),
          seed: fc.integer(),
        }),
      );
    fc.assert(
      fc.property(case_, ({ batch, widths, hard, seed }) => {
        const edge: FlatOutput[] = widths.map((w, i) => ({
          name: `out${i}`,
          shape: [batch, w],
          datatype: 'FP32',
          data: Array.from({ length: batch * w }, (_, j) => seed + j),
        }));
        const cloud: FlatOutput[] = widths.map((w, i) => ({
          name: `out${i}`,
          shape: [hard.length, w],
          datatype: 'FP32',
          data: Array.from({ length: hard.length * w }, (_, j) => -1 - j),
        }));
        const merged = mergeRows(edge, cloud, hard, batch);
        expect(merged.map((o) => o.name)).toEqual(edge.map((o) => o.name));
        merged.forEach((output, i) => {
          expect(output.shape).toEqual([batch, widths[i]]);
          expect(output.data).toHaveLength(batch * widths[i]!);
          for (let r = 0; r < batch; r++) {
            const k = hard.indexOf(r);
            expect(row(output, r, batch)).toEqual(k >= 0 ? row(cloud[i]!, k, hard.length) : row(edge[i]!, r, batch));
          }
        });
      }),
    );
  });

  it('a cloud answer that does not fit (missing output, wrong row count) is refused, so the edge answer stands', () => {
    const edge: FlatOutput[] = [{ name: 'p', shape: [2, 2], datatype: 'FP32', data: [1, 0, 0, 1] }];
    expect(() => mergeRows(edge, [], [1], 2)).toThrow(/does not match/);
    expect(() => mergeRows(edge, [{ name: 'p', shape: [2, 2], datatype: 'FP32', data: [0, 1, 0, 1] }], [1], 2)).toThrow(/does not match/);
  });

  it('slicing: only the hard rows of every input go to the cloud, nested data flattened, labels left on the node', () => {
    const request: V2InferRequest = {
      id: 'b',
      parameters: { 'fogline.label': [1, 2, 3] },
      inputs: [
        {
          name: 'x',
          shape: [3, 2],
          datatype: 'FP32',
          data: [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
        },
        { name: 't', shape: [3], datatype: 'INT64', data: [10, 20, 30] },
      ],
    };
    expect(sliceRows(inferenceCall('digits', undefined, request), [2, 0])).toEqual({
      name: 'digits',
      id: 'b',
      inputs: [
        { name: 'x', shape: [2, 2], datatype: 'FP32', data: [5, 6, 1, 2] },
        { name: 't', shape: [2], datatype: 'INT64', data: [30, 10] },
      ],
    });
  });

  it('labels: a class index for one row, an array (null: unlabelled) for a batch; anything else is the client’s error', () => {
    const withLabel = (label: unknown): V2InferRequest => ({
      parameters: { 'fogline.label': label },
      inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [0, 0] }],
    });
    expect(readLabels({}, 1)).toBeUndefined();
    expect(readLabels(withLabel(3), 1)).toEqual([3]);
    expect(readLabels(withLabel([3, null]), 2)).toEqual([3, null]);
    for (const [label, batch] of [
      [3, 2],
      [[3], 2],
      [[1.5, 2], 2],
      [['3', 2], 2],
      [-1, 1],
      [{ a: 1 }, 1],
    ] as const) {
      let error: unknown;
      try {
        readLabels(withLabel(label), batch);
      } catch (thrown) {
        error = thrown;
      }
      expect(isMlInputError(error), JSON.stringify(label)).toBe(true);
    }
  });
});
