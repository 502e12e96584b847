/**
 * The database servers the tests create their databases on, and the dialects the store suite runs
 * (`DIALECTS=sqlite` leaves both servers out): the defaults in one place, for databases.ts, the
 * preflight and the tests that talk to a server themselves. No imports, so that the preflight can
 * read it without loading the database clients.
 */
export function databaseServers(env: NodeJS.ProcessEnv = process.env) {
  return {
    dialects: (env.DIALECTS ?? 'sqlite,postgres,mysql').split(',').map((name) => name.trim()),
    postgresUrl: env.FOGLINE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    mysqlUrl: env.FOGLINE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/',
  };
}
