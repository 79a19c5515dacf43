import type { Config } from '../config'
import { auditEvent, auditUserEvent, requestAttribution } from '../db/audit'
import {
  rehashPassword,
  sampleHash,
  stillVerified,
  type UserRow,
  userByUsername,
} from '../db/users'
import { dummyHash, hashCost, hashPassword, verifyPassword } from '../domain/passwords'
import type { Requester } from '../domain/requester'
import { USERNAME } from '../http/schemas/common'
import { sha256Hex } from '../lib/crypto'
import { credentialCache, type RememberedCredential } from './credential-cache'
import * as throttle from './throttle'

export type Credentials = { username: string; password: string }

/**
 * What a caller acts on a verified password with (a new session): statements that run in the
 * success's own batch and MUST carry `stillVerified` on the verified hash, as the success's
 * audit event does. It may throw (a refused scope); the success is still recorded, then.
 */
export type Grant = (user: UserRow) => D1PreparedStatement[]

/**
 * The one place a password is checked (/auth/token, /profile, /users/me/password), throttled and
 * audited here for all three. `db` is the primary (src/http/database.ts: `primaryDatabase`), so a
 * lock or a new password counts at once.
 *
 * - Throttled (./throttle.ts): the attempt is charged in the D1 batch that reads the user, before
 *   the compare; a locked username or client address is a 429 `too_many_attempts`. After the
 *   compare, one more batch: a failure's audit events, or a success's counter reset, audit event,
 *   the caller's `grant` and the re-hash.
 * - The success's batch holds only while the user is enabled and still holds the hash that was
 *   compared (`stillVerified`): when a password change, a reset, a disable or a delete landed
 *   during the compare, nothing is granted or audited as a success, and the answer is null, as for
 *   any failure.
 * - Every failure does the same work as a wrong password for a real user: a disabled account is
 *   compared against its own stored hash, an unknown username against a dummy hash of the cost of
 *   a real user's hash (`dummyFor`), so a change of BCRYPT_COST does not tell them apart. Returns
 *   null for any failure: the caller cannot tell which, by design.
 * - Audited as login_success / login_failure, with the request path as detail. A failure records
 *   the typed username only if it could be one: users type passwords into the username field.
 * - A hash made at another cost is re-hashed on success.
 */
export function checkPassword(
  db: D1Database,
  cfg: Config,
  client: Requester,
  credentials: Credentials,
  grant?: Grant,
): Promise<UserRow | null> {
  return compare(db, cfg, client, credentials, grant, null)
}

/**
 * checkPassword for HTTP Basic, which resends the credentials with every request: credentials
 * verified within the last minute against the hash the row still holds (./credential-cache.ts)
 * cost no compare, no charge and no audit event, so that path never writes to D1 — but a lock
 * still refuses them. Concurrent checks of the same credentials in one isolate take turns, so all
 * but the first find the entry.
 */
export async function checkRemembered(
  db: D1Database,
  cfg: Config,
  client: Requester,
  credentials: Credentials,
): Promise<UserRow | null> {
  const cache = await credentialCache(credentials.username, credentials.password)
  const recall = async (): Promise<UserRow | null> => {
    if (!cache.recalled()) return null
    const attempt = throttle.passwordAttempt(cfg, client, credentials.username)
    const { user } = await throttle.peek(db, attempt, {
      user: userByUsername(db, credentials.username),
    })
    const row = user.results[0] as UserRow | undefined
    return row?.disabled === 0 && cache.verifiedAgainst(row.password_hash) ? row : null
  }
  const hit = await recall()
  if (hit) return hit
  const release = await cache.takeTurn()
  try {
    // Whoever held the turn may just have verified these credentials.
    return (await recall()) ?? (await compare(db, cfg, client, credentials, undefined, cache))
  } finally {
    release()
  }
}

/**
 * The hash an unknown username is compared against: a dummy of the cost of one real user's
 * stored hash, the same user for the same username (its place among the ids follows from a
 * digest of the username). Costs change only by re-hashing on a success, so after a change of
 * BCRYPT_COST dormant users keep the old cost, and unknown usernames take the old and the new
 * costs in the proportion real users do — any one username always the same.
 */
async function dummyFor(sample: D1Result, cfg: Config): Promise<string> {
  const stored = (sample.results[0] as { password_hash: string } | undefined)?.password_hash
  let cost = cfg.bcryptCost
  try {
    if (stored) cost = hashCost(stored)
  } catch {
    // Not a bcrypt hash (a hand-edited row): the configured cost, then.
  }
  return dummyHash(cost)
}

/** Where a username's dummy cost is sampled from: 32 bits of its digest, as hex digits. */
const pivotOf = async (username: string) => (await sha256Hex(username.toLowerCase())).slice(0, 8)

/** The charged, audited bcrypt compare behind both checks. */
async function compare(
  db: D1Database,
  cfg: Config,
  client: Requester,
  { username, password }: Credentials,
  grant: Grant | undefined,
  cache: RememberedCredential | null,
): Promise<UserRow | null> {
  const attempt = throttle.passwordAttempt(cfg, client, username)
  // Both statements run for every username, known or not, so that the batch is the same.
  const { results, charge } = await throttle.run(db, attempt, {
    user: userByUsername(db, username),
    sample: sampleHash(db, await pivotOf(username)),
  })
  const user = (results.user.results[0] as UserRow | undefined) ?? null
  const ok = await verifyPassword(
    password,
    user ? user.password_hash : await dummyFor(results.sample, cfg),
  )

  if (!ok || user === null || user.disabled !== 0) {
    const who = {
      username: user?.username ?? (USERNAME.test(username) ? username : null),
      userId: user?.id,
    }
    const events = [
      auditEvent(db, client, 'login_failure', who, client.path),
      ...charge.locksStarted.map((lock) => auditEvent(db, client, 'lockout', who, lock)),
    ]
    // The answer is a failure either way; a lost audit write is logged, not shown.
    await db.batch(events).catch((err: unknown) => console.error('audit write failed:', err))
    return null
  }

  const verified = user.password_hash
  let granted: D1PreparedStatement[] = []
  let refused: { error: unknown } | undefined
  try {
    granted = grant?.(user) ?? []
  } catch (error) {
    refused = { error }
  }
  const by = requestAttribution(client, client.path)
  const writes = [
    // First, so its result says whether the verified state still held for the whole batch.
    auditUserEvent(db, 'login_success', user.id, by, stillVerified('?7'), verified),
    ...granted,
    ...charge.settleSuccess(db),
  ]
  let current = verified
  if (hashCost(verified) !== cfg.bcryptCost) {
    current = await hashPassword(password, cfg.bcryptCost)
    writes.push(rehashPassword(db, user.id, verified, current))
  }
  const [audited] = await db.batch(writes)
  if (refused) throw refused.error
  if ((audited?.meta.changes ?? 0) !== 1) return null
  cache?.remember(current)
  return user
}
