/** True for a unique-key violation as SQLite, PostgreSQL and MariaDB report it. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; errno?: number } | undefined;
  return (
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e?.code === '23505' ||
    e?.code === 'ER_DUP_ENTRY' ||
    e?.errno === 1062
  );
}
