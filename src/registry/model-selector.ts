import { ALIAS_PATTERN, MODEL_NAME_PATTERN } from '../contracts/models.js';
import { FoglineError } from '../errors/fogline-error.js';

export type ModelSelector =
  { model: string; kind: 'latest' } | { model: string; kind: 'version'; version: number } | { model: string; kind: 'alias'; alias: string };

/** Reads `energy`, `energy@3` or `energy@champion`. */
export function parseModelSelector(text: string): ModelSelector {
  const [model, ref, extra] = text.split('@');
  if (model === undefined || !new RegExp(MODEL_NAME_PATTERN).test(model) || extra !== undefined) throw invalid(text);
  if (ref === undefined) return { model, kind: 'latest' };
  if (/^[1-9]\d{0,8}$/.test(ref)) return { model, kind: 'version', version: Number(ref) };
  if (new RegExp(ALIAS_PATTERN).test(ref)) return { model, kind: 'alias', alias: ref };
  throw invalid(text);
}

function invalid(text: string): FoglineError {
  return new FoglineError(
    'FOGLINE_ERR_MODEL_SELECTOR_INVALID',
    `"${text}" is not a model selector: use energy-forecaster, energy-forecaster@3 or energy-forecaster@champion`,
  );
}
