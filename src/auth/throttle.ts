import type { Context } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError } from '../errors'
import { audit } from '../db/audit'

/**
 * Brute-force throttling of password checks, kept in D1 (table login_failures) so that it holds
 * across isolates and colos.
 *
 * - Per username, lowercased so that case variants share one counter, and whether or not the user
 *   exists: LOGIN_MAX_FAILURES failures lock it for LOGIN_LOCKOUT_SECONDS, doubled for each
 *   further lockout and capped at 15 minutes. A success deletes the counter; failures count for a
 *   day from the first one, and the hourly purge deletes counters idle for a day, lockouts and all.
 * - Per client address (CF-Connecting-IP, which the edge sets; X-Forwarded-For is client input):
 *   more than 100 failures in 15 minutes lock the address for 15 minutes. Without the header
 *   (local development) there is no address to count.
 *
 * A locked key answers 429 before any password is compared, correct password or not, and attempts
 * made while locked are not counted: a lock neither reveals the password nor extends itself.
 * Every update is relative (failures + 1) and one batch, so concurrent failures are all counted.
 */

const MAX_LOCK_SECONDS = 900

type Rule = {
  /** The failure that starts a lock. */
  lockAt: number
  /** Failures older than this no longer count. */
  windowSeconds: number
  /** The first lock's length; each further lock doubles it, up to MAX_LOCK_SECONDS. */
  lockSeconds: number
}

const IP_RULE: Rule = { lockAt: 101, windowSeconds: 900, lockSeconds: 900 }

/** One password check's counters: the keys it is charged to and the time it is judged at. */
export type Attempt = {
  userKey: string
  ipKey: string | null
  userRule: Rule
  now: number
}

export type Counter = { key: string; locked_until: number }

export function attemptFor(c: Context<AppEnv>, username: string): Attempt {
  const cfg = config(c.env)
  // An address is at most 45 characters; a longer header is not from the edge, and must not grow keys.
  const ip = c.req.header('CF-Connecting-IP')?.trim().slice(0, 64)
  return {
    userKey: `user:${username.toLowerCase()}`,
    ipKey: ip ? `ip:${ip}` : null,
    userRule: { lockAt: cfg.loginMaxFailures, windowSeconds: 86_400, lockSeconds: cfg.loginLockoutSeconds },
    now: Math.floor(Date.now() / 1000),
  }
}

/** Reads an attempt's counters; meant to ride in the same batch as the user lookup. */
export const readCounters = (db: D1Database, a: Attempt) =>
  db.prepare('SELECT key, locked_until FROM login_failures WHERE key IN (?1, ?2)').bind(a.userKey, a.ipKey)

/** 429 with Retry-After while the username or the address is locked. */
export function refuseWhileLocked(a: Attempt, counters: Counter[]): void {
  const lockedUntil = Math.max(0, ...counters.map((r) => r.locked_until))
  if (lockedUntil > a.now) {
    throw new ApiError('too_many_attempts', 'Too many failed attempts; try again later.', {
      headers: { 'Retry-After': String(lockedUntil - a.now) },
    })
  }
}

/** A success forgets the username's failures; no write at all when there were none. */
export const clearUserCounter = (db: D1Database, a: Attempt, counters: Counter[]) =>
  counters.some((r) => r.key === a.userKey) ? db.prepare('DELETE FROM login_failures WHERE key = ?1').bind(a.userKey) : null

// The failure count including this one: a window that has passed starts again at 1.
const COUNT = '(CASE WHEN window_start + ?4 <= ?2 THEN 0 ELSE failures END) + 1'
const LOCKS = `(${COUNT} >= ?3)`
/**
 * Counts one failure against a key, starting a lock (and resetting the count) when it reaches the
 * rule's limit. Rows already locked are left alone, so RETURNING yields a future locked_until
 * exactly when this failure started the lock. SET expressions all read the row as it was.
 */
const COUNT_FAILURE = `UPDATE login_failures SET
    window_start = CASE WHEN window_start + ?4 <= ?2 THEN ?2 ELSE window_start END,
    failures = CASE WHEN ${LOCKS} THEN 0 ELSE ${COUNT} END,
    locked_until = CASE WHEN ${LOCKS} THEN ?2 + min(?5 << min(lockouts, 10), ${MAX_LOCK_SECONDS}) ELSE locked_until END,
    lockouts = lockouts + ${LOCKS},
    updated_at = ?2
  WHERE key = ?1 AND locked_until <= ?2
  RETURNING locked_until`

function countFailure(db: D1Database, key: string, rule: Rule, now: number): D1PreparedStatement[] {
  return [
    db.prepare('INSERT INTO login_failures (key, window_start, updated_at) VALUES (?1, ?2, ?2) ON CONFLICT (key) DO NOTHING').bind(key, now),
    db.prepare(COUNT_FAILURE).bind(key, now, rule.lockAt, rule.windowSeconds, rule.lockSeconds),
  ]
}

/** Charges a failed check to the username and the address (one batch), auditing any lock it starts. */
export async function recordFailure(c: Context<AppEnv>, a: Attempt, username: string): Promise<void> {
  const db = c.env.DB
  const [, userCount, , ipCount] = await db.batch<{ locked_until: number }>([
    ...countFailure(db, a.userKey, a.userRule, a.now),
    ...(a.ipKey ? countFailure(db, a.ipKey, IP_RULE, a.now) : []),
  ])
  const lockedFor = (count: typeof userCount) => (count?.results[0]?.locked_until ?? 0) - a.now
  if (lockedFor(userCount) > 0) await audit(c, 'lockout', { username }, `username locked for ${lockedFor(userCount)} s`)
  if (lockedFor(ipCount) > 0) await audit(c, 'lockout', { username }, `client address locked for ${lockedFor(ipCount)} s`)
}
