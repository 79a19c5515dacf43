import type { BearerSession } from '../db/sessions'
import { type AccessClaims, type ClientClaims, isClientToken } from '../domain/claims'
import { MACHINE_SCOPES, narrowMachineScopes, narrowScopes, parseScopes } from '../domain/scopes'
import type { ClientStanding, Presumed, Standing } from '../domain/standing'

/**
 * What the Bearer batch presumes of a token and its check proves: a user's token, the Standing
 * of its session (src/db/sessions.ts); a client's own token (client credentials), the machine
 * scopes it may use, the token's that the client is still registered for (src/db/client-tokens.ts).
 */

/** What the check read of a live token: its session, or its client's registered scope. */
export type Live = BearerSession | { registeredScope: string }

/** The standing a live session gives its token: see Standing (src/db/sessions.ts). */
export const standingOf = (session: BearerSession, claims: AccessClaims): Standing => ({
  role: session.user.role,
  // Bounded by the session's scope as well as the user's: a token never outgrows its grant.
  scopes: narrowScopes(
    narrowScopes(parseScopes(claims.scope), parseScopes(session.scope)),
    session.user.scopes,
  ),
  thirdPartyApp: session.thirdPartyApp,
})

/** The machine scopes a client's token may use: the token's, bounded by the client's today. */
export const clientStandingOf = (
  registeredScope: string,
  claims: ClientClaims,
): ClientStanding => ({
  machineScopes: narrowMachineScopes(claims.scope.split(' '), registeredScope.split(' ')),
})

export const presumedOf = (live: Live, claims: AccessClaims): Presumed =>
  'registeredScope' in live
    ? clientStandingOf(live.registeredScope, claims as ClientClaims)
    : standingOf(live, claims)

export const sameStanding = (a: Presumed, b: Presumed) =>
  'machineScopes' in a || 'machineScopes' in b
    ? 'machineScopes' in a &&
      'machineScopes' in b &&
      a.machineScopes.join(' ') === b.machineScopes.join(' ')
    : a.role === b.role &&
      a.thirdPartyApp === b.thirdPartyApp &&
      a.scopes.join(' ') === b.scopes.join(' ')

/**
 * The standing each session (or client token) was last seen with, per isolate, so its next
 * request presumes it (a token whose claims are out of date, e.g. after a demotion, still makes
 * one round trip). Bounded; a token not in it is presumed from its claims. Only a presumption:
 * the check proves it in SQL, so a stale entry costs a round trip, never a wrong answer.
 */
const standings = new Map<string, Presumed>()
const STANDINGS_MAX = 1024

/** A client token has no session: its entry is keyed by its jti, marked so as not to clash. */
const standingKey = (claims: AccessClaims) =>
  isClientToken(claims) ? `client:${claims.jti}` : claims.sid

export function remember(claims: AccessClaims, standing: Presumed) {
  const key = standingKey(claims)
  standings.delete(key)
  standings.set(key, standing)
  if (standings.size > STANDINGS_MAX) standings.delete(standings.keys().next().value as string)
}

export const presumed = (claims: AccessClaims): Presumed =>
  standings.get(standingKey(claims)) ??
  (isClientToken(claims)
    ? { machineScopes: narrowMachineScopes(claims.scope.split(' '), MACHINE_SCOPES) }
    : { role: claims.role, scopes: parseScopes(claims.scope), thirdPartyApp: false })
