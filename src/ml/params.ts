import { MlInputError } from './errors.js';

/**
 * One tunable parameter of a model: its type, default, range and meaning. The pipelines' parameter
 * tables are exported so the control plane can build its request schema and help text from them.
 */
export type ParamSpec =
  | { type: 'integer' | 'number'; default: number | undefined; min: number; max: number; description: string }
  | { type: 'boolean'; default: boolean; description: string }
  | { type: 'enum'; default: string; values: readonly string[]; description: string }
  | { type: 'integer-list'; default: readonly number[]; min: number; max: number; maxItems: number; description: string };

export type ParamSpecs = Record<string, ParamSpec>;

function fail(name: string, expectation: string, value: unknown): never {
  throw new MlInputError('bad-parameter', `Parameter "${name}" must be ${expectation} (got ${JSON.stringify(value)}).`, {
    parameter: name,
  });
}

function check(name: string, spec: ParamSpec, value: unknown): unknown {
  switch (spec.type) {
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || (spec.type === 'integer' && !Number.isInteger(value)))
        fail(name, `a${spec.type === 'integer' ? 'n integer' : ' number'}`, value);
      if (value < spec.min || value > spec.max) fail(name, `between ${spec.min} and ${spec.max}`, value);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') fail(name, 'true or false', value);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) fail(name, `one of ${spec.values.join(', ')}`, value);
      return value;
    case 'integer-list':
      if (
        !Array.isArray(value) ||
        value.length > spec.maxItems ||
        !value.every((v) => Number.isInteger(v) && v >= spec.min && v <= spec.max)
      ) {
        fail(name, `a list of at most ${spec.maxItems} integers between ${spec.min} and ${spec.max}`, value);
      }
      return [...value];
  }
}

/**
 * Fills in defaults and validates every parameter; unknown names are refused so a typo never
 * silently trains with the default.
 *
 * @example resolveParams(FORECASTER_PARAMS, { epochs: 10 })
 */
export function resolveParams<T>(specs: ParamSpecs, input: Record<string, unknown> = {}): T {
  for (const name of Object.keys(input)) {
    if (!(name in specs))
      throw new MlInputError('bad-parameter', `Unknown parameter "${name}"; known parameters: ${Object.keys(specs).join(', ')}.`, {
        parameter: name,
      });
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = input[name] ?? spec.default;
    if (value !== undefined) out[name] = check(name, spec, value);
  }
  return out as T;
}
