import { config, type Bindings } from './env'
import { purgeAudit } from './db/audit'
import { purgeLoginFailures } from './db/login-failures'
import { purgeSessions } from './db/sessions'
import { nowSeconds } from './lib/time'

/**
 * The cron trigger: drops expired sessions (and their refresh tokens), stale login counters and
 * old audit events, in one batch.
 */
export async function purgeExpired(env: Bindings): Promise<void> {
  const now = nowSeconds()
  const cfg = config(env)
  await env.DB.batch([
    ...purgeSessions(env.DB, now),
    purgeLoginFailures(env.DB, now),
    purgeAudit(env.DB, now, cfg.auditRetentionDays),
  ])
}
