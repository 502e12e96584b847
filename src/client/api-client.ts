import type { AuditList, AuditQuery } from '../contracts/audit.js';
import type { ErrorBody } from '../contracts/common.js';
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
import type { CreateTokenRequest, CreateTokenResponse, TokenList } from '../contracts/tokens.js';
import { ApiError } from './api-error.js';

export interface ApiClientOptions {
  server: string;
  token?: string;
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

  deleteNode(idOrName: string): Promise<NodeView> {
    return this.request('DELETE', `/api/v1/nodes/${encodeURIComponent(idOrName)}`);
  }

  listAudit(query: AuditQuery = {}): Promise<AuditList> {
    return this.request('GET', `/api/v1/audit${queryString(query)}`);
  }

  async request<T>(method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<T> {
    const token = options.token ?? this.options.token;
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.server}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ApiError(
        0,
        'FOGLINE_ERR_UNREACHABLE',
        `Cannot reach the control plane at ${this.server} (${reason}): is \`fogline server\` running? Set --server or FOGLINE_SERVER`,
      );
    }
    const text = await response.text();
    if (!response.ok) {
      const body = parseJson(text) as Partial<ErrorBody> | undefined;
      throw new ApiError(response.status, body?.code ?? `HTTP_${response.status}`, body?.message ?? (text || response.statusText));
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
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
