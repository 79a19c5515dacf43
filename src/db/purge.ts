import { config, type Bindings } from '../config'
import { purgeAudit } from './audit'
import { purgeLoginFailures } from './login-failures'
import { purgeSessions } from './sessions'
import { nowSeconds } from '../lib/time'
import { purgeCodes } from './codes'
import { purgeSignins } from './signins'
import { purgeFederationRequests } from './identity-providers'
import { purgeRevokedClientTokens } from './client-tokens'
import { purgeDeviceCodes } from './device-codes'
import { purgeChallenges } from './passkeys'

/**
 * The cron trigger: drops expired sessions (and their refresh tokens), stale login counters, old
 * audit events, day-old authorization codes, expired browser sign-ins, the revocations of client
 * tokens that have expired anyway, device requests past their lifetime, abandoned sign-ins at
 * upstream identity providers and answered passkey challenges past their lifetime, in one batch.
 */
export async function purgeExpired(env: Bindings): Promise<void> {
  const now = nowSeconds()
  const cfg = config(env)
  await env.DB.batch([
    ...purgeSessions(env.DB, now),
    purgeLoginFailures(env.DB, now),
    purgeAudit(env.DB, now, cfg.auditRetentionDays),
    purgeCodes(env.DB, now),
    purgeSignins(env.DB, now),
    purgeFederationRequests(env.DB, now),
    purgeRevokedClientTokens(env.DB, now),
    purgeDeviceCodes(env.DB, now),
    purgeChallenges(env.DB, now),
  ])
}
