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

/**
 * Posts V2 infer requests to the control plane with the node credential (or, from the control
 * plane, to a cloud replica's agent), through undici's
 * `request` on the global dispatcher (keep-alive, and the CA pinned with --ca; about a third of
 * `fetch`'s cost per call, which matters on a node short of CPU).
 */
export class CloudClient {
  constructor(private readonly options: CloudClientOptions) {}

  async infer(path: string, request: V2InferRequest): Promise<V2InferResponse> {
    const { timeoutMs } = this.options;
    let status: number;
    let text: string;
    try {
      const response = await undiciRequest(new URL(path, this.options.server), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.options.credential ? { authorization: `Bearer ${bearerValue(this.options.credential)}` } : {}),
        },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      const name = (error as Error).name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError' || /Timeout/.test(name);
      throw new CloudInferError(
        timedOut ? `the cloud did not answer within ${timeoutMs} ms` : `the cloud cannot be reached: ${(error as Error).message}`,
        undefined,
        true,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CloudInferError(`the cloud answered ${status} without JSON`, status, true);
    }
    if (status !== 200) {
      const message = (body as { error?: unknown } | null)?.error;
      // A 400 or 413 is about this request (the node answers it with its own error); anything else is the cloud's trouble.
      const requestFault = status === 400 || status === 413;
      throw new CloudInferError(`the cloud answered ${status}: ${String(message ?? '')}`, status, !requestFault);
    }
    if (!body || typeof body !== 'object' || !Array.isArray((body as V2InferResponse).outputs))
      throw new CloudInferError('the cloud answered 200 without V2 outputs', 200, true);
    return body as V2InferResponse;
  }
}
