import { config, type Bindings } from './env'
import { purgeAudit } from './db/audit'
import { purgeSessions } from './db/sessions'
import { nowSeconds } from './auth/crypto'
import { purgeCodes } from './db/codes'
import { purgeSignins } from './oauth/browser'

/**
 * The cron trigger: drops expired sessions (and their refresh tokens), stale login counters, old
 * audit events, day-old authorization codes and expired browser sign-ins.
 */
export async function purgeExpired(env: Bindings): Promise<void> {
  const now = nowSeconds()
  const cfg = config(env)
  await env.DB.batch([
    ...purgeSessions(env.DB, now),
    env.DB.prepare('DELETE FROM login_failures WHERE updated_at < ?1 AND locked_until < ?2').bind(
      now - 86_400,
      now,
    ),
    purgeAudit(env.DB, now, cfg.auditRetentionDays),
    purgeCodes(env.DB, now),
    purgeSignins(env.DB, now),
  ])
}
