import type { V2InferRequest, V2InferResponse } from '../contracts/open-inference.js';
import { MlInputError } from '../ml/errors.js';
import { type BinaryTensorData, decodeTensorData, elementBytes, encodeTensorData } from './v2-binary-tensors.js';

/**
 * The Open Inference Protocol's binary tensor data extension, as Triton defines it
 * (docs/protocol/extension_binary_data.md in triton-inference-server/server): a body is a JSON
 * object of `Inference-Header-Content-Length` bytes, then the raw data of every tensor whose
 * `parameters.binary_data_size` is set, in the order the JSON lists them. A request asks for binary
 * outputs with `parameters.binary_data` on a requested output, or `parameters.binary_data_output`
 * on the request for every output that does not say.
 */
export const INFERENCE_HEADER_LENGTH = 'inference-header-content-length';

/** A V2 response whose tensors came back as binary: their data are typed arrays (BYTES: strings). */
export type DecodedInferResponse = Omit<V2InferResponse, 'outputs'> & {
  outputs: (Omit<V2InferResponse['outputs'][number], 'data'> & { data: BinaryTensorData | unknown[] })[];
};

/** A V2 request whose inputs may hold typed arrays. */
export type EncodableInferRequest = Omit<V2InferRequest, 'inputs'> & {
  inputs: (Omit<V2InferRequest['inputs'][number], 'data'> & { data: ArrayLike<unknown> })[];
};

/** Reads `Inference-Header-Content-Length` against the body it describes; a 400 (MlInputError) when it cannot hold. */
export function parseHeaderLength(value: string | string[] | undefined, bodyLength: number): number {
  const header = 'Inference-Header-Content-Length';
  if (value === undefined) {
    throw new MlInputError(
      'bad-input',
      `A binary request needs the ${header} header: the length in bytes of the JSON before the tensor data.`,
    );
  }
  if (typeof value !== 'string' || !/^\s*\d{1,15}\s*$/.test(value)) {
    throw new MlInputError(
      'bad-input',
      `${header} must be one non-negative whole number of bytes; got ${JSON.stringify(value).slice(0, 40)}.`,
    );
  }
  const length = Number(value);
  if (length > bodyLength) {
    throw new MlInputError('bad-input', `${header} says the JSON takes ${length} bytes, but the whole body has ${bodyLength}.`);
  }
  return length;
}

/** The JSON part and the tensor bytes of a binary body. */
export function splitBinaryBody(body: Uint8Array, headerLength: number): { json: string; binary: Uint8Array } {
  return { json: Buffer.from(body.buffer, body.byteOffset, headerLength).toString('utf8'), binary: body.subarray(headerLength) };
}

/**
 * Decodes the binary data of `tensors` (a request's inputs or a response's outputs, as parsed from
 * untrusted JSON) from `binary`: each tensor with `parameters.binary_data_size` takes that many
 * bytes, in order, and the sizes must add up to all of `binary`. Returns the data by tensor index.
 * What does not fit (a size that disagrees with shape × element size, a total that does not add up,
 * a tensor with both `data` and binary data) is a MlInputError naming the tensor and what it expected.
 */
export function decodeBinaryTensors(tensors: unknown, binary: Uint8Array, role: 'Input' | 'Output'): Map<number, BinaryTensorData> {
  const decoded = new Map<number, BinaryTensorData>();
  if (!Array.isArray(tensors)) {
    if (binary.byteLength > 0)
      throw new MlInputError(
        'bad-input',
        `The body has ${binary.byteLength} bytes of binary data but no ${role.toLowerCase()}s to hold them.`,
      );
    return decoded;
  }
  const planned: { index: number; what: string; datatype: string; count: number; size: number }[] = [];
  let total = 0;
  tensors.forEach((tensor: unknown, index) => {
    const fields = (tensor ?? {}) as { name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown; parameters?: unknown };
    const parameters = fields.parameters as { binary_data_size?: unknown } | undefined;
    if (typeof parameters !== 'object' || parameters === null || parameters.binary_data_size === undefined) return;
    const what = `${role} "${String(fields.name).slice(0, 200)}"`;
    const size = parameters.binary_data_size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new MlInputError(
        'bad-input',
        `${what} has binary_data_size ${JSON.stringify(size)?.slice(0, 40)}; it must be a whole number of bytes.`,
      );
    }
    if (fields.data !== undefined) {
      throw new MlInputError('bad-input', `${what} has both "data" and binary_data_size: send its values one way only.`);
    }
    const datatype = typeof fields.datatype === 'string' ? fields.datatype : '';
    const count = elementCount(fields.shape, what);
    const bytes = elementBytes(datatype);
    if (bytes === undefined && datatype !== 'BYTES') {
      throw new MlInputError(
        'bad-input',
        `${what} has datatype ${JSON.stringify(fields.datatype)?.slice(0, 40)}, which binary data cannot carry.`,
      );
    }
    if (bytes !== undefined && size !== count * bytes) {
      throw new MlInputError(
        'bad-input',
        `${what} (${datatype}, shape ${JSON.stringify(fields.shape)}) needs binary_data_size ${count * bytes} (${count} value(s) × ${bytes} byte(s)); it says ${size}.`,
      );
    }
    total += size;
    planned.push({ index, what, datatype, count, size });
  });
  if (total !== binary.byteLength) {
    throw new MlInputError(
      'bad-input',
      `The body has ${binary.byteLength} bytes of binary data after its JSON, but the ${role.toLowerCase()}s' binary_data_size add up to ${total}.`,
    );
  }
  let offset = 0;
  for (const { index, what, datatype, count, size } of planned) {
    decoded.set(index, decodeTensorData(datatype, binary.subarray(offset, offset + size), count, what));
    offset += size;
  }
  return decoded;
}

function elementCount(shape: unknown, what: string): number {
  if (!Array.isArray(shape) || shape.length > 16 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new MlInputError(
      'bad-input',
      `${what} has shape ${JSON.stringify(shape)?.slice(0, 60)}; it must be a list of whole numbers ≥ 0.`,
    );
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count)) throw new MlInputError('bad-input', `${what} has shape ${JSON.stringify(shape)}, too many values.`);
  return count;
}

/** JSON header then raw bytes: the body of a binary request or response. */
function frame(header: object, chunks: Uint8Array[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.byteLength };
}

/**
 * Which outputs the request wants as binary: `parameters.binary_data` on a requested output when it
 * says, else the request's `parameters.binary_data_output` (default false). Non-booleans are a 400.
 */
export function binaryOutputChoice(request: Pick<V2InferRequest, 'parameters' | 'outputs'>): (name: string) => boolean {
  const all = request.parameters?.['binary_data_output'];
  if (all !== undefined && typeof all !== 'boolean') {
    throw new MlInputError(
      'bad-input',
      `The request parameter binary_data_output must be true or false; got ${JSON.stringify(all)?.slice(0, 40)}.`,
    );
  }
  const each = new Map<string, boolean>();
  for (const output of request.outputs ?? []) {
    const one = output.parameters?.['binary_data'];
    if (one === undefined) continue;
    if (typeof one !== 'boolean') {
      throw new MlInputError(
        'bad-input',
        `Output "${output.name}" has binary_data ${JSON.stringify(one)?.slice(0, 40)}; it must be true or false.`,
      );
    }
    each.set(output.name, one);
  }
  if (all !== true && each.size === 0) return () => false;
  return (name) => each.get(name) ?? all === true;
}

/**
 * The binary form of a response: outputs `binary(name)` picks (and whose datatype binary data can
 * carry) go as bytes with `parameters.binary_data_size`; the others stay JSON. Undefined when no
 * output goes binary: then the response is plain JSON, without Inference-Header-Content-Length.
 */
export function encodeBinaryResponse(
  response: V2InferResponse,
  binary: (name: string) => boolean,
): { body: Buffer; headerLength: number } | undefined {
  const chunks: Uint8Array[] = [];
  const outputs = response.outputs.map((output) => {
    const carried = output.datatype === 'BYTES' || elementBytes(output.datatype) !== undefined;
    if (!binary(output.name) || !carried) return output;
    const bytes = encodeTensorData(output.datatype, output.data as ArrayLike<unknown>, `Output "${output.name}"`);
    chunks.push(bytes);
    const { data: _data, ...rest } = output;
    return { ...rest, parameters: { ...output.parameters, binary_data_size: bytes.byteLength } };
  });
  if (chunks.length === 0) return undefined;
  const { model_name, model_version, id, parameters } = response;
  return frame({ model_name, model_version, id, parameters, outputs }, chunks);
}

/**
 * A request's binary body, for clients (benches, the CLI): every input's data goes as bytes with
 * `parameters.binary_data_size`. With `binaryOutputs`, the request asks for every output as binary
 * (`binary_data_output`, and `binary_data` on each output it names). Send it with
 * `Inference-Header-Content-Length: headerLength` and `Content-Type: application/octet-stream`.
 */
export function encodeBinaryRequest(
  request: EncodableInferRequest,
  options: { binaryOutputs: boolean },
): { body: Buffer; headerLength: number } {
  const chunks: Uint8Array[] = [];
  const inputs = request.inputs.map((input) => {
    const bytes = encodeTensorData(input.datatype, input.data, `Input "${input.name}"`);
    chunks.push(bytes);
    const { data: _data, ...rest } = input;
    return { ...rest, parameters: { ...input.parameters, binary_data_size: bytes.byteLength } };
  });
  const outputs = options.binaryOutputs
    ? request.outputs?.map((output) => ({ ...output, parameters: { ...output.parameters, binary_data: true } }))
    : request.outputs;
  const parameters = options.binaryOutputs ? { ...request.parameters, binary_data_output: true } : request.parameters;
  return frame({ ...request, ...(parameters ? { parameters } : {}), inputs, ...(outputs ? { outputs } : {}) }, chunks);
}

/**
 * Reads a response body that came with `Inference-Header-Content-Length: headerLength`: binary
 * outputs get typed-array data (BYTES: strings); JSON outputs keep theirs.
 */
export function decodeBinaryResponse(body: Uint8Array, headerLength: number): DecodedInferResponse {
  const length = parseHeaderLength(String(headerLength), body.byteLength);
  const { json, binary } = splitBinaryBody(body, length);
  let header: DecodedInferResponse;
  try {
    header = JSON.parse(json) as DecodedInferResponse;
  } catch (error) {
    throw new MlInputError('bad-input', `The response's JSON header (${length} bytes) does not parse: ${(error as Error).message}`);
  }
  if (!header || typeof header !== 'object' || !Array.isArray(header.outputs)) {
    throw new MlInputError('bad-input', "The response's JSON header has no outputs.");
  }
  const decoded = decodeBinaryTensors(header.outputs, binary, 'Output');
  return { ...header, outputs: header.outputs.map((output, i) => (decoded.has(i) ? { ...output, data: decoded.get(i)! } : output)) };
}
