import { describe, expect, it } from 'vitest';
import { FoglineError } from '../errors/fogline-error.js';
import { toErrorBody } from './error-handler.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('toErrorBody', () => {
  it('turns every way of losing the database into a coded 503 the client can retry', () => {
    const lost = [
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('Connection lost: The server closed the connection.', 'PROTOCOL_CONNECTION_LOST'),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
    ];
    for (const error of lost) expect(toErrorBody(error)).toMatchObject({ status: 503, body: { code: 'FOGLINE_ERR_DB_UNAVAILABLE' } });
  });

  it('says the disk is full when a write runs out of space, file or database', () => {
    for (const error of [
      withCode('ENOSPC: no space left on device, write', 'ENOSPC'),
      withCode('database or disk is full', 'SQLITE_FULL'),
    ]) {
      expect(toErrorBody(error)).toMatchObject({ status: 507, body: { code: 'FOGLINE_ERR_STORAGE_FULL' } });
    }
  });

  it("keeps a client's mistakes 4xx and hides internal details of everything else", () => {
    expect(toErrorBody(new FoglineError('FOGLINE_ERR_DEPLOYMENT_NOT_FOUND', 'No deployment "x"')).status).toBe(404);
    expect(toErrorBody(new SyntaxError('Unexpected token } in JSON')).status).toBe(400);
    expect(toErrorBody(withCode('Body is too large', 'FST_ERR_CTP_BODY_TOO_LARGE')).body.code).toBe('FOGLINE_ERR_REQUEST_TOO_LARGE');
    const internal = toErrorBody(new Error('relation "secrets" does not exist'));
    expect(internal).toMatchObject({ status: 500, body: { code: 'FOGLINE_ERR_INTERNAL' } });
    expect(internal.body.message).not.toContain('secrets');
  });
});
