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

/**
 * True when a transaction lost a race and may simply be tried again: a unique-key violation, a
 * deadlock (MariaDB's gap locks when two transactions insert the same new key) or a
 * serialization failure.
 */
export function isRetryableConflict(error: unknown): boolean {
  const e = error as { code?: string; errno?: number } | undefined;
  return (
    isUniqueViolation(error) ||
    e?.errno === 1213 ||
    e?.code === 'ER_LOCK_DEADLOCK' ||
    e?.code === '40001' ||
    e?.code === '40P01' ||
    e?.code === 'SQLITE_BUSY'
  );
}

/**
 * Runs `work` (a transaction) again when it loses a race (see isRetryableConflict), with a small
 * random pause so that the racers do not collide again in step.
 */
export async function retryOnConflict<T>(work: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryableConflict(error) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}
