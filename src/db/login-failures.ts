/**
 * The throttle's counters (table login_failures): the statements src/auth/throttle.ts batches
 * around a password check, a registration or a typed user code. What each rule means is there.
 */

// ?1 key, ?2 now, ?3 and ?4 the attempt's keys. Every count of an attempt carries the same guard,
// and no lock is started until all are counted, so either all of its keys are charged or none.
const UNLOCKED =
  'NOT EXISTS (SELECT 1 FROM login_failures WHERE key IN (?3, ?4) AND locked_until > ?2)'
const OPEN = `INSERT INTO login_failures (key, window_start, updated_at) VALUES (?1, ?2, ?2)
  ON CONFLICT (key) DO NOTHING`
const COUNT = `UPDATE login_failures SET
    failures = CASE WHEN window_start + ?5 <= ?2 THEN 1 ELSE failures + 1 END,
    window_start = CASE WHEN window_start + ?5 <= ?2 THEN ?2 ELSE window_start END,
    updated_at = ?2
  WHERE key = ?1 AND ${UNLOCKED}
  RETURNING window_start`
// Unlocked rows always hold fewer than `limit` failures, so this matches only a count just reached.
const LOCK = `UPDATE login_failures SET
    failures = 0,
    locked_until = ?2 + min(?3 << min(lockouts, 10), ?4),
    lockouts = lockouts + 1
  WHERE key = ?1 AND failures >= ?5
  RETURNING locked_until`

// ?1 key, ?2 the window the attempt was counted in, ?3 the lock it started (or -1), ?4 the limit.
// Undoes the attempt's count, or the lock it started, unless later attempts have moved on.
const REFUND = `UPDATE login_failures SET
    failures = CASE WHEN locked_until = ?3 THEN ?4 - 1 ELSE failures - 1 END,
    lockouts = lockouts - (locked_until = ?3),
    locked_until = CASE WHEN locked_until = ?3 THEN 0 ELSE locked_until END
  WHERE key = ?1 AND (locked_until = ?3 OR (window_start = ?2 AND failures > 0))`

/** The lock state of an attempt's (at most two) keys. */
export const lockedUntil = (db: D1Database, keys: (string | null)[]) =>
  db.prepare('SELECT locked_until FROM login_failures WHERE key IN (?1, ?2)').bind(...keys)

export const openCounter = (db: D1Database, key: string, now: number) =>
  db.prepare(OPEN).bind(key, now)

/** Counts one failure on `key`, unless any of `keys` (the attempt's) is locked. */
export const countFailure = (
  db: D1Database,
  key: string,
  now: number,
  keys: [string | null, string | null],
  windowSeconds: number,
) => db.prepare(COUNT).bind(key, now, ...keys, windowSeconds)

/** Starts a lock on `key` when its count just reached the rule's limit. */
export const startLock = (
  db: D1Database,
  key: string,
  now: number,
  rule: { lockSeconds: number; maxLockSeconds: number; limit: number },
) => db.prepare(LOCK).bind(key, now, rule.lockSeconds, rule.maxLockSeconds, rule.limit)

export const forgetCounter = (db: D1Database, key: string) =>
  db.prepare('DELETE FROM login_failures WHERE key = ?1').bind(key)

export const refundFailure = (
  db: D1Database,
  key: string,
  windowStart: number,
  startedLock: number,
  limit: number,
) => db.prepare(REFUND).bind(key, windowStart, startedLock, limit)

/**
 * Drops the login counters (src/auth/throttle.ts) that can no longer matter: untouched for a day
 * and not locked.
 */
export const purgeLoginFailures = (db: D1Database, now: number) =>
  db
    .prepare('DELETE FROM login_failures WHERE updated_at < ?1 AND locked_until < ?2')
    .bind(now - 86_400, now)
