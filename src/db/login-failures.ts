/**
 * Drops the login counters (src/auth/throttle.ts) that can no longer matter: untouched for a day
 * and not locked.
 */
export const purgeLoginFailures = (db: D1Database, now: number) =>
  db
    .prepare('DELETE FROM login_failures WHERE updated_at < ?1 AND locked_until < ?2')
    .bind(now - 86_400, now)
