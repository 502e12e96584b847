/** Connection errors that mean the database is away (restart, failover, network), not a bad query. */
const DB_DOWN_CODES = new Set([
  ...['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'],
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now (starting up or shutting down).
  ...['57P01', '57P02', '57P03'],
  // MariaDB / MySQL: connection lost, server gone or shutting down.
  ...['PROTOCOL_CONNECTION_LOST', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR'],
]);
/** node-postgres reports a connection cut mid-query (a killed server) without a code. */
const DB_DOWN_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error|Connection terminated due to connection timeout)/;

/**
 * True when `error` says the database cannot be reached right now: callers answer 503 and retry
 * later, and background loops wait for the next pass instead of recording a failure.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'string' && DB_DOWN_CODES.has(code)) || DB_DOWN_MESSAGES.test(error.message);
}
