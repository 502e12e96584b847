import { describe, expect, it } from 'vitest';
import type { V2InferRequest } from '../contracts/open-inference.js';
import { toInferInputs } from './v2-tensors.js';

describe('toInferInputs', () => {
  it('flattens nested data in row-major order (once per request: the routes build one InferenceCall for every layer)', () => {
    const request: V2InferRequest = {
      inputs: [
        {
          name: 'x',
          shape: [2, 2],
          datatype: 'FP32',
          data: [
            [1, 2],
            [3, 4],
          ],
        },
      ],
    };
    expect(toInferInputs(request)).toEqual([{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }]);
    expect(toInferInputs({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [5] }] })[0]?.data).toEqual([5]);
  });

  it('refuses a value that is not a number every time it is asked', () => {
    const request = { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: ['a'] }] } as unknown as V2InferRequest;
    expect(() => toInferInputs(request)).toThrow(/not a number/);
    expect(() => toInferInputs(request)).toThrow(/not a number/);
  });

  it('passes the typed arrays of a binary request on as they are, not copied into arrays', () => {
    const history = Float32Array.of(1, 2, 3);
    const request = { inputs: [{ name: 'history', shape: [1, 3], datatype: 'FP32', data: history }] } as unknown as V2InferRequest;
    expect(toInferInputs(request)[0]?.data).toBe(history);
  });

  it('takes strings for BYTES inputs only', () => {
    const bytes = { inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['a', 'b'] }] } as V2InferRequest;
    expect(toInferInputs(bytes)[0]?.data).toEqual(['a', 'b']);
    const numbers = { inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 'b'] }] } as V2InferRequest;
    expect(() => toInferInputs(numbers)).toThrow(/Input "x" has a value that is not a number: "b"/);
  });
});
