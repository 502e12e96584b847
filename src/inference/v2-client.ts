import { request as undiciRequest } from 'undici';
import { type BearerToken, bearerValue } from '../client/bearer-token.js';
import type { V2InferRequest, V2InferResponse } from '../contracts/open-inference.js';

/** Why an offloaded request did not come back with an answer. */
export class CloudInferError extends Error {
  constructor(
    message: string,
    /** The cloud's HTTP status; undefined when it could not be reached or timed out. */
    readonly status: number | undefined,
    /** True when the failure says the cloud is in trouble (down, slow, 5xx, refusing our credential), not the request. */
    readonly cloudFault: boolean,
  ) {
    super(message);
  }
}

export interface CloudClientOptions {
  /** The control plane's URL (or a cloud replica's inference URL): the V2 routes live under it. */
  server: string;
  /** The node credential (the control plane's V2 routes accept it), or the control plane's own inference token (cloud agents with --edge-auth token accept it). */
  credential?: BearerToken;
  /** How long an offloaded request may take before the node runs it itself, ms. */
  timeoutMs: number;
}

/** The response header in which a V2 server says how long its queue is (ms). */
export const QUEUE_HEADER = 'fogline-queue-ms';

/** What one V2 infer POST came to: a JSON answer (of any status), or why there was none. */
export type V2PostResult =
  /** `queueMs`: the answering server's queue, from its `fogline-queue-ms` header, where it sent one. */
  | { kind: 'answer'; status: number; body: unknown; queueMs?: number }
  | { kind: 'timeout' }
  | { kind: 'unreachable'; error: Error & { code?: string } }
  | { kind: 'not-json'; status: number };

/**
 * POSTs a V2 infer body through undici's `request` on the global dispatcher (keep-alive, and the
 * CA pinned with --ca; about a third of `fetch`'s cost per call, which matters on a node short of
 * CPU or a load generator sharing the machine with what it loads). Callers word the failures.
 */
export async function postV2Infer(url: string | URL, body: string, timeoutMs: number, token?: BearerToken): Promise<V2PostResult> {
  let status: number;
  let text: string;
  let queueHeader: string | string[] | undefined;
  try {
    const response = await undiciRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${bearerValue(token)}` } : {}) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = response.statusCode;
    queueHeader = response.headers[QUEUE_HEADER];
    text = await response.body.text();
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError' || /Timeout/.test(name)) return { kind: 'timeout' };
    return { kind: 'unreachable', error: error as Error };
  }
  try {
    const queueMs = typeof queueHeader === 'string' ? Number(queueHeader) : Number.NaN;
    return { kind: 'answer', status, body: JSON.parse(text) as unknown, ...(Number.isFinite(queueMs) && queueMs >= 0 ? { queueMs } : {}) };
  } catch {
    return { kind: 'not-json', status };
  }
}

/**
 * Posts V2 infer requests to the control plane with the node credential (or, from the control
 * plane, to a cloud replica's agent) with postV2Infer().
 */
export class CloudClient {
  constructor(private readonly options: CloudClientOptions) {}

  async infer(path: string, request: V2InferRequest): Promise<V2InferResponse> {
    return (await this.inferWithQueue(path, request)).response;
  }

  /** The answer, with the queue the cloud reported with it (ms) where it did. */
  async inferWithQueue(path: string, request: V2InferRequest): Promise<{ response: V2InferResponse; queueMs?: number }> {
    const { timeoutMs } = this.options;
    const result = await postV2Infer(new URL(path, this.options.server), JSON.stringify(request), timeoutMs, this.options.credential);
    if (result.kind === 'timeout') throw new CloudInferError(`the cloud did not answer within ${timeoutMs} ms`, undefined, true);
    if (result.kind === 'unreachable') throw new CloudInferError(`the cloud cannot be reached: ${result.error.message}`, undefined, true);
    if (result.kind === 'not-json') throw new CloudInferError(`the cloud answered ${result.status} without JSON`, result.status, true);
    const { status, body } = result;
    if (status !== 200) {
      const message = (body as { error?: unknown } | null)?.error;
      // A 400 or 413 is about this request (the node answers it with its own error); anything else is the cloud's trouble.
      const requestFault = status === 400 || status === 413;
      throw new CloudInferError(`the cloud answered ${status}: ${String(message ?? '')}`, status, !requestFault);
    }
    if (!body || typeof body !== 'object' || !Array.isArray((body as V2InferResponse).outputs))
      throw new CloudInferError('the cloud answered 200 without V2 outputs', 200, true);
    return { response: body as V2InferResponse, ...(result.queueMs !== undefined ? { queueMs: result.queueMs } : {}) };
  }
}
