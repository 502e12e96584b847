import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from './redis-url.js';

describe('parseRedisUrl', () => {
  it('takes redis:// and rediss:// URLs', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379', '--redis')).toBe('redis://127.0.0.1:6379');
    expect(parseRedisUrl(' rediss://:secret@cache.internal:6380/2 ', '--redis')).toBe('rediss://:secret@cache.internal:6380/2');
  });

  it('refuses anything else, naming the option', () => {
    expect(() => parseRedisUrl('localhost:6379', '--redis')).toThrow(/--redis must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => parseRedisUrl('http://127.0.0.1:6379', 'FOGLINE_REDIS')).toThrow(/FOGLINE_REDIS must be a redis/);
    expect(() => parseRedisUrl('127.0.0.1:6379', '--redis')).toThrow(/--redis must be a Redis URL/);
    expect(() => parseRedisUrl('', '--redis')).toThrow(/--redis/);
  });
});
