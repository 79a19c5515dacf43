import type { Context } from 'hono'
import { checkToken } from '../auth/batch'
import { actorOf } from '../auth/bearer'
import * as throttle from '../auth/throttle'
import type { AppEnv } from '../http/context'
import { primaryDatabase } from '../http/database'

/**
 * Charges a request that names a user by username (sharing a list, adding a team member) to the
 * caller's account and address (src/auth/throttle.ts `usernameAttempt`, docs/security.md "Naming
 * users by username"); 429 with Retry-After once either is spent, before anything is looked up.
 *
 * The session is checked first, on its own: the guard in front decided on the token's presumed
 * standing, and only a live session of a user who may share or manage (no third-party app, no
 * client) may spend the allowance. Three round trips — the check, the charge, the route's own
 * checked batch — for a rare, interactive request.
 */
export async function chargeUsername(c: Context<AppEnv>): Promise<void> {
  await checkToken(c)
  const attempt = throttle.usernameAttempt(c.get('requester'), actorOf(c).id)
  await throttle.run(primaryDatabase(c), attempt, {})
}

/** For the routes' documentation: what naming a user by username does and costs. */
export const BY_USERNAME =
  'The user named by their exact username (case aside; never a pattern); an unknown one is a ' +
  '404, as an unknown id. Every call counts: 30 per account and 60 per address in 15 minutes, ' +
  'then 429 (docs/security.md).'
