import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact-url.js';

describe('redactUrl', () => {
  it('redacts the values of session and token parameters, wherever they are in the query', () => {
    expect(redactUrl('/v2/models/energy/stream?session=eyJabc.def')).toBe('/v2/models/energy/stream?session=[redacted]');
    expect(redactUrl('/s?x=1&session=abc&y=2')).toBe('/s?x=1&session=[redacted]&y=2');
    expect(redactUrl('/s?TOKEN=fgl.1.2#frag')).toBe('/s?TOKEN=[redacted]#frag');
    expect(redactUrl('/s?access_token=a&session=b')).toBe('/s?access_token=[redacted]&session=[redacted]');
  });

  it('leaves other URLs alone', () => {
    for (const url of ['/v2/models/energy/infer', '/s?sessions=3', '/session=x', '/s?mysession=1']) expect(redactUrl(url)).toBe(url);
  });
});
