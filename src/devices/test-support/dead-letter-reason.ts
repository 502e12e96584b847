import { DeviceMessageError } from '../device-reading.js';

/** The dead-letter reason `run` throws with, or 'none' when it returns; any other error is rethrown. */
export function reasonOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof DeviceMessageError) return error.reason;
    throw error;
  }
  return 'none';
}
