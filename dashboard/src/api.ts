/** The REST API of the control plane, on the dashboard's own origin, with the token from the login form. */
import { ApiError } from '../../src/client/api-error.js';
import type { ErrorBody } from '../../src/contracts/common.js';

export { ApiError };

const TOKEN_KEY = 'fogline.token';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Called when the server refuses the token (401): the app goes back to the login form. */
let onUnauthorized: (message: string) => void = () => undefined;
export function setUnauthorizedHandler(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

export async function api<T>(method: string, path: string, body?: unknown, token = getToken()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', `The control plane can't be reached (${(error as Error).message})`);
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = parsed as Partial<ErrorBody> & { error?: string };
    const message = error?.message ?? error?.error ?? `${response.status} ${response.statusText}`;
    if (response.status === 401) onUnauthorized(message);
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, message);
  }
  return parsed as T;
}

/** A short human explanation of why a call failed. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 403) return `Not allowed with this token: ${error.message}`;
    return error.message;
  }
  return (error as Error)?.message ?? String(error);
}
