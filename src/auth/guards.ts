import type { Context, MiddlewareHandler } from 'hono'
import { ApiError, notFound as notFoundError } from '../domain/errors'
import {
  type Action,
  type Actor,
  decide,
  decideOnList,
  decideOnTeam,
  decideUpFront,
  LIST_RULES,
  type ListAction,
  type ListResource,
  type ResourceDecision,
  RULES,
  TEAM_RULES,
  type TeamAction,
  type TeamResource,
} from '../domain/policy'
import type { Scope } from '../domain/scopes'
import type { AppEnv, UpFrontCheck } from '../http/context'
import { documentGuard } from '../http/openapi'
import { actorOf, checkNow, presumeBearer } from './bearer'
import { forbidden, insufficientScope } from './challenges'

/**
 * A decision to take before the route runs, on the presumed standing. A refusal is never taken
 * on a presumption: the session is read first (one round trip, on this error path only), and the
 * decision made again on what it holds. Kept, so `checkedBatch` can make it again if its batch
 * finds the standing changed. Called by the guards below, and by a handler whose decision
 * depends on what it was asked (an MCP tool, src/mcp/).
 */
export async function decideFirst(c: Context<AppEnv>, check: UpFrontCheck): Promise<void> {
  const auth = c.get('bearer')!
  try {
    check(c, actorOf(c))
  } catch (err) {
    if (!(err instanceof ApiError) || auth.settled) throw err
    auth.standing = await checkNow(c, auth.claims)
    auth.settled = true
    check(c, actorOf(c))
  }
  auth.checks.push(check)
}

/**
 * A valid Bearer token (`presumeBearer`) and a decision to take before the route runs
 * (`decideFirst`), in one middleware.
 */
const bearerGuard =
  (check: UpFrontCheck): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    await presumeBearer(c)
    await decideFirst(c, check)
    await next()
  }

/** What `requires(action)` decides up front, for `decideFirst`. */
export const actionCheck = (action: Action) => (c: Context<AppEnv>, actor: Actor) =>
  checkActionOf(c, actor, action)

/** What `requiresScope(rule)` decides up front, for `decideFirst`. */
export const scopeCheck = (rule: UpFrontRule) => (c: Context<AppEnv>, actor: Actor) =>
  checkUpFront(c, actor, rule)

/**
 * Turns a refusal of the policy into its answer: 403 `insufficient_scope` (naming `scope`) or
 * `forbidden`, or the 404 that `notFound` makes, the same as for a missing resource.
 */
export function enforce(
  c: Context<AppEnv>,
  decision: ResourceDecision,
  scope: string | null,
  notFound: () => ApiError = () => notFoundError(),
): void {
  if (decision === 'insufficient_scope') throw insufficientScope(c, scope!)
  if (decision === 'forbidden') throw forbidden()
  if (decision === 'not_found') throw notFound()
}

/**
 * Asks the policy whether the authenticated request may perform `action` on data owned by
 * `ownerId` (default: the user's own), and answers 403 `insufficient_scope` or `forbidden` if not.
 */
export const checkAction = (c: Context<AppEnv>, action: Action, ownerId?: string): void =>
  checkActionOf(c, actorOf(c), action, ownerId)

/** The same for `actor`; a client's refusal for want of scope names the machine scope. */
function checkActionOf(c: Context<AppEnv>, actor: Actor, action: Action, ownerId?: string) {
  const rule = RULES[action]
  enforce(c, decide(actor, action, ownerId), actor.kind === 'client' ? rule.client : rule.scope)
}

/**
 * A valid Bearer token that holds what a list or team rule needs before any data is read (its
 * scope; the kind of actor). The rest of the rule is in the SQL of the route's statement. It
 * documents itself as `requires()` does: Bearer, the scope, and `forbidden`, always: a client
 * acting as itself gets it on every list and team route, and an app where it may not.
 */
export const requiresScope = (rule: UpFrontRule): MiddlewareHandler<AppEnv> =>
  documentGuard(
    bearerGuard((c, actor) => checkUpFront(c, actor, rule)),
    { auth: 'bearer', scope: rule.scope, errors: ['forbidden'] },
  )

type UpFrontRule = { scope: Scope; apps: boolean }

/** The same, inside a handler whose action depends on the request (leaving vs. managing). */
export const checkUpFront = (c: Context<AppEnv>, actor: Actor, rule: UpFrontRule): void =>
  enforce(c, decideUpFront(actor, rule), rule.scope)

/**
 * A valid Bearer token whose request the policy allows `action` on its own user's data.
 * Attached per route rather than with `use`, so a wrong method is a 405 before it is a 401.
 * For actions on someone else's data, call `checkAction` with the owner. It documents itself for
 * GET /openapi.json: Bearer, the action's scope, and `forbidden` when only admins may or a
 * third-party app may not.
 */
export const requires = (action: Action): MiddlewareHandler<AppEnv> =>
  documentGuard(
    bearerGuard((c, actor) => checkActionOf(c, actor, action)),
    {
      auth: 'bearer',
      scope: RULES[action].scope,
      // Admins only, an app may not, or no client acting as itself may: `forbidden`.
      errors:
        RULES[action].audience === 'admin' ||
        RULES[action].apps === false ||
        RULES[action].client === null
          ? ['forbidden']
          : [],
    },
  )

/**
 * Answers a write that SQL refused on a list: 404 (`notFound`) when the actor cannot see it, 403
 * when the policy refuses; when the policy allows, the refusal was something else the statement
 * checked, answered by `otherwise` (a default list that cannot be deleted, a missing share).
 */
export function refusedOnList(
  c: Context<AppEnv>,
  actor: Actor,
  action: ListAction,
  list: ListResource | null,
  notFound: () => ApiError,
  otherwise: () => ApiError = notFound,
): never {
  enforce(c, decideOnList(actor, action, list), LIST_RULES[action].scope, notFound)
  throw otherwise()
}

/** As refusedOnList, for a team. */
export function refusedOnTeam(
  c: Context<AppEnv>,
  actor: Actor,
  action: TeamAction,
  team: TeamResource | null,
  notFound: () => ApiError,
  otherwise: () => ApiError = notFound,
): never {
  enforce(c, decideOnTeam(actor, action, team), TEAM_RULES[action].scope, notFound)
  throw otherwise()
}
