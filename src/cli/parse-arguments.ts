import { InvalidArgumentError } from 'commander';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "30m", "12h", "7d" → seconds. */
export function parseDuration(text: string, name: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`${name} must look like 30m, 12h or 7d, got "${text}"`);
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
  if (seconds <= 0) throw new InvalidArgumentError(`${name} must be longer than zero`);
  return seconds;
}

export function parseCount(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1, got "${text}"`);
  return value;
}

/** "1%" or "0.01" → 0.01: a share between 0 and 1. */
export function parseRate(text: string, name: string): number {
  const trimmed = text.trim();
  const value = trimmed.endsWith('%') ? Number(trimmed.slice(0, -1)) / 100 : Number(trimmed);
  if (trimmed === '' || trimmed === '%' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidArgumentError(`${name} must be a share such as 1% or 0.01 (between 0 and 1), got "${text}"`);
  }
  return value;
}

/** A whole-number percentage from 1 to 100. */
export function parsePercent(text: string, name: string): number {
  const value = Number(text.trim().replace(/%$/, ''));
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw new InvalidArgumentError(`${name} must be a whole percentage from 1 to 100, got "${text}"`);
  }
  return value;
}

/** "on" → true, "off" → false. */
export function parseOnOff(text: string, name: string): boolean {
  if (text === 'on' || text === 'off') return text === 'on';
  throw new InvalidArgumentError(`${name} must be on or off, got "${text}"`);
}
