import type { Context } from 'hono'
import type { AppEnv } from '../env'

export type AuditEvent =
  | 'login_success'
  | 'login_failure'
  | 'lockout'
  | 'refresh'
  | 'refresh_reuse_detected'
  | 'revoke'
  | 'logout'
  | 'password_change'
  | 'user_created'
  | 'user_updated'
  | 'user_deleted'

export type AuditRecord = {
  event: AuditEvent
  username?: string | null
  userId?: string | null
  ip?: string | null
  userAgent?: string | null
  /** Free text for the operator, e.g. who made a change. Never a password or a token. */
  detail?: string | null
}

/** The insert for one event, to run alone or to batch with the change it records. */
export const auditStatement = (db: D1Database, r: AuditRecord) =>
  db
    .prepare('INSERT INTO audit_events (at, event, username, user_id, ip, user_agent, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)')
    .bind(Math.floor(Date.now() / 1000), r.event, r.username ?? null, r.userId ?? null, r.ip ?? null, r.userAgent?.slice(0, 256) ?? null, r.detail ?? null)

/**
 * Records a security event of a request: who, what, from where — never a password or a token.
 * Awaited, so the trail is complete when the response leaves; a failed write is logged, not
 * shown to the client. Only auth events are audited, so this is never on the todo routes' hot path.
 */
export async function audit(c: Context<AppEnv>, event: AuditEvent, who: { username?: string | null; userId?: string | null }, detail?: string): Promise<void> {
  const stmt = auditStatement(c.env.DB, { event, ...who, ip: c.req.header('CF-Connecting-IP'), userAgent: c.req.header('User-Agent'), detail })
  await stmt.run().catch((err: unknown) => console.error('audit write failed:', err))
}

export type AuditEntry = { at: string; event: AuditEvent; username: string | null; ip: string | null; user_agent: string | null; detail: string | null }

/** Events newest first, optionally for one username (case-insensitive, as usernames are). */
export async function listAudit(db: D1Database, q: { limit: number; offset: number; username?: string }): Promise<AuditEntry[]> {
  // Two shapes rather than `?3 IS NULL OR …`, so that the filtered one can use the (username, at) index.
  const filter = q.username === undefined ? '' : 'WHERE username = ?3 COLLATE NOCASE'
  const stmt = db.prepare(`SELECT at, event, username, ip, user_agent, detail FROM audit_events ${filter} ORDER BY at DESC, id DESC LIMIT ?1 OFFSET ?2`)
  const bound = q.username === undefined ? stmt.bind(q.limit, q.offset) : stmt.bind(q.limit, q.offset, q.username)
  const { results } = await bound.all<Omit<AuditEntry, 'at'> & { at: number }>()
  return results.map((r) => ({ ...r, at: new Date(r.at * 1000).toISOString() }))
}

/** Drops events older than the retention period. */
export const purgeAudit = (db: D1Database, now: number, retentionDays: number) =>
  db.prepare('DELETE FROM audit_events WHERE at < ?1').bind(now - retentionDays * 86_400)
