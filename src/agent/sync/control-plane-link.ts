import { ApiError } from '../../client/api-error.js';
import { type BearerToken, bearerValue } from '../../client/bearer-token.js';
import type { DeploymentStatusReport, DesiredState } from '../../contracts/deployments.js';
import type { RegistryPublicKey } from '../../contracts/models.js';

/**
 * The agent's calls for deployments, with its node credential. Kept apart from ApiClient
 * because a long poll and a ranged binary download need their own timeouts and stream handling.
 */
export class ControlPlaneLink {
  private readonly server: string;

  constructor(
    server: string,
    private readonly nodeId: string,
    private readonly credential: BearerToken,
  ) {
    this.server = server.replace(/\/+$/, '');
  }

  /** Long poll: answers at once when the revision differs from `revision`, else after up to `waitSeconds`. */
  async desiredState(revision: string | undefined, waitSeconds: number, signal: AbortSignal): Promise<DesiredState> {
    const query = new URLSearchParams({ waitSeconds: String(waitSeconds) });
    if (revision !== undefined) query.set('revision', revision);
    // The server holds the request up to waitSeconds: allow that plus room for a slow answer.
    const timeout = AbortSignal.timeout((waitSeconds + 15) * 1000);
    const response = await this.fetch(`${this.nodePath()}/desired-state?${query}`, { signal: AbortSignal.any([signal, timeout]) });
    return (await response.json()) as DesiredState;
  }

  async reportStatus(report: DeploymentStatusReport): Promise<void> {
    await this.fetch(`${this.nodePath()}/deployment-status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(report),
      signal: AbortSignal.timeout(10_000),
    });
  }

  async registryPublicKey(): Promise<string> {
    const response = await this.fetch('/api/v1/registry/public-key', { signal: AbortSignal.timeout(10_000) }, false);
    return ((await response.json()) as RegistryPublicKey).publicKeyPem;
  }

  /** GET the artifact, from byte `from` on when resuming (the answer is 206 then, or 200 when the server ignored the range). */
  async download(downloadPath: string, from: number, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
    return this.fetch(downloadPath, { headers, signal });
  }

  private nodePath(): string {
    return `/api/v1/nodes/${encodeURIComponent(this.nodeId)}`;
  }

  private async fetch(path: string, init: RequestInit, authorised = true): Promise<Response> {
    const headers = new Headers(init.headers);
    if (authorised) headers.set('authorization', `Bearer ${bearerValue(this.credential)}`);
    let response: Response;
    try {
      response = await fetch(`${this.server}${path}`, { ...init, headers });
    } catch (error) {
      if ((error as Error).name === 'AbortError' && init.signal?.aborted) throw error;
      throw new ApiError(0, 'UNREACHABLE', `cannot reach the control plane at ${this.server}: ${(error as Error).message}`);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      let code = 'HTTP_ERROR';
      let message = `${response.status} ${response.statusText}`;
      try {
        const body = JSON.parse(text) as { code?: string; message?: string };
        code = body.code ?? code;
        message = body.message ?? message;
      } catch {
        // not a JSON error body
      }
      throw new ApiError(response.status, code, `${path}: ${message}`);
    }
    return response;
  }
}
