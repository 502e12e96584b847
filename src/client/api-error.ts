/** An error from the control plane's API (or from failing to reach it), as clients see it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** No HTTP answer at all: the server is down or unreachable. */
  get unreachable(): boolean {
    return this.status === 0;
  }
}
