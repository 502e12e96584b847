/**
 * What went wrong with the caller's input, as a stable code. The control plane maps these to its
 * own error codes; the message always names the problem and what to do about it.
 */
export type MlProblem =
  | 'empty'
  | 'missing-column'
  | 'non-numeric'
  | 'bad-timestamp'
  | 'line-too-long'
  | 'too-short'
  | 'too-many-gaps'
  | 'bad-parameter'
  | 'bad-input'
  | 'bundle-truncated'
  | 'bundle-corrupt'
  | 'bundle-unsupported'
  | 'onnx-invalid'
  | 'onnx-truncated'
  | 'onnx-unsupported';

/**
 * Bad input to the ML library (a CSV, a parameter, a bundle, a predict request). Anything else
 * thrown by the library is a bug or an abort (`signal.reason`).
 *
 * Across a worker thread an Error loses its own fields, so send `error.toJSON()` instead.
 *
 * @example
 * try { parseTimeSeriesCsv(text) } catch (e) { if (e instanceof MlInputError) reply(400, e.toJSON()) }
 */
export class MlInputError extends Error {
  readonly problem: MlProblem;
  readonly details?: Record<string, unknown>;

  constructor(problem: MlProblem, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'MlInputError';
    this.problem = problem;
    if (details !== undefined) this.details = details;
  }

  toJSON(): { name: 'MlInputError'; problem: MlProblem; message: string; details?: Record<string, unknown> } {
    return { name: 'MlInputError', problem: this.problem, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isMlInputError(error: unknown): error is MlInputError {
  return error instanceof MlInputError;
}

/** Throws a `bad-parameter` error unless `ok`; keeps parameter checks one line each. */
export function requireParameter(ok: boolean, name: string, expectation: string, actual: unknown): void {
  if (!ok) {
    throw new MlInputError('bad-parameter', `Parameter "${name}" must be ${expectation} (got ${JSON.stringify(actual)}).`, {
      parameter: name,
    });
  }
}
