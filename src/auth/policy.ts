import type { User } from '../db/users'
import type { MachineScope, Scope } from './scopes'

/**
 * Who may do what to whose data: the one place that answers it. Routes name an action and, where
 * it matters, the owner of the data; they never test roles themselves.
 *
 * A request is allowed when its token holds the action's scope (what the token may do) AND its
 * user's role and ownership allow it (what the user may do). Scopes come from the token narrowed
 * to what the user holds today, so a demotion or a removed scope counts at the next request.
 *
 * Two kinds of actor: a user (through any app), and a client acting as itself with a client
 * credentials token (RFC 6749 §4.4). A client may do only what its action's machine scope names
 * (`client` below), which only an admin can grant it; on every other action it is `forbidden`,
 * whatever it holds: it owns no todos and is nobody's admin.
 *
 * The operator CLI (scripts/user.mjs) stands outside this table: whoever can run it holds the
 * database credentials. It shares the rules on the data instead (schemas, last-admin guard).
 */

/** The roles, lowest first: an admin may do all a user may. */
export const ROLES = ['user', 'admin'] as const
export type Role = (typeof ROLES)[number]

export type Action =
  | 'todos.read' // list, read own todos
  | 'todos.list_any' // list anyone's todos (?user_id=)
  | 'todos.write' // create, change, delete own todos
  | 'self' // GET /users/me, POST /users/me/password
  | 'users.read' // GET /users, GET /users/{id}
  | 'users.write' // POST /users, PATCH /users/{id}, DELETE /users/{id}
  | 'audit.read' // GET /admin/audit
  | 'clients.read' // GET /admin/clients, GET /admin/clients/{id}
  | 'clients.write' // POST, PATCH, DELETE /admin/clients…, rotating a secret

/** Who may perform an action: the owner of the data (the actor's own), or admins only. */
type Audience = 'owner' | 'admin'

type Rule = {
  /** The scope a user's token needs (null: any). */
  scope: Scope | null
  audience: Audience
  /** The machine scope a client's own token needs; null: no client may. */
  client: MachineScope | null
}

export const RULES: Readonly<Record<Action, Rule>> = {
  'todos.read': { scope: 'read', audience: 'owner', client: null },
  'todos.list_any': { scope: 'read', audience: 'admin', client: null },
  'todos.write': { scope: 'write', audience: 'owner', client: null },
  // Any live session may see and re-secure its own account, whatever it was scoped to.
  self: { scope: null, audience: 'owner', client: null },
  'users.read': { scope: 'read', audience: 'admin', client: 'users:read' },
  'users.write': { scope: 'write', audience: 'admin', client: null },
  'audit.read': { scope: 'read', audience: 'admin', client: 'audit:read' },
  'clients.read': { scope: 'read', audience: 'admin', client: null },
  'clients.write': { scope: 'write', audience: 'admin', client: null },
}

/**
 * The requester: a user with their stored role, or a client acting as itself (`id` its
 * client_id); with the scopes this request may use.
 */
export type Actor = { scopes: readonly string[] } & (
  | (Pick<User, 'id' | 'role'> & { kind?: 'user' })
  | { kind: 'client'; id: string }
)

export type Decision = 'allow' | 'insufficient_scope' | 'forbidden'

/** May `actor` perform `action` on data owned by `ownerId` (default: the actor's own)? */
export function decide(actor: Actor, action: Action, ownerId: string = actor.id): Decision {
  const rule = RULES[action]
  if (actor.kind === 'client') {
    if (rule.client === null) return 'forbidden'
    return actor.scopes.includes(rule.client) ? 'allow' : 'insufficient_scope'
  }
  if (rule.scope && !actor.scopes.includes(rule.scope)) return 'insufficient_scope'
  const allowed = rule.audience === 'owner' ? actor.id === ownerId : actor.role === 'admin'
  return allowed ? 'allow' : 'forbidden'
}

/**
 * May `actor` give `target` this role and these scopes? Only admins assign roles and scopes, and
 * nobody raises their own: on themselves an admin may only keep or drop a role or a scope.
 */
export function mayAssign(
  actor: Pick<User, 'id' | 'role'>,
  target: Pick<User, 'id' | 'role' | 'scopes'>,
  next: { role?: Role; scopes?: readonly Scope[] },
): boolean {
  if (actor.role !== 'admin') return false
  if (actor.id !== target.id) return true
  const raisesRole =
    next.role !== undefined && ROLES.indexOf(next.role) > ROLES.indexOf(target.role)
  const addsScope = next.scopes?.some((s) => !target.scopes.includes(s)) ?? false
  return !raisesRole && !addsScope
}
