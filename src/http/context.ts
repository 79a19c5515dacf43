import type { Context } from 'hono'
import type { Bindings } from '../config'
import type { AccessClaims } from '../domain/claims'
import type { Actor } from '../domain/policy'
import type { Requester } from '../domain/requester'
import type { ResourceName } from '../domain/resources'
import type { Presumed } from '../domain/standing'
import type { User } from '../domain/user'

/**
 * A Bearer request whose token is checked in the batch of its route (src/auth/batch.ts
 * `checkedBatch`): the verified claims, the standing presumed until the check proves it, and the
 * up-front decisions to make again if the check finds another standing.
 */
export type BearerAuth = {
  claims: AccessClaims
  standing: Presumed
  /** Set once the token was read live in a batch: c.var.user and the rest are then set. */
  settled: boolean
  /** The guard's up-front decisions (src/auth/guards.ts), each a function made once per route. */
  checks: UpFrontCheck[]
}

/** A decision taken before the route runs; throws an ApiError to refuse. */
export type UpFrontCheck = (c: Context<AppEnv>, actor: Actor) => void

/** What the middlewares hand to the routes (docs/architecture.md, "The life of a request"). */
export type Variables = {
  /** Who sent the request, set first of all (src/app.ts). */
  requester: Requester
  /**
   * The request's database (src/http/database.ts): a D1 session that may read replicas, or the
   * primary itself for a Bearer request. Unset on a Bearer route until its token is checked:
   * such a route reaches D1 through `checkedBatch` (src/auth/batch.ts), which hands it over.
   */
  db?: D1Database
  /** The user of the request; unset when a client acts as itself (`actingClient`). */
  user: User
  /**
   * The client_id of a client acting as itself, with a client credentials token (RFC 6749 §4.4).
   * Only routes behind `requires` let such a token in, and the policy then sees a client.
   */
  actingClient?: string
  /** The access token's session id; absent for HTTP Basic. */
  sessionId?: string
  /**
   * True when the access token's session belongs to a third-party app (a client that is not
   * first-party), read with the session in the Bearer check; absent for HTTP Basic.
   */
  thirdPartyApp?: boolean
  /** Scopes this request may use: the token's scope narrowed to what the user still holds. */
  scopes: readonly string[]
  /** A Bearer request on the hot path (src/auth/guards.ts `requires`, `requiresScope`). */
  bearer?: BearerAuth
  /**
   * The protected resource the request is for, which decides the audiences its token may carry
   * and the RFC 9728 document its challenges name; `api` when unset (src/domain/resources.ts).
   */
  resource?: ResourceName
}

export type AppEnv = { Bindings: Bindings; Variables: Variables }
