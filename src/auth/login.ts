import type { Context } from 'hono'
import { config, type AppEnv } from '../env'
import { userByUsername, type UserRow } from '../db/users'
import { credentialCache } from './credential-cache'
import { dummyHash, hashCost, hashPassword, verifyPassword } from './passwords'
import { attemptFor, clearUserCounter, type Counter, readCounters, recordFailure, refuseWhileLocked } from './throttle'

/**
 * The one place a password is checked (/auth/token, /profile, /users/me/password).
 *
 * - Throttled (./throttle.ts): a locked username or client address is a 429 `too_many_attempts`
 *   before any compare; each failure is counted. The lock state is read in the same D1 batch as
 *   the user, so a check costs one round trip, plus one batch of writes after a failure.
 * - Unknown users and disabled accounts pay a compare against a dummy hash of the configured cost,
 *   so all failures look and take the same. Returns null for any failure: the caller cannot tell
 *   which, by design.
 * - A hash made at another cost is re-hashed on success.
 * - `remember` (HTTP Basic only) skips the compare for credentials verified within the last minute
 *   against the hash the row still holds (./credential-cache.ts).
 */
export async function checkPassword(
  c: Context<AppEnv>,
  username: string,
  password: string,
  { remember = false }: { remember?: boolean } = {},
): Promise<UserRow | null> {
  const cfg = config(c.env)
  const db = c.env.DB
  const attempt = attemptFor(c, username)
  const [userResult, counterResult] = await db.batch([userByUsername(db, username), readCounters(db, attempt)])
  const user = (userResult?.results[0] as UserRow | undefined) ?? null
  const counters = (counterResult?.results ?? []) as Counter[]
  refuseWhileLocked(attempt, counters)

  const usable = user !== null && user.disabled === 0
  const cache = remember ? await credentialCache(username, password) : null
  const ok =
    (usable && cache?.verifiedAgainst(user.password_hash)) ||
    (await verifyPassword(password, usable ? user.password_hash : dummyHash(cfg.bcryptCost)))
  if (!ok || !usable) {
    await recordFailure(c, attempt, username)
    return null
  }

  let passwordHash = user.password_hash
  const writes = [clearUserCounter(db, attempt, counters)]
  if (hashCost(passwordHash) !== cfg.bcryptCost) {
    passwordHash = await hashPassword(password, cfg.bcryptCost)
    writes.push(db.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1 AND password_hash = ?3').bind(user.id, passwordHash, user.password_hash))
  }
  const statements = writes.filter((s) => s !== null)
  if (statements.length > 0) await db.batch(statements)
  cache?.remember(passwordHash)
  return user
}
