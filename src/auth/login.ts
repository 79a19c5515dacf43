import type { Context } from 'hono'
import { config, type AppEnv } from '../env'
import { auditEvent } from '../db/audit'
import { authDatabase } from '../db/replication'
import { userByUsername, type UserRow } from '../db/users'
import { USERNAME } from '../schemas/common'
import { credentialCache, type RememberedCredential } from './credential-cache'
import { dummyHash, hashCost, hashPassword, verifyPassword } from './passwords'
import {
  admit,
  type Attempt,
  charge,
  locksStarted,
  passwordAttempt,
  readLocks,
  refuseWhileLocked,
  settleSuccess,
} from './throttle'

/**
 * The one place a password is checked (/auth/token, /profile, /users/me/password), throttled and
 * audited here for all three.
 *
 * - Throttled (./throttle.ts): the attempt is charged in the D1 batch that reads the user, before
 *   the compare; a locked username or client address is a 429 `too_many_attempts`. After the
 *   compare, one more batch: a failure's audit events, or a success's counter reset, audit event
 *   and re-hash.
 * - Unknown users and disabled accounts pay a compare against a dummy hash of the configured cost,
 *   so all failures look and take the same. Returns null for any failure: the caller cannot tell
 *   which, by design.
 * - Audited as login_success / login_failure, with the request path as detail. A failure records
 *   the typed username only if it could be one: users type passwords into the username field.
 * - A hash made at another cost is re-hashed on success.
 * - `remember` (HTTP Basic only): credentials verified within the last minute against the hash the
 *   row still holds (./credential-cache.ts) cost no compare, no charge and no audit event — a
 *   Basic client resends them with every request, and that path must not write to D1. Concurrent
 *   checks of the same credentials in one isolate take turns, so all but the first find the entry.
 */
export async function checkPassword(
  c: Context<AppEnv>,
  username: string,
  password: string,
  { remember = false }: { remember?: boolean } = {},
): Promise<UserRow | null> {
  // The primary, even for a read that continues a bookmark: a lock or a new password must count
  // at once.
  const db = authDatabase(c)
  const attempt = passwordAttempt(c, username)
  const cache = remember ? await credentialCache(username, password) : null

  /**
   * The user, when these exact credentials were verified within the minute against the hash it
   * still holds.
   */
  const recalled = async (): Promise<UserRow | null> => {
    if (!cache?.recalled()) return null
    const [found, locks] = await db.batch([userByUsername(db, username), readLocks(db, attempt)])
    refuseWhileLocked(attempt, (locks?.results ?? []) as { locked_until: number }[])
    const user = found?.results[0] as UserRow | undefined
    return user?.disabled === 0 && cache.verifiedAgainst(user.password_hash) ? user : null
  }
  if (!cache) return compare(c, db, attempt, username, password, null)

  const hit = await recalled()
  if (hit) return hit
  const release = await cache.takeTurn()
  try {
    // Whoever held the turn may just have verified these credentials.
    return (await recalled()) ?? (await compare(c, db, attempt, username, password, cache))
  } finally {
    release()
  }
}

/** The charged, audited bcrypt compare behind checkPassword. */
async function compare(
  c: Context<AppEnv>,
  db: D1Database,
  attempt: Attempt,
  username: string,
  password: string,
  cache: RememberedCredential | null,
): Promise<UserRow | null> {
  const cfg = config(c.env)
  const [found, ...charging] = await db.batch([
    userByUsername(db, username),
    ...charge(db, attempt),
  ])
  const charged = admit(attempt, charging)
  const user = (found?.results[0] as UserRow | undefined) ?? null
  const usable = user !== null && user.disabled === 0
  const ok = await verifyPassword(password, usable ? user.password_hash : dummyHash(cfg.bcryptCost))

  if (!ok || !usable) {
    const who = {
      username: user?.username ?? (USERNAME.test(username) ? username : null),
      userId: user?.id,
    }
    const events = [
      auditEvent(db, c, 'login_failure', who, c.req.path),
      ...locksStarted(attempt, charged).map((lock) => auditEvent(db, c, 'lockout', who, lock)),
    ]
    // The answer is a failure either way; a lost audit write is logged, not shown.
    await db.batch(events).catch((err: unknown) => console.error('audit write failed:', err))
    return null
  }

  let passwordHash = user.password_hash
  const writes = [
    ...settleSuccess(db, attempt, charged),
    auditEvent(db, c, 'login_success', { username: user.username, userId: user.id }, c.req.path),
  ]
  if (hashCost(passwordHash) !== cfg.bcryptCost) {
    passwordHash = await hashPassword(password, cfg.bcryptCost)
    writes.push(
      db
        .prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1 AND password_hash = ?3')
        .bind(user.id, passwordHash, user.password_hash),
    )
  }
  await db.batch(writes)
  cache?.remember(passwordHash)
  return user
}
