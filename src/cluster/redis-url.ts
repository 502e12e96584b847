import { ConfigError } from '../errors/config-error.js';

/** `--redis` (FOGLINE_REDIS): a redis:// or rediss:// (TLS) URL, checked before the server starts. */
export function parseRedisUrl(raw: string, name: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`${name} must be a Redis URL such as redis://127.0.0.1:6379, got "${raw}"`);
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new ConfigError(`${name} must be a redis:// or rediss:// URL with a host, such as redis://127.0.0.1:6379, got "${raw}"`);
  }
  return url.toString();
}
