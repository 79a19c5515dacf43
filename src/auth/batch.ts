import type { Context } from 'hono'
import { clientTokenCheck } from '../db/client-tokens'
import type { Query } from '../db/query'
import { bearerCheck } from '../db/sessions'
import { type AccessClaims, isClientToken } from '../domain/claims'
import { ApiError } from '../domain/errors'
import type { Actor } from '../domain/policy'
import type { ClientStanding, Presumed, Standing } from '../domain/standing'
import type { AppEnv } from '../http/context'
import { primaryDatabase } from '../http/database'
import { nowSeconds } from '../lib/time'
import { actorOf, checkNow, readLive, settle } from './bearer'
import { invalidToken } from './challenges'
import { type Live, presumedOf, sameStanding } from './standing'

/** The check that opens the batch, for the token's kind: bearerCheck or clientTokenCheck. */
function liveCheck(db: D1Database, claims: AccessClaims, standing: Presumed): Query<Live | null> {
  if (isClientToken(claims)) {
    const check = clientTokenCheck(db, claims, (standing as ClientStanding).machineScopes)
    return {
      statements: check.statements,
      read: (results) => {
        const registeredScope = check.read(results)
        return registeredScope === null ? null : { registeredScope }
      },
    }
  }
  const check = bearerCheck(db, claims, standing as Standing, nowSeconds())
  return { statements: check.statements, read: (results) => check.read(results[0]) }
}

const ATTEMPTS = 3

/**
 * One D1 round trip for a Bearer request: the session check (bearerCheck, src/db/sessions.ts)
 * and the route's statements in one batch, one transaction, on the primary. The batch opens with
 * a guard that aborts it unless the session is live and the standing the one presumed (the
 * token's claims, or what this isolate last saw of the session), so a revoked token, a disabled
 * user, a demotion or a narrowed scope writes nothing. When the guard aborts, the session is read
 * alone: dead, 401 `invalid_token`; live with another standing, the up-front decisions are made
 * again on it and the batch retried (`build` is called again with the actor as it now is).
 *
 * No D1 session (Sessions API) here: a Bearer check must read the primary, and the route's data
 * rides along in the same batch, which a replica could not serve anyway.
 */
export async function checkedBatch<T>(
  c: Context<AppEnv>,
  build: (db: D1Database, actor: Actor) => Query<T> | Promise<Query<T>>,
): Promise<T> {
  const auth = c.get('bearer')
  if (!auth)
    throw new Error('checkedBatch() needs requires() or requiresScope() in front of the route')
  const db = primaryDatabase(c)
  for (let attempt = 1; ; attempt++) {
    let query: Query<T>
    try {
      query = await build(db, actorOf(c))
    } catch (err) {
      // A refusal is never taken on a presumption: read the session, then decide on what it holds.
      if (!(err instanceof ApiError) || auth.settled) throw err
      auth.standing = await checkNow(c, auth.claims)
      auth.settled = true
      query = await build(db, actorOf(c))
    }
    const check = liveCheck(db, auth.claims, auth.standing)
    let results: D1Result[]
    try {
      results = await db.batch([...check.statements, ...query.statements])
    } catch (err) {
      const live = await readLive(db, auth.claims)
      if (!live) throw invalidToken(c)
      const standing = presumedOf(live, auth.claims)
      if (sameStanding(standing, auth.standing) || attempt === ATTEMPTS) throw err
      auth.standing = settle(c, auth.claims, live)
      for (const decide of auth.checks) decide(c, actorOf(c))
      continue
    }
    const live = check.read(results.slice(0, check.statements.length))
    if (!live) throw invalidToken(c)
    auth.standing = settle(c, auth.claims, live)
    auth.settled = true
    c.set('db', db)
    return query.read(results.slice(check.statements.length))
  }
}

const NOTHING: Query<void> = { statements: [], read: () => undefined }

/** The session check alone, in one round trip, for a route that reads nothing else of D1. */
export const checkToken = (c: Context<AppEnv>): Promise<void> => checkedBatch(c, () => NOTHING)
