import { type Bindings, config } from '../config'
import { nowSeconds } from '../lib/time'
import { purgeAudit } from './audit'
import { purgeClientAssertions } from './client-metadata'
import { purgeRevokedClientTokens } from './client-tokens'
import { purgeCodes } from './codes'
import { purgeDeviceCodes } from './device-codes'
import { purgeFederationRequests } from './identity-providers'
import { purgeLoginFailures } from './login-failures'
import { purgeChallenges } from './passkeys'
import { purgeRetryResponses, purgeSessions } from './sessions'
import { purgeSignins } from './signins'

/**
 * The cron trigger: drops expired sessions (and their refresh tokens), the responses kept for
 * refresh retries once their window is over (REFRESH_RETRY_SECONDS), stale login counters, old
 * audit events, day-old authorization codes, expired browser sign-ins, the revocations of client
 * tokens that have expired anyway, device requests past their lifetime, abandoned sign-ins at
 * upstream identity providers, the `jti`s of expired client assertions and answered passkey
 * challenges past their lifetime, in one batch.
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
    purgeClientAssertions(env.DB, now),
    purgeChallenges(env.DB, now),
  ])
}
