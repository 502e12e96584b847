import { describe, expect, it } from 'vitest';
import type { V2InferRequest } from '../contracts/open-inference.js';
import { fromV2Response, inferenceCall, toV2Request, toV2Response } from './inference-call.js';

describe('InferenceCall', () => {
  const body: V2InferRequest = {
    id: 'r1',
    parameters: { 'fogline.label': 1 },
    inputs: [
      {
        name: 'x',
        shape: [1, 2, 2],
        datatype: 'FP32',
        data: [
          [
            [1, 2],
            [3, 4],
          ],
        ] as unknown[],
      },
    ],
    outputs: [{ name: 'y' }],
  };

  it('converts the request once, and forwards it as the same V2 request with flat data', () => {
    const signal = new AbortController().signal;
    const call = inferenceCall('energy', '2', body, signal);
    expect(call).toEqual({
      name: 'energy',
      version: '2',
      id: 'r1',
      inputs: [{ name: 'x', shape: [1, 2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }],
      outputs: [{ name: 'y' }],
      parameters: { 'fogline.label': 1 },
      signal,
    });
    expect(toV2Request(call)).toEqual({ ...body, inputs: [{ ...body.inputs[0], data: [1, 2, 3, 4] }] });
  });

  it('writes where an answer ran as the fogline.* parameters, after those an answer from elsewhere carried', () => {
    const cloud = fromV2Response({
      model_name: 'energy-model',
      model_version: '3',
      parameters: { 'fogline.ran_on': 'edge', 'fogline.node': 'cloud-1', other: true },
      outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [9] }],
    });
    const wire = toV2Response({ ...cloud, modelName: 'energy', ranOn: 'cloud', node: 'edge-1', reason: 'queue' }, 'r1');
    expect(wire).toEqual({
      model_name: 'energy',
      model_version: '3',
      id: 'r1',
      outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [9] }],
      parameters: { 'fogline.ran_on': 'cloud', 'fogline.node': 'edge-1', other: true, 'fogline.offload_reason': 'queue' },
    });
    expect(Object.keys(wire.parameters!)).toEqual(['fogline.ran_on', 'fogline.node', 'other', 'fogline.offload_reason']);
    // Nothing to say: no parameters at all, as before.
    expect(toV2Response({ modelName: 'm', modelVersion: '1', outputs: [] }, undefined)).toEqual({
      model_name: 'm',
      model_version: '1',
      outputs: [],
    });
  });

  it('writes joint inference and replica fields under their parameter names', () => {
    const wire = toV2Response(
      {
        modelName: 'digits',
        modelVersion: '2',
        outputs: [],
        ranOn: 'cloud',
        node: 'edge-1',
        reason: 'hard-example',
        joint: { outcome: 'hard', rows: ['easy', 'hard'] },
        cloudModel: 'digits-large',
        cloudVersion: '4',
        replica: 'control-plane',
      },
      undefined,
    );
    expect(wire.parameters).toEqual({
      'fogline.ran_on': 'cloud',
      'fogline.node': 'edge-1',
      'fogline.offload_reason': 'hard-example',
      'fogline.joint': 'hard',
      'fogline.joint_rows': ['easy', 'hard'],
      'fogline.cloud_model': 'digits-large',
      'fogline.cloud_model_version': '4',
      'fogline.replica': 'control-plane',
    });
  });
});
