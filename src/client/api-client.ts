import type { AuditList, AuditQuery } from '../contracts/audit.js';
import type { ErrorBody } from '../contracts/common.js';
import type { DatasetList, DatasetUploadQuery, DatasetVersionList, DatasetVersionView } from '../contracts/datasets.js';
import type { CreateDeploymentRequest, DeploymentList, DeploymentView } from '../contracts/deployments.js';
import type {
  FederatedJobList,
  FederatedJobListQuery,
  FederatedJobView,
  FederatedTaskList,
  FederatedUpdateReceipt,
  StartFederatedJobRequest,
} from '../contracts/federated.js';
import type { RotateCredentialRequest } from '../contracts/join-policy.js';
import type { ModelImportQuery, ModelList, ModelVersionList, ModelVersionView, ModelView, RegistryPublicKey } from '../contracts/models.js';
import type {
  EnrollRequest,
  EnrollResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  LabelPatch,
  NodeList,
  NodeListQuery,
  NodeView,
} from '../contracts/nodes.js';
import type {
  PipelineList,
  RunClaim,
  RunCompletion,
  RunEventList,
  RunList,
  RunListQuery,
  RunReport,
  RunReportAnswer,
  RunView,
  StartRunRequest,
} from '../contracts/runs.js';
import type { CreateTokenRequest, CreateTokenResponse, TokenList } from '../contracts/tokens.js';
import { ApiError } from './api-error.js';
import { type BearerToken, bearerValue } from './bearer-token.js';

export interface ApiClientOptions {
  server: string;
  /** A token, or a function that gives the current one (a node's rotating credential). */
  token?: BearerToken;
  timeoutMs?: number;
}

/** A typed client for the REST API; request and response types are the server's own schemas. */
export class ApiClient {
  private readonly server: string;

  constructor(private readonly options: ApiClientOptions) {
    this.server = options.server.replace(/\/+$/, '');
  }

  enroll(joinToken: string, body: EnrollRequest): Promise<EnrollResponse> {
    return this.request('POST', '/api/v1/nodes/enroll', { body, token: joinToken });
  }

  heartbeat(nodeId: string, body: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.request('POST', `/api/v1/nodes/${encodeURIComponent(nodeId)}/heartbeat`, { body });
  }

  createToken(body: CreateTokenRequest): Promise<CreateTokenResponse> {
    return this.request('POST', '/api/v1/tokens', { body });
  }

  listTokens(all = false): Promise<TokenList> {
    return this.request('GET', `/api/v1/tokens${all ? '?all=true' : ''}`);
  }

  revokeToken(id: string): Promise<void> {
    return this.request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
  }

  listNodes(query: NodeListQuery = {}): Promise<NodeList> {
    return this.request('GET', `/api/v1/nodes${queryString(query)}`);
  }

  getNode(idOrName: string): Promise<NodeView> {
    return this.request('GET', `/api/v1/nodes/${encodeURIComponent(idOrName)}`);
  }

  patchLabels(idOrName: string, patch: LabelPatch): Promise<NodeView> {
    return this.request('PATCH', `/api/v1/nodes/${encodeURIComponent(idOrName)}/labels`, { body: patch });
  }

  setCordoned(idOrName: string, cordoned: boolean): Promise<NodeView> {
    return this.request('POST', `/api/v1/nodes/${encodeURIComponent(idOrName)}/${cordoned ? 'cordon' : 'uncordon'}`);
  }

  /** Where the control plane calls the node's agent (operator); heartbeats cannot change it. */
  setInferenceUrl(idOrName: string, url: string): Promise<NodeView> {
    return this.request('PUT', `/api/v1/nodes/${encodeURIComponent(idOrName)}/inference-url`, { body: { url } });
  }

  approveNode(idOrName: string): Promise<NodeView> {
    return this.request('POST', `/api/v1/nodes/${encodeURIComponent(idOrName)}/approve`);
  }

  rotateCredential(idOrName: string, body: RotateCredentialRequest = {}): Promise<NodeView> {
    return this.request('POST', `/api/v1/nodes/${encodeURIComponent(idOrName)}/rotate-credential`, { body });
  }

  deleteNode(idOrName: string): Promise<NodeView> {
    return this.request('DELETE', `/api/v1/nodes/${encodeURIComponent(idOrName)}`);
  }

  listAudit(query: AuditQuery = {}): Promise<AuditList> {
    return this.request('GET', `/api/v1/audit${queryString(query)}`);
  }

  listModels(): Promise<ModelList> {
    return this.request('GET', '/api/v1/models');
  }

  getModel(name: string): Promise<ModelView> {
    return this.request('GET', `/api/v1/models/${encodeURIComponent(name)}`);
  }

  listVersions(name: string): Promise<ModelVersionList> {
    return this.request('GET', `/api/v1/models/${encodeURIComponent(name)}/versions`);
  }

  /** `ref`: a version number or an alias. */
  getVersion(name: string, ref: string | number): Promise<ModelVersionView> {
    return this.request('GET', `/api/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(String(ref))}`);
  }

  setAlias(name: string, alias: string, version: number): Promise<ModelVersionView> {
    return this.request('PUT', `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, { body: { version } });
  }

  deleteAlias(name: string, alias: string): Promise<void> {
    return this.request('DELETE', `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`);
  }

  /** Streams a CSV to the control plane as a new dataset version. */
  async pushDataset(name: string, body: ReadableStream<Uint8Array>, query: DatasetUploadQuery): Promise<DatasetVersionView> {
    const response = await this.send(
      'POST',
      `/api/v1/datasets/${encodeURIComponent(name)}/versions${queryString(query)}`,
      { raw: body, contentType: 'text/csv' },
      30 * 60_000,
    );
    if (!response.ok) await this.fail(response);
    return (await response.json()) as DatasetVersionView;
  }

  /**
   * Uploads an ONNX file as a new version of `name` (streamed); the server checks that it loads and
   * answers. `body` is the file itself, or a multipart form (`contentType` says which) whose
   * fields carry what the query cannot (long label lists).
   */
  async importModel(
    name: string,
    body: ReadableStream<Uint8Array>,
    query: ModelImportQuery,
    contentType = 'application/octet-stream',
  ): Promise<ModelVersionView> {
    const params = new URLSearchParams();
    if (query.filename !== undefined) params.set('filename', query.filename);
    if (query.description !== undefined) params.set('description', query.description);
    if (query.labels !== undefined) params.set('labels', query.labels);
    for (const tag of query.tag ?? []) params.append('tag', tag);
    const search = params.toString();
    const response = await this.send(
      'POST',
      `/api/v1/models/${encodeURIComponent(name)}/versions${search ? `?${search}` : ''}`,
      { raw: body, contentType },
      30 * 60_000,
    );
    if (!response.ok) await this.fail(response);
    return (await response.json()) as ModelVersionView;
  }

  listDatasets(): Promise<DatasetList> {
    return this.request('GET', '/api/v1/datasets');
  }

  datasetVersions(name: string): Promise<DatasetVersionList> {
    return this.request('GET', `/api/v1/datasets/${encodeURIComponent(name)}`);
  }

  getDataset(name: string, version: number): Promise<DatasetVersionView> {
    return this.request('GET', `/api/v1/datasets/${encodeURIComponent(name)}/versions/${version}`);
  }

  listPipelines(): Promise<PipelineList> {
    return this.request('GET', '/api/v1/pipelines');
  }

  startRun(body: StartRunRequest): Promise<RunView> {
    return this.request('POST', '/api/v1/runs', { body });
  }

  listRuns(query: RunListQuery = {}): Promise<RunList> {
    return this.request('GET', `/api/v1/runs${queryString(query)}`);
  }

  getRun(id: string): Promise<RunView> {
    return this.request('GET', `/api/v1/runs/${encodeURIComponent(id)}`);
  }

  runEvents(id: string, after = 0): Promise<RunEventList> {
    return this.request('GET', `/api/v1/runs/${encodeURIComponent(id)}/events?after=${after}`);
  }

  cancelRun(id: string): Promise<RunView> {
    return this.request('POST', `/api/v1/runs/${encodeURIComponent(id)}/cancel`);
  }

  /** A worker takes a run it got from the work queue. */
  claimRun(id: string, worker: string): Promise<RunClaim> {
    return this.request('POST', `/api/v1/runs/${encodeURIComponent(id)}/claim`, { body: { worker } });
  }

  reportRun(id: string, attempt: number, report: RunReport): Promise<RunReportAnswer> {
    return this.request('POST', `/api/v1/runs/${encodeURIComponent(id)}/attempts/${attempt}/reports`, { body: report });
  }

  releaseRun(id: string, attempt: number): Promise<void> {
    return this.request('POST', `/api/v1/runs/${encodeURIComponent(id)}/attempts/${attempt}/release`);
  }

  /** Hands in the evaluated bundle; the control plane runs the register step (it may take a while for a large bundle). */
  completeRun(id: string, attempt: number, completion: RunCompletion): Promise<RunView> {
    return this.request('POST', `/api/v1/runs/${encodeURIComponent(id)}/attempts/${attempt}/complete`, {
      body: completion,
      timeoutMs: 300_000,
    });
  }

  /** A dataset version's file, streamed as it arrives, with the digest the server claims for it. */
  async downloadDataset(name: string, version: number): Promise<{ body: ReadableStream<Uint8Array>; sha256: string }> {
    const response = await this.send('GET', `/api/v1/datasets/${encodeURIComponent(name)}/versions/${version}/file`, {}, 600_000);
    if (!response.ok || !response.body) await this.fail(response);
    return { body: response.body as ReadableStream<Uint8Array>, sha256: response.headers.get('x-fogline-sha256') ?? '' };
  }

  createDeployment(body: CreateDeploymentRequest): Promise<DeploymentView> {
    return this.request('POST', '/api/v1/deployments', { body });
  }

  listDeployments(): Promise<DeploymentList> {
    return this.request('GET', '/api/v1/deployments');
  }

  getDeployment(name: string): Promise<DeploymentView> {
    return this.request('GET', `/api/v1/deployments/${encodeURIComponent(name)}`);
  }

  rollbackDeployment(name: string): Promise<DeploymentView> {
    return this.request('POST', `/api/v1/deployments/${encodeURIComponent(name)}/rollback`);
  }

  deleteDeployment(name: string): Promise<void> {
    return this.request('DELETE', `/api/v1/deployments/${encodeURIComponent(name)}`);
  }

  startFederatedJob(body: StartFederatedJobRequest): Promise<FederatedJobView> {
    return this.request('POST', '/api/v1/federated/jobs', { body });
  }

  listFederatedJobs(query: FederatedJobListQuery = {}): Promise<FederatedJobList> {
    return this.request('GET', `/api/v1/federated/jobs${queryString(query)}`);
  }

  getFederatedJob(id: string): Promise<FederatedJobView> {
    return this.request('GET', `/api/v1/federated/jobs/${encodeURIComponent(id)}`);
  }

  cancelFederatedJob(id: string): Promise<FederatedJobView> {
    return this.request('POST', `/api/v1/federated/jobs/${encodeURIComponent(id)}/cancel`);
  }

  /** A node's federated tasks; the server holds the request up to `waitSeconds` until one comes. */
  async federatedTasks(nodeId: string, waitSeconds = 0, kinds?: readonly string[]): Promise<FederatedTaskList> {
    const response = await this.send(
      'GET',
      `/api/v1/federated/nodes/${encodeURIComponent(nodeId)}/tasks?wait=${waitSeconds}${kinds?.length ? `&kinds=${kinds.join(',')}` : ''}`,
      {},
      (waitSeconds + 10) * 1000,
    );
    if (!response.ok) await this.fail(response);
    return (await response.json()) as FederatedTaskList;
  }

  /** A round's global weights (an update frame); `path` is the task's weightsPath. */
  async federatedWeights(path: string): Promise<Uint8Array> {
    const response = await this.send('GET', path, {}, 120_000);
    if (!response.ok) await this.fail(response);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Sends an encoded update frame; `path` is the task's updatePath. */
  async sendFederatedUpdate(path: string, frame: Uint8Array): Promise<FederatedUpdateReceipt> {
    const body = new Blob([frame]).stream() as ReadableStream<Uint8Array>;
    const response = await this.send('POST', path, { raw: body, contentType: 'application/octet-stream' }, 120_000);
    if (!response.ok) await this.fail(response);
    return (await response.json()) as FederatedUpdateReceipt;
  }

  registryPublicKey(): Promise<RegistryPublicKey> {
    return this.request('GET', '/api/v1/registry/public-key');
  }

  /** A version's bundle bytes with the digest and signature the server claims for them. */
  async downloadArtifact(
    name: string,
    ref: string | number,
  ): Promise<{ bytes: Buffer; sha256: string; signature: string; version: number }> {
    const response = await this.send(
      'GET',
      `/api/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(String(ref))}/artifact`,
      {},
      120_000,
    );
    if (!response.ok) await this.fail(response);
    return {
      bytes: Buffer.from(await response.arrayBuffer()),
      sha256: response.headers.get('x-fogline-sha256') ?? '',
      signature: response.headers.get('x-fogline-signature') ?? '',
      version: Number(response.headers.get('x-fogline-model-version')),
    };
  }

  /** `timeoutMs` overrides the client's for this call (a call the server may hold up, e.g. a session whose model loads). */
  async request<T>(method: string, path: string, options: { body?: unknown; token?: string; timeoutMs?: number } = {}): Promise<T> {
    const response = await this.send(method, path, options, options.timeoutMs);
    if (!response.ok) await this.fail(response);
    const text = await response.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  private async send(
    method: string,
    path: string,
    options: { body?: unknown; token?: string; raw?: ReadableStream<Uint8Array>; contentType?: string },
    timeoutMs = this.options.timeoutMs ?? 10_000,
  ): Promise<Response> {
    const token = options.token ?? (this.options.token === undefined ? undefined : bearerValue(this.options.token));
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.contentType) headers['content-type'] = options.contentType;
    try {
      return await fetch(`${this.server}${path}`, {
        method,
        headers,
        body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
        signal: AbortSignal.timeout(timeoutMs),
        // A streamed request body needs half-duplex mode in Node's fetch.
        ...(options.raw ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      // A certificate the client does not trust is not a server that is down: say what to change.
      const untrusted = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(reason);
      throw new ApiError(
        0,
        'FOGLINE_ERR_UNREACHABLE',
        untrusted
          ? `The control plane at ${this.server} presents a certificate this client does not trust (${reason}): pass its CA with --ca (FOGLINE_CA)`
          : `Cannot reach the control plane at ${this.server} (${reason}): is \`fogline server\` running? Set --server or FOGLINE_SERVER`,
      );
    }
  }

  private async fail(response: Response): Promise<never> {
    const text = await response.text();
    // Fogline's {code, message}, or the Open Inference Protocol's {error}.
    const body = parseJson(text) as (Partial<ErrorBody> & { error?: string }) | undefined;
    throw new ApiError(
      response.status,
      body?.code ?? `HTTP_${response.status}`,
      body?.message ?? body?.error ?? (text || response.statusText),
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function queryString(query: object): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
