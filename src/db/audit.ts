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

/**
 * Records a security event: who, what, from where — never a password or a token. Awaited, so the
 * trail is complete when the response leaves; a failed write is logged, not shown to the client.
 * Only auth events are audited, so this is never on the todo routes' hot path.
 */
export async function audit(c: Context<AppEnv>, event: AuditEvent, who: { username?: string | null; userId?: string | null }, detail?: string): Promise<void> {
  const stmt = c.env.DB.prepare(
    'INSERT INTO audit_events (at, event, username, user_id, ip, user_agent, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
  ).bind(
    Math.floor(Date.now() / 1000),
    event,
    who.username ?? null,
    who.userId ?? null,
    c.req.header('CF-Connecting-IP') ?? null,
    c.req.header('User-Agent')?.slice(0, 256) ?? null,
    detail ?? null,
  )
  await stmt.run().catch((err: unknown) => console.error('audit write failed:', err))
}

/** Drops events older than the retention period. */
export const purgeAudit = (db: D1Database, now: number, retentionDays: number) =>
  db.prepare('DELETE FROM audit_events WHERE at < ?1').bind(now - retentionDays * 86_400)
