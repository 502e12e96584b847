import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors/config-error.js';
import { AGENT_OPTIONS } from './agent-options.js';
import { resolveOptions } from './options.js';
import { SERVER_OPTIONS } from './server-options.js';

describe('configuration', () => {
  it('takes a flag over a FOGLINE_* variable over the default', () => {
    expect(resolveOptions(SERVER_OPTIONS, {}, {}).port).toBe(7070);
    expect(resolveOptions(SERVER_OPTIONS, {}, { FOGLINE_PORT: '8080' }).port).toBe(8080);
    expect(resolveOptions(SERVER_OPTIONS, { port: '9090' }, { FOGLINE_PORT: '8080' }).port).toBe(9090);
  });

  it('derives the SQLite path from the data dir', () => {
    const config = resolveOptions(SERVER_OPTIONS, { dataDir: '/srv/fogline' }, {});
    expect(config.db).toBe(`sqlite:${path.join('/srv/fogline', 'fogline.db')}`);
  });

  it('says which flag or variable is wrong', () => {
    expect(() => resolveOptions(SERVER_OPTIONS, { port: 'eighty' }, {})).toThrow(
      new ConfigError('--port must be a port number from 0 to 65535, got "eighty"'),
    );
    expect(() => resolveOptions(SERVER_OPTIONS, {}, { FOGLINE_NODE_TIMEOUT: '-1' })).toThrow(
      /FOGLINE_NODE_TIMEOUT must be a positive number/,
    );
    expect(() => resolveOptions(AGENT_OPTIONS, { role: 'fog' }, {})).toThrow(/--role must be one of edge, cloud/);
    expect(() => resolveOptions(AGENT_OPTIONS, {}, { FOGLINE_NODE_LABELS: 'site' })).toThrow(
      /FOGLINE_NODE_LABELS: "site" is not key=value/,
    );
  });

  it('parses agent labels from the environment', () => {
    expect(resolveOptions(AGENT_OPTIONS, {}, { FOGLINE_NODE_LABELS: 'site=plant-a,zone=n' }).labels).toEqual({
      site: 'plant-a',
      zone: 'n',
    });
  });
});
