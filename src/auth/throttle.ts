import type { Context } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError } from '../errors'
import { USERNAME } from '../schemas/common'

/**
 * Brute-force throttling, kept in D1 (table login_failures) so that it holds across isolates and
 * colos. A password check (./login.ts) is charged to two keys:
 *
 * - the username, lowercased so that case variants share one counter, and whether or not the user
 *   exists: the LOGIN_MAX_FAILURES-th attempt since the last success locks it for
 *   LOGIN_LOCKOUT_SECONDS, doubled for each further lockout and capped at 15 minutes. A success
 *   deletes the counter; the hourly purge deletes counters idle for a day, lockouts and all.
 *   A string that breaks the username rule has no counter: no user can have it, so there is
 *   nothing to protect, and it may be a password typed into the username field, which must not
 *   be stored. The address still counts it.
 * - the client address (CF-Connecting-IP, which the edge sets; X-Forwarded-For is client input):
 *   the 101st attempt in 15 minutes locks it for 15 minutes. A success only refunds its own charge,
 *   so one valid account cannot wipe a spray's failures. Without the header (local development)
 *   there is no address to count.
 *
 * A self-registration (../routes/register.ts) is charged to `signup:<address>`, 10 an hour.
 *
 * An attempt is charged BEFORE its password is compared (or hashed), in the batch that reads the
 * user, so that concurrent attempts cannot all see "unlocked": each count is a relative update,
 * and the attempt whose count reaches the limit starts the lock there and then. That attempt is
 * still compared (the 5th wrong password is a 400, the 6th a 429); if it succeeds, the success
 * lifts the lock it started. However many attempts arrive at once, at most the limit are compared.
 * An attempt that finds any of its keys locked is refused with 429 and counted against none: a
 * lock neither reveals the password nor extends itself.
 */

type Rule = {
  /** The attempt that starts a lock. */
  limit: number
  /** Attempts older than this no longer count. */
  windowSeconds: number
  /** The first lock's length; each further lock doubles it, up to maxLockSeconds. */
  lockSeconds: number
  maxLockSeconds: number
  /**
   * What a successful password check does to the counter: forget it all, or take back its own
   * attempt.
   */
  onSuccess: 'forget' | 'refund'
  /** Names the key in the lockout audit event. */
  what: string
  /** The 429's description. */
  refusal: string
}

const FAILED = 'Too many failed attempts; try again later.'

const IP_RULE: Rule = {
  limit: 101,
  windowSeconds: 900,
  lockSeconds: 900,
  maxLockSeconds: 900,
  onSuccess: 'refund',
  what: 'client address',
  refusal: FAILED,
}
// Every registration counts, successful or not: it is the bcrypt hash that is being limited.
const SIGNUP_RULE: Rule = {
  limit: 10,
  windowSeconds: 3600,
  lockSeconds: 3600,
  maxLockSeconds: 3600,
  onSuccess: 'refund',
  what: 'sign-ups from the client address',
  refusal: 'Too many registrations from this address; try again later.',
}

/** The keys one attempt is charged to, none to two, and the time it is judged at. */
export type Attempt = { keys: { key: string; rule: Rule }[]; now: number }

/** What charging did to each of the attempt's keys. */
export type Charge = { windowStart: number; startedLock: number | null }[]

// An address is at most 45 characters; a longer header is not from the edge, and must not grow
// keys.
const clientAddress = (c: Context<AppEnv>) =>
  c.req.header('CF-Connecting-IP')?.trim().slice(0, 64) || null

const attempt = (keys: Attempt['keys']): Attempt => ({ keys, now: Math.floor(Date.now() / 1000) })

export function passwordAttempt(c: Context<AppEnv>, username: string): Attempt {
  const cfg = config(c.env)
  const ip = clientAddress(c)
  const userRule: Rule = {
    limit: cfg.loginMaxFailures,
    windowSeconds: 86_400,
    lockSeconds: cfg.loginLockoutSeconds,
    maxLockSeconds: 900,
    onSuccess: 'forget',
    what: 'username',
    refusal: FAILED,
  }
  return attempt([
    ...(USERNAME.test(username) ? [{ key: `user:${username.toLowerCase()}`, rule: userRule }] : []),
    ...(ip ? [{ key: `ip:${ip}`, rule: IP_RULE }] : []),
  ])
}

/** Null without a client address: then there is nothing to count registrations by. */
export function signupAttempt(c: Context<AppEnv>): Attempt | null {
  const ip = clientAddress(c)
  return ip ? attempt([{ key: `signup:${ip}`, rule: SIGNUP_RULE }]) : null
}

const keysOf = (a: Attempt) => [a.keys[0]?.key ?? null, a.keys[1]?.key ?? null]

const tooManyAttempts = (a: Attempt, seconds: number) =>
  new ApiError('too_many_attempts', a.keys[0]?.rule.refusal ?? FAILED, {
    headers: { 'Retry-After': String(Math.max(1, seconds)) },
  })

/** Reads the locks on an attempt's keys, writing nothing: for credentials that need no compare. */
export const readLocks = (db: D1Database, a: Attempt) =>
  db.prepare('SELECT locked_until FROM login_failures WHERE key IN (?1, ?2)').bind(...keysOf(a))

/** 429 with Retry-After while any of the attempt's keys is locked. */
export function refuseWhileLocked(a: Attempt, locks: { locked_until: number }[]): void {
  const lockedUntil = Math.max(0, ...locks.map((r) => r.locked_until))
  if (lockedUntil > a.now) throw tooManyAttempts(a, lockedUntil - a.now)
}

// ?1 key, ?2 now, ?3 and ?4 the attempt's keys. Every count of an attempt carries the same guard,
// and no lock is started until all are counted, so either all of its keys are charged or none.
const UNLOCKED =
  'NOT EXISTS (SELECT 1 FROM login_failures WHERE key IN (?3, ?4) AND locked_until > ?2)'
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

/**
 * The statements that charge an attempt: meant to ride in one batch (one transaction) after the
 * user lookup. Hand their results to `admit`.
 */
export function charge(db: D1Database, a: Attempt): D1PreparedStatement[] {
  const [k1, k2] = keysOf(a)
  if (a.keys.length === 0) return []
  return [
    ...a.keys.map(({ key }) =>
      db
        .prepare(
          `INSERT INTO login_failures (key, window_start, updated_at) VALUES (?1, ?2, ?2)
           ON CONFLICT (key) DO NOTHING`,
        )
        .bind(key, a.now),
    ),
    ...a.keys.map(({ key, rule }) =>
      db.prepare(COUNT).bind(key, a.now, k1, k2, rule.windowSeconds),
    ),
    ...a.keys.map(({ key, rule }) =>
      db.prepare(LOCK).bind(key, a.now, rule.lockSeconds, rule.maxLockSeconds, rule.limit),
    ),
    readLocks(db, a),
  ]
}

/** The attempt's charge, or a 429 when it was refused for a lock. */
export function admit(a: Attempt, results: D1Result[]): Charge {
  const n = a.keys.length
  const rows = (i: number) => results[i]?.results ?? []
  if (n > 0 && rows(n).length === 0) {
    const locks = rows(3 * n) as { locked_until: number }[]
    throw tooManyAttempts(a, Math.max(0, ...locks.map((r) => r.locked_until)) - a.now)
  }
  return a.keys.map((_, i) => ({
    windowStart: (rows(n + i)[0] as { window_start: number }).window_start,
    startedLock: (rows(2 * n + i)[0] as { locked_until: number } | undefined)?.locked_until ?? null,
  }))
}

// ?1 key, ?2 the window the attempt was counted in, ?3 the lock it started (or -1), ?4 the limit.
// Undoes the attempt's count, or the lock it started, unless later attempts have moved on.
const REFUND = `UPDATE login_failures SET
    failures = CASE WHEN locked_until = ?3 THEN ?4 - 1 ELSE failures - 1 END,
    lockouts = lockouts - (locked_until = ?3),
    locked_until = CASE WHEN locked_until = ?3 THEN 0 ELSE locked_until END
  WHERE key = ?1 AND (locked_until = ?3 OR (window_start = ?2 AND failures > 0))`

/** The writes a successful check makes to its counters; to batch with its other writes. */
export const settleSuccess = (db: D1Database, a: Attempt, charged: Charge): D1PreparedStatement[] =>
  a.keys.map(({ key, rule }, i) =>
    rule.onSuccess === 'forget'
      ? db.prepare('DELETE FROM login_failures WHERE key = ?1').bind(key)
      : db
          .prepare(REFUND)
          .bind(key, charged[i]!.windowStart, charged[i]!.startedLock ?? -1, rule.limit),
  )

/** For the audit trail: the locks this attempt started, e.g. "username locked for 60 s". */
export const locksStarted = (a: Attempt, charged: Charge): string[] =>
  a.keys.flatMap(({ rule }, i) => {
    const until = charged[i]!.startedLock
    return until === null ? [] : [`${rule.what} locked for ${until - a.now} s`]
  })
