import { config, type Bindings } from './env'
import { purgeAudit } from './db/audit'
import { purgeLoginFailures } from './db/login-failures'
import { purgeRetryResponses, purgeSessions } from './db/sessions'
import { nowSeconds } from './lib/time'
import { purgeCodes } from './db/codes'
import { purgeSignins } from './oauth/browser'
import { purgeFederationRequests } from './db/identity-providers'
import { purgeRevokedClientTokens } from './db/client-tokens'
import { purgeDeviceCodes } from './db/device-codes'

/**
 * The cron trigger: drops expired sessions (and their refresh tokens), the responses kept for
 * refresh retries once their window is over (REFRESH_RETRY_SECONDS), stale login counters, old
 * audit events, day-old authorization codes, expired browser sign-ins, the revocations of client
 * tokens that have expired anyway, device requests past their lifetime and abandoned sign-ins at
 * upstream identity providers, in one batch.
 */
export async function purgeExpired(env: Bindings): Promise<void> {
  const now = nowSeconds()
  const cfg = config(env)
  await env.DB.batch([
    ...purgeSessions(env.DB, now),
    purgeRetryResponses(env.DB, now, cfg.refreshRetrySeconds),
    purgeLoginFailures(env.DB, now),
    purgeAudit(env.DB, now, cfg.auditRetentionDays),
    purgeCodes(env.DB, now),
    purgeSignins(env.DB, now),
    purgeFederationRequests(env.DB, now),
    purgeRevokedClientTokens(env.DB, now),
    purgeDeviceCodes(env.DB, now),
  ])
}
