import { type Requester, USER_AGENT_MAX } from '../domain/requester'
import { nowSeconds } from '../lib/time'
import { allRows, type Query } from './query'

export const AUDIT_EVENTS = [
  'login_success',
  'login_failure',
  'lockout',
  'refresh',
  'refresh_reuse_detected',
  'code_exchange',
  'code_reuse_detected',
  'device_code_exchange',
  'revoke',
  'logout',
  'password_change',
  'user_created',
  'user_updated',
  'user_deleted',
  'federated_login',
  'federated_login_failure',
  'identity_linked',
  'identity_unlinked',
  'admin_read',
  'passkey_added',
  'passkey_removed',
  'session_ended',
  'consent_withdrawn',
] as const
export type AuditEvent = (typeof AUDIT_EVENTS)[number]

/** Who did it and from where, for events an admin or operator causes. Never a password or token. */
export type Attribution = { ip?: string | null; userAgent?: string | null; detail?: string | null }

const INSERT = 'INSERT INTO audit_events (at, event, username, user_id, ip, user_agent, detail)'
const attribution = (a: Attribution) => [
  a.ip ?? null,
  a.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
  a.detail ?? null,
]

/**
 * An event about the user row `userId`, to batch with the change it records: the username comes
 * from the row, and nothing is written unless the row matches `where` when the statement runs,
 * which is how it follows the outcome of a guarded change. `where` may refer to ?7 (`arg`).
 */
export function auditUserEvent(
  db: D1Database,
  event: AuditEvent,
  userId: string,
  by: Attribution,
  where: string,
  arg?: string,
) {
  const stmt = db.prepare(
    `${INSERT} SELECT ?1, ?2, username, id, ?3, ?4, ?5 FROM users WHERE id = ?6 AND (${where})`,
  )
  return arg === undefined
    ? stmt.bind(nowSeconds(), event, ...attribution(by), userId)
    : stmt.bind(nowSeconds(), event, ...attribution(by), userId, arg)
}

/**
 * The statement recording that an admin read another user's content (`what`: the route), to
 * batch with the read itself; about the user read, with the admin in `detail`. Nothing is written
 * for a user that does not exist (and nothing is read).
 */
export const adminRead = (
  db: D1Database,
  admin: { requester: Requester; username: string },
  userId: string,
  what: string,
) =>
  auditUserEvent(
    db,
    'admin_read',
    userId,
    requestAttribution(admin.requester, `by ${admin.username}: ${what}`),
    '1',
  )

/** Where a request came from (src/domain/requester.ts), as the audit trail records it. */
export const requestAttribution = (client: Requester, detail?: string): Attribution => ({
  ip: client.address,
  userAgent: client.userAgent,
  detail,
})

type Who = { username?: string | null; userId?: string | null }

/** The statement recording a security event of a request, to batch with the writes it goes with. */
export const auditEvent = (
  db: D1Database,
  client: Requester,
  event: AuditEvent,
  who: Who,
  detail?: string,
) =>
  db
    .prepare(`${INSERT} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`)
    .bind(
      nowSeconds(),
      event,
      who.username ?? null,
      who.userId ?? null,
      ...attribution(requestAttribution(client, detail)),
    )

/**
 * Records security events of a request: who, what, from where — never a password or a token.
 * Awaited, so the trail is complete when the response leaves; a failed write is logged, not
 * shown to the client. Only auth events are audited here; an admin's read of someone's todos or
 * lists is batched with the read (`adminRead`), so it costs no extra round trip.
 */
export async function audit(
  db: D1Database,
  client: Requester,
  event: AuditEvent,
  who: Who,
  detail?: string,
): Promise<void> {
  await auditEvent(db, client, event, who, detail)
    .run()
    .catch((err: unknown) => console.error('audit write failed:', err))
}

export type AuditEntry = {
  at: string
  event: AuditEvent
  username: string | null
  ip: string | null
  user_agent: string | null
  detail: string | null
}

/** Events newest first, optionally for one username (case-insensitive, as usernames are). */
export function listAudit(
  db: D1Database,
  q: { limit: number; offset: number; username?: string },
): Query<AuditEntry[]> {
  // Two shapes rather than `?3 IS NULL OR …`, so the filtered one can use the (username, at) index.
  const filter = q.username === undefined ? '' : 'WHERE username = ?3 COLLATE NOCASE'
  const stmt = db.prepare(
    `SELECT at, event, username, ip, user_agent, detail FROM audit_events ${filter}
     ORDER BY at DESC, id DESC LIMIT ?1 OFFSET ?2`,
  )
  const bound =
    q.username === undefined
      ? stmt.bind(q.limit, q.offset)
      : stmt.bind(q.limit, q.offset, q.username)
  return allRows(bound, (r: Omit<AuditEntry, 'at'> & { at: number }) => ({
    ...r,
    at: new Date(r.at * 1000).toISOString(),
  }))
}

/** Drops events older than the retention period. */
export const purgeAudit = (db: D1Database, now: number, retentionDays: number) =>
  db.prepare('DELETE FROM audit_events WHERE at < ?1').bind(now - retentionDays * 86_400)
