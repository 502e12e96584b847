import { ConfigError } from '../errors/config-error.js';

/**
 * One way to declare a process's configuration: each option names its flag, its `FOGLINE_*`
 * variable, its default and what it means. Commands register the flags from these specs, the
 * README's configuration table is generated from them, and `resolveOptions` applies the order
 * flag > environment variable > default once, at start-up.
 */
export interface OptionSpec<T = unknown> {
  /** Flag as commander spells it, e.g. `--port <port>`. */
  readonly flag: string;
  /** Environment variable, e.g. `FOGLINE_PORT`. */
  readonly env: string;
  readonly description: string;
  /** Default as shown to users (README, --help). */
  readonly defaultText: string;
  /** Computes the default; may depend on options resolved before it. */
  readonly defaultValue: (resolved: Record<string, unknown>) => T;
  readonly parse: (raw: string, optionName: string) => T;
}

export type OptionSpecs = Record<string, OptionSpec>;
export type ResolvedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never;
};

export function option<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

export function resolveOptions<S extends OptionSpecs>(
  specs: S,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): ResolvedOptions<S> {
  const resolved: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    // Commander stores `--heartbeat-interval` as `heartbeatInterval`, whatever the spec's key is.
    const fromFlag = flags[flagKey(spec)];
    const fromEnv = env[spec.env];
    if (typeof fromFlag === 'string') resolved[key] = spec.parse(fromFlag, flagName(spec));
    else if (fromFlag !== undefined) resolved[key] = fromFlag;
    else if (fromEnv !== undefined && fromEnv !== '') resolved[key] = spec.parse(fromEnv, spec.env);
    else resolved[key] = spec.defaultValue(resolved);
  }
  return resolved as ResolvedOptions<S>;
}

/** The property commander stores a flag's value under: `--node-timeout` → `nodeTimeout`. */
export function flagKey(spec: OptionSpec): string {
  return flagName(spec)
    .replace(/^--/, '')
    .replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

export function flagName(spec: OptionSpec): string {
  return spec.flag.split(' ')[0] ?? spec.flag;
}

// Parsers shared by every role's options.

export const parseString = (raw: string): string => raw;

export function parsePort(raw: string, name: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${name} must be a port number from 0 to 65535, got "${raw}"`);
  }
  return port;
}

export function parsePositiveNumber(raw: string, name: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${name} must be a positive number, got "${raw}"`);
  }
  return value;
}

export function parseChoice<const C extends readonly string[]>(choices: C) {
  return (raw: string, name: string): C[number] => {
    if (!choices.includes(raw)) {
      throw new ConfigError(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
    }
    return raw as C[number];
  };
}
