import { ERROR_CODES, type ErrorCode } from './error-codes.js';

/** An error with a stable code; the control plane turns it into `{code, message, details?}`. */
export class FoglineError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'FoglineError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }
}
