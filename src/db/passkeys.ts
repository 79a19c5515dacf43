import { hasNoPasswordSql } from '../domain/passwords'
import { allRows, type Query } from './query'
import { type NewSignin, replaceEarlier, where } from './signins'
import { userColumns } from './users'

/**
 * Passkeys (WebAuthn Level 3 public key credentials, migrations/0010_passkeys.sql) and the
 * statements that act on them. Every statement that relies on a passkey's state checks it in the
 * statement itself: a sign-in is written only if the assertion it rests on moved that very
 * passkey's counter (`passkeySigninStatements`), a passkey is added only under a fresh sign-in of
 * its own user (src/db/account.ts `signinGuard`, at the head of the batch), and the last way into
 * an account is never removed (`otherWayIn`).
 */

/** A credential record (WebAuthn §6.1), as stored. */
export type PasskeyRow = {
  id: string
  user_id: string
  name: string
  public_key: string
  counter: number
  device_type: 'singleDevice' | 'multiDevice'
  backed_up: number
  transports: string
  created_at: number
  last_used_at: number | null
}

/** How many passkeys one account may hold: enough for every device, and a bound on the rows. */
export const MAX_PASSKEYS = 20

const COLUMNS = `id, user_id, name, public_key, counter, device_type, backed_up, transports,
  created_at, last_used_at`

/** A user's passkeys, oldest first. */
export const passkeysOf = (db: D1Database, userId: string): Query<PasskeyRow[]> =>
  allRows(
    db
      .prepare(`SELECT ${COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id`)
      .bind(userId),
    (row: PasskeyRow) => row,
  )

/**
 * The passkey with this credential id and its user's name (for the audit trail), as a statement
 * to batch (with the throttle's charge).
 */
export const passkeyById = (db: D1Database, id: string) =>
  db
    .prepare(
      `SELECT ${COLUMNS}, (SELECT username FROM users WHERE users.id = passkeys.user_id) AS username
       FROM passkeys WHERE id = ?1`,
    )
    .bind(id)

/**
 * Answers a challenge (WebAuthn §13.4.3: a challenge is used once): its SHA-256 goes into
 * webauthn_challenges, and the statement returns a row only for the first answer. Kept until the
 * challenge has expired anyway (the hourly purge).
 */
export const spendChallenge = (db: D1Database, challengeHash: string, expiresAt: number) =>
  db
    .prepare(
      `INSERT INTO webauthn_challenges (challenge_hash, expires_at) VALUES (?1, ?2)
       ON CONFLICT (challenge_hash) DO NOTHING RETURNING challenge_hash`,
    )
    .bind(challengeHash, expiresAt)

/** What an assertion that verified says about its passkey (WebAuthn §7.2). */
export type PasskeyUse = {
  passkeyId: string
  userId: string
  /** The authenticator's new signCount (§6.1.1). */
  counter: number
  /** The BE flag, which must be the one the passkey was registered with. */
  deviceType: PasskeyRow['device_type']
  /** The BS flag, kept as last seen. */
  backedUp: boolean
  /** SHA-256 of the challenge the assertion answered. */
  challengeHash: string
  /** Only sign this user in (the account page's confirmation); any user of the passkey else. */
  expectUser?: string
}

/**
 * A browser sign-in with a passkey, for one batch (after the throttle's success writes):
 *
 * 1. the passkey's counter moves, only if the passkey still exists, is this user's, has the
 *    backup eligibility it was registered with, and the new signCount is greater than the stored
 *    one — or both are 0, for authenticators without a counter (§6.1.1: a count that does not go
 *    up may be a cloned authenticator). The same UPDATE records this assertion's challenge;
 * 2. the sign-in row is written only if, in that statement, the passkey carries this assertion's
 *    challenge (so step 1 took, for this very assertion) and its user is enabled; it records the
 *    user's updated_at, so that a password change or a disable ends it as it ends every sign-in,
 *    and the passkey, so that removing the passkey ends it (ON DELETE CASCADE);
 * 3. the browser's earlier sign-in is replaced once the new one was written.
 *
 * The sign-in's first statement's result (`meta.changes`) says whether it was written.
 */
export function passkeySigninStatements(db: D1Database, s: NewSignin, use: PasskeyUse) {
  return [
    db
      .prepare(
        `UPDATE passkeys SET counter = ?3, backed_up = ?4, last_used_at = ?5, last_challenge = ?6
         WHERE id = ?1 AND user_id = ?2 AND device_type = ?7
           AND (counter < ?3 OR (counter = 0 AND ?3 = 0))`,
      )
      .bind(
        use.passkeyId,
        use.userId,
        use.counter,
        use.backedUp ? 1 : 0,
        s.now,
        use.challengeHash,
        use.deviceType,
      ),
    db
      .prepare(
        `INSERT INTO signins (token_hash, user_id, user_updated_at, created_at, expires_at,
           passkey_id, address_prefix, user_agent)
         SELECT ?1, u.id, u.updated_at, ?2, ?3, p.id, ?6, ?7
         FROM passkeys p JOIN users u ON u.id = p.user_id
         WHERE p.id = ?4 AND p.last_challenge = ?5 AND u.disabled = 0
           AND (?8 IS NULL OR u.id = ?8)`,
      )
      .bind(
        s.tokenHash,
        s.now,
        s.expiresAt,
        use.passkeyId,
        use.challengeHash,
        ...where(s),
        use.expectUser ?? null,
      ),
    replaceEarlier(db, s.oldHash, s.tokenHash),
  ]
}

/** The user's public columns, to read after a passkey sign-in in its batch. */
export const userRow = (db: D1Database, userId: string) =>
  db.prepare(`SELECT ${userColumns()} FROM users WHERE id = ?1`).bind(userId)

/** A passkey to add, from a registration that verified (WebAuthn §7.1). */
export type NewPasskey = {
  id: string
  userId: string
  name: string
  publicKey: string
  counter: number
  deviceType: PasskeyRow['device_type']
  backedUp: boolean
  transports: string[]
  now: number
}

/**
 * Adds a passkey, for a batch headed by the account page's fresh-sign-in guard: nothing when the
 * credential id is registered already (to anyone: §7.1 step 26, "the credential id is not yet
 * registered") or the account holds MAX_PASSKEYS. Returns the id when it was added.
 */
export const passkeyInsertion = (db: D1Database, p: NewPasskey) =>
  db
    .prepare(
      `INSERT INTO passkeys
         (id, user_id, name, public_key, counter, device_type, backed_up, transports, created_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
       WHERE (SELECT COUNT(*) FROM passkeys WHERE user_id = ?2) < ${MAX_PASSKEYS}
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
    )
    .bind(
      p.id,
      p.userId,
      p.name,
      p.publicKey,
      p.counter,
      p.deviceType,
      p.backedUp ? 1 : 0,
      JSON.stringify(p.transports),
      p.now,
    )

/** Renames one of the user's passkeys; a row when it was theirs. */
export const passkeyRenaming = (db: D1Database, userId: string, id: string, name: string) =>
  db
    .prepare('UPDATE passkeys SET name = ?3 WHERE id = ?1 AND user_id = ?2 RETURNING id')
    .bind(id, userId, name)

/**
 * SQL on `users`: the account has a password or a passkey. What the identity unlinking of
 * src/federation/identities.ts counts as a way in besides another identity.
 */
export const PASSWORD_OR_PASSKEY = `(NOT (${hasNoPasswordSql})
  OR EXISTS (SELECT 1 FROM passkeys pk WHERE pk.user_id = users.id))`

/**
 * SQL: user `u` keeps a way in without passkey `k` (binds such as '?1'): a password, an
 * identity, or another passkey. In the DELETE that removes `k`, so two removals at once cannot
 * each take "the other" last one.
 */
const otherWayIn = (u: string, k: string) => `(
  EXISTS (SELECT 1 FROM users WHERE id = ${u} AND NOT (${hasNoPasswordSql}))
  OR EXISTS (SELECT 1 FROM identities WHERE user_id = ${u})
  OR EXISTS (SELECT 1 FROM passkeys o WHERE o.user_id = ${u} AND o.id <> ${k}))`

/**
 * Removes one of the user's passkeys, unless it is their last way in; its sign-ins end with it
 * (ON DELETE CASCADE). Reads `removed`, `last` (refused: the last way in), or null (not theirs).
 * `condition` is the DELETE's, for the audit event written just before it (auditUserEvent, with
 * the user as ?6 and the passkey as ?7), so the event records exactly a removal.
 */
export function passkeyRemoval(db: D1Database, userId: string, id: string) {
  return {
    condition: `EXISTS (SELECT 1 FROM passkeys WHERE id = ?7 AND user_id = ?6)
      AND ${otherWayIn('?6', '?7')}`,
    statements: [
      db
        .prepare(
          `DELETE FROM passkeys WHERE id = ?2 AND user_id = ?1 AND ${otherWayIn('?1', '?2')}
           RETURNING id`,
        )
        .bind(userId, id),
      db.prepare('SELECT 1 FROM passkeys WHERE id = ?2 AND user_id = ?1').bind(userId, id),
    ],
    read: ([removed, left]: D1Result[]): 'removed' | 'last' | null =>
      (removed?.results.length ?? 0) > 0
        ? 'removed'
        : (left?.results.length ?? 0) > 0
          ? 'last'
          : null,
  }
}

/** For the hourly purge: answered challenges that have expired anyway. */
export const purgeChallenges = (db: D1Database, now: number) =>
  db.prepare('DELETE FROM webauthn_challenges WHERE expires_at <= ?1').bind(now)
