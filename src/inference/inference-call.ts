import type { V2InferRequest, V2InferResponse } from '../contracts/open-inference.js';
import type { InferInput } from '../ml/bundle/infer-tensors.js';
import { toInferInputs } from './v2-tensors.js';

/** The response `parameters` that say where a request ran (agents, and the control plane for replicas). */
export const RAN_ON_PARAMETER = 'fogline.ran_on';
export const NODE_PARAMETER = 'fogline.node';
export const REASON_PARAMETER = 'fogline.offload_reason';
/** Joint inference: easy (the node's model answered every row), hard (the cloud model answered the hard rows) or fallback. */
export const JOINT_PARAMETER = 'fogline.joint';
/** Joint inference: easy, hard or fallback for each row of the request, in order. */
export const JOINT_ROWS_PARAMETER = 'fogline.joint_rows';
/** Joint inference: the cloud model and version that answered the hard rows. */
export const CLOUD_MODEL_PARAMETER = 'fogline.cloud_model';
export const CLOUD_VERSION_PARAMETER = 'fogline.cloud_model_version';
/** The response parameter that names who answered on the control plane: a cloud node, or `control-plane`. */
export const REPLICA_PARAMETER = 'fogline.replica';

/**
 * One inference request as every serving layer sees it: built once by the outermost layer (the
 * V2 routes, the stream, a device binding) with its tensors converted once to the ML library's
 * flat inputs, then passed down unchanged (a layer that needs another shape makes a copy).
 *
 * @example
 * const result = await source.infer(inferenceCall('energy', undefined, body, signal));
 */
export interface InferenceCall {
  /** The model (on an agent: the deployment). */
  name: string;
  /** A version in the path; none: whatever serves the name. */
  version?: string;
  /** The request's id, echoed in the answer. */
  id?: string;
  /** The request's tensors, flat and checked (toInferInputs); binary typed arrays as they came. */
  inputs: InferInput[];
  /** Outputs the caller asked for (with their parameters); none: all. */
  outputs?: V2InferRequest['outputs'];
  /** The request's parameters as sent (joint inference reads its labels here). */
  parameters?: V2InferRequest['parameters'];
  /** Aborted when the caller has gone (its connection closed): a source may drop the request then. */
  signal?: AbortSignal;
}

/** Where an answer was computed. */
export type RanOn = 'edge' | 'cloud';

/** What joint inference made of a request: its outcome, and each row's. */
export interface JointAnswer {
  outcome: 'easy' | 'hard' | 'fallback';
  rows: readonly ('easy' | 'hard' | 'fallback')[];
}

/**
 * A source's answer. Where it ran travels in typed fields, not in `parameters`: the outermost
 * layer writes them as the `fogline.*` response parameters (toV2Response).
 */
export interface InferenceResult {
  modelName: string;
  modelVersion: string;
  outputs: V2InferResponse['outputs'];
  /** Parameters of an answer that came from elsewhere (the cloud's), passed on as they are. */
  parameters?: V2InferResponse['parameters'];
  ranOn?: RanOn;
  /** The agent that routed the request. */
  node?: string;
  /** Why it ran where it did (an offload reason). */
  reason?: string;
  joint?: JointAnswer;
  /** Joint inference: the cloud model (and version) that answered hard rows. */
  cloudModel?: string;
  cloudVersion?: string;
  /** On the control plane: the cloud node (or `control-plane`) that answered. */
  replica?: string;
  /**
   * How long a request arriving as this one was answered would wait before its own compute, ms
   * (the answering server's queue): the routes send it as the `fogline-queue-ms` header, which an
   * offloading agent adds to its round trip to expect the cloud's next answer.
   */
  queueMs?: number;
}

/** The call for a V2 request body: its tensors converted here, once (a bad one throws MlInputError: 400). */
export function inferenceCall(name: string, version: string | undefined, request: V2InferRequest, signal?: AbortSignal): InferenceCall {
  // Assigned one by one, not spread: this runs on every request (bench/serve's profile).
  const call: InferenceCall = { name, inputs: toInferInputs(request) };
  if (version !== undefined) call.version = version;
  if (request.id !== undefined) call.id = request.id;
  if (request.outputs !== undefined) call.outputs = request.outputs;
  if (request.parameters !== undefined) call.parameters = request.parameters;
  if (signal) call.signal = signal;
  return call;
}

/** The call as a V2 request body, to forward to another server (flat data; binary typed arrays serialise as arrays). */
export function toV2Request(call: InferenceCall): V2InferRequest {
  return {
    ...(call.id !== undefined ? { id: call.id } : {}),
    ...(call.parameters !== undefined ? { parameters: call.parameters } : {}),
    inputs: call.inputs.map((input) => ({
      name: input.name,
      shape: input.shape,
      datatype: input.datatype ?? 'FP32',
      data: input.data as unknown[],
    })),
    ...(call.outputs !== undefined ? { outputs: call.outputs } : {}),
  };
}

/** Another server's V2 answer as a result; its parameters are kept as they are. */
export function fromV2Response(response: V2InferResponse): InferenceResult {
  return {
    modelName: response.model_name,
    modelVersion: response.model_version ?? '',
    outputs: response.outputs,
    ...(response.parameters !== undefined ? { parameters: response.parameters } : {}),
  };
}

/** The V2 answer on the wire: the typed fields become the `fogline.*` parameters, after any the answer carried. */
export function toV2Response(result: InferenceResult, id: string | undefined): V2InferResponse {
  const { modelName, modelVersion, outputs } = result;
  const response: V2InferResponse =
    id !== undefined
      ? { model_name: modelName, model_version: modelVersion, id, outputs }
      : { model_name: modelName, model_version: modelVersion, outputs };
  const stamped =
    result.ranOn !== undefined ||
    result.node !== undefined ||
    result.reason !== undefined ||
    result.joint !== undefined ||
    result.cloudModel !== undefined ||
    result.cloudVersion !== undefined ||
    result.replica !== undefined;
  if (!stamped) {
    if (result.parameters) response.parameters = result.parameters;
    return response;
  }
  // Assigned one by one, not spread: this runs on every request (bench/serve's profile).
  const parameters: Record<string, unknown> = { ...result.parameters };
  if (result.ranOn !== undefined) parameters[RAN_ON_PARAMETER] = result.ranOn;
  if (result.node !== undefined) parameters[NODE_PARAMETER] = result.node;
  if (result.reason !== undefined) parameters[REASON_PARAMETER] = result.reason;
  if (result.joint) {
    parameters[JOINT_PARAMETER] = result.joint.outcome;
    parameters[JOINT_ROWS_PARAMETER] = result.joint.rows;
  }
  if (result.cloudModel !== undefined) parameters[CLOUD_MODEL_PARAMETER] = result.cloudModel;
  if (result.cloudVersion !== undefined) parameters[CLOUD_VERSION_PARAMETER] = result.cloudVersion;
  if (result.replica !== undefined) parameters[REPLICA_PARAMETER] = result.replica;
  response.parameters = parameters;
  return response;
}
