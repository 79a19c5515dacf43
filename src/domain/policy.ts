import type { MachineScope, Scope } from './scopes'
import { ROLES, type Role, type User } from './user'

/**
 * Who may do what to whose data: the one place that answers it. Routes name an action and, where
 * it matters, the owner of the data or the list or team acted on; they never test roles,
 * relations or states themselves.
 *
 * A request is allowed when its token holds the action's scope (what the token may do) AND its
 * user's role and ownership allow it (what the user may do). Scopes come from the token narrowed
 * to what the user holds today, so a demotion or a removed scope counts at the next request.
 *
 * Three kinds of actor (ActorKind): a user in person, a third-party app acting for its user,
 * and a client acting as itself, for no user (client credentials).
 *
 * The operator CLI (scripts/user.mjs) stands outside this table: whoever can run it holds the
 * database credentials. It shares the rules on the data instead (schemas, last-admin guard).
 */

export type Action =
  | 'todos.read' // list, read own todos
  | 'todos.list_any' // list anyone's todos (?user_id=)
  | 'todos.write' // create, change, delete own todos
  | 'self' // GET /users/me, POST /users/me/password
  | 'identities.change' // POST, DELETE /users/me/identities/{provider}: link, unlink
  | 'users.read' // GET /users, GET /users/{id}
  | 'users.write' // POST /users, PATCH /users/{id}, DELETE /users/{id}
  | 'audit.read' // GET /admin/audit
  | 'lists.create' // POST /api/lists
  | 'lists.read_any' // GET /api/lists?user_id=: the lists another user sees (audited)
  | 'teams.read' // GET /api/teams: the teams one is in
  | 'teams.create' // POST /api/teams
  | 'clients.read' // GET /admin/clients, GET /admin/clients/{id}
  | 'clients.write' // POST, PATCH, DELETE /admin/clients…, rotating a secret
  | 'providers.read' // GET /admin/identity-providers…
  | 'providers.write' // POST, PATCH, DELETE /admin/identity-providers…

/** Who may perform an action: the owner of the data (the actor's own), or admins only. */
type Audience = 'owner' | 'admin'

/**
 * Who acts. A `user` in person, through a first-party client (the web client todo-web, the CLI,
 * the password grant) or HTTP Basic. An `app`: a third-party app holding a token for its user (a
 * token whose session was granted to a client that is not first-party; its `client_id` claim
 * names it, RFC 9068 §2.2). An app never does more than its user and its scopes allow, and some
 * things only the user does in person: read other users' data as an admin, and change who may
 * see their lists or who is in their teams (an app that could share would exfiltrate by sharing),
 * and link or unlink the upstream identities they sign in with.
 * A `client` acting as itself with a client credentials token (RFC 6749 §4.4), for no user: it
 * may do only what its action's machine scope names (`client` below), which only an admin can
 * grant it; on every other action, lists and teams included, it is `forbidden`, whatever it
 * holds: it owns no data, is in no team and is nobody's admin.
 */
export type ActorKind = 'user' | 'app' | 'client'

type Rule = {
  /** The scope a user's token needs (null: any). */
  scope: Scope | null
  audience: Audience
  /** False: a third-party app's token may not do this at all. */
  apps?: false
  /** The machine scope a client's own token needs; null: no client may. */
  client: MachineScope | null
}

export const RULES: Readonly<Record<Action, Rule>> = {
  'todos.read': { scope: 'read', audience: 'owner', client: null },
  'todos.list_any': { scope: 'read', audience: 'admin', apps: false, client: null },
  'todos.write': { scope: 'write', audience: 'owner', client: null },
  // Any live session may see and re-secure its own account, whatever it was scoped to.
  self: { scope: null, audience: 'owner', client: null },
  // An app that could link an identity of its choosing could then sign in as the user.
  'identities.change': { scope: null, audience: 'owner', apps: false, client: null },
  'users.read': { scope: 'read', audience: 'admin', client: 'users:read' },
  'users.write': { scope: 'write', audience: 'admin', client: null },
  'audit.read': { scope: 'read', audience: 'admin', client: 'audit:read' },
  'lists.create': { scope: 'write', audience: 'owner', client: null },
  'lists.read_any': { scope: 'read', audience: 'admin', apps: false, client: null },
  'teams.read': { scope: 'read', audience: 'owner', client: null },
  'teams.create': { scope: 'write', audience: 'owner', client: null },
  'clients.read': { scope: 'read', audience: 'admin', client: null },
  'clients.write': { scope: 'write', audience: 'admin', client: null },
  'providers.read': { scope: 'read', audience: 'admin', client: null },
  'providers.write': { scope: 'write', audience: 'admin', client: null },
}

/**
 * The requester: a user (in person or through an app; default `user`) with their stored role,
 * or a client acting as itself (`id` its client_id); with the scopes this request may use. Team
 * memberships, the last attribute, live in D1 and are read by the SQL below in the same statement
 * that acts, so leaving a team counts on the very next request.
 */
export type Actor = { scopes: readonly string[] } & (
  | (Pick<User, 'id' | 'role'> & { kind?: Exclude<ActorKind, 'client'> })
  | { kind: 'client'; id: string }
)

export type Decision = 'allow' | 'insufficient_scope' | 'forbidden'

const hasScope = (actor: Actor, scope: string | null) => !scope || actor.scopes.includes(scope)

/** May `actor` perform `action` on data owned by `ownerId` (default: the actor's own)? */
export function decide(actor: Actor, action: Action, ownerId: string = actor.id): Decision {
  const rule = RULES[action]
  if (actor.kind === 'client') {
    if (rule.client === null) return 'forbidden'
    return hasScope(actor, rule.client) ? 'allow' : 'insufficient_scope'
  }
  if (!hasScope(actor, rule.scope)) return 'insufficient_scope'
  if (rule.apps === false && actor.kind === 'app') return 'forbidden'
  const allowed = rule.audience === 'owner' ? actor.id === ownerId : actor.role === 'admin'
  return allowed ? 'allow' : 'forbidden'
}

// ---------------------------------------------------------------------------------------------
// Lists and teams: attribute-based. An actor's relation to a list is `owner`, or the strongest
// role of the shares with them or with a team they are in (`editor` > `viewer`), or none. A list
// or team the actor has no relation to does not exist for them (404, as a missing one); one they
// may see but not change is a 403 `forbidden`. Admins get no relation from their role: they read
// other users' lists only through `lists.read_any`.

export type ListRelation = 'owner' | 'editor' | 'viewer'
export type TeamRelation = 'manager' | 'member'

export type ListAction =
  | 'list.read' // GET the list, its todos and its members; the todos of it in /api/todos/{id}
  | 'list.write_todos' // create, change, complete and delete its todos
  | 'list.change' // rename, archive, delete
  | 'list.unarchive' // PATCH {"archived": false}: the one change an archived list accepts
  | 'list.share' // share with a user or a team, change or end a share
export type TeamAction =
  | 'team.manage' // add members, change their role, remove them
  | 'team.leave' // remove oneself

type ResourceRule<R extends string> = {
  scope: Scope
  relations: readonly R[]
  /** Whether an archived list allows it: an archived list is read-only for everyone. */
  whenArchived: boolean
  /** False: a third-party app's token may not do this at all. */
  apps: boolean
}

export const LIST_RULES: Readonly<Record<ListAction, ResourceRule<ListRelation>>> = {
  'list.read': {
    scope: 'read',
    relations: ['owner', 'editor', 'viewer'],
    whenArchived: true,
    apps: true,
  },
  'list.write_todos': {
    scope: 'write',
    relations: ['owner', 'editor'],
    whenArchived: false,
    apps: true,
  },
  'list.change': { scope: 'write', relations: ['owner'], whenArchived: false, apps: true },
  'list.unarchive': { scope: 'write', relations: ['owner'], whenArchived: true, apps: true },
  'list.share': { scope: 'write', relations: ['owner'], whenArchived: false, apps: false },
}

export const TEAM_RULES: Readonly<Record<TeamAction, ResourceRule<TeamRelation>>> = {
  'team.manage': { scope: 'write', relations: ['manager'], whenArchived: true, apps: false },
  'team.leave': {
    scope: 'write',
    relations: ['manager', 'member'],
    whenArchived: true,
    apps: true,
  },
}

/** A list as the policy sees it: the actor's relation to it (from SQL) and its state. */
export type ListResource = { relation: ListRelation | null; archived: boolean }
export type TeamResource = { relation: TeamRelation | null }

export type ResourceDecision = Decision | 'not_found'

/** What the token and the kind of actor allow, before any resource is looked at. */
export function decideUpFront(
  actor: Actor,
  rule: Pick<ResourceRule<string>, 'scope' | 'apps'>,
): Decision {
  // A client acting as itself owns no list and is in no team: no list or team rule is for it.
  if (actor.kind === 'client') return 'forbidden'
  if (!hasScope(actor, rule.scope)) return 'insufficient_scope'
  if (!rule.apps && actor.kind === 'app') return 'forbidden'
  return 'allow'
}

/**
 * May `actor` perform `action` on this list? The in-memory twin of `listCondition`, used to tell
 * a 404 from a 403 once the SQL has refused; the SQL is what enforces.
 */
export function decideOnList(
  actor: Actor,
  action: ListAction,
  list: ListResource | null,
): ResourceDecision {
  const rule = LIST_RULES[action]
  const upFront = decideUpFront(actor, rule)
  if (upFront !== 'allow') return upFront
  if (!list?.relation) return 'not_found'
  if (!rule.relations.includes(list.relation)) return 'forbidden'
  if (list.archived && !rule.whenArchived) return 'forbidden'
  return 'allow'
}

/** May `actor` perform `action` on this team? Only members see a team. */
export function decideOnTeam(
  actor: Actor,
  action: TeamAction,
  team: TeamResource | null,
): ResourceDecision {
  const rule = TEAM_RULES[action]
  const upFront = decideUpFront(actor, rule)
  if (upFront !== 'allow') return upFront
  if (!team?.relation) return 'not_found'
  return rule.relations.includes(team.relation) ? 'allow' : 'forbidden'
}

/** Removing oneself from a team is leaving it; removing anyone else is managing it. */
export const teamRemoval = (actor: Pick<Actor, 'id'>, userId: string): TeamAction =>
  actor.id === userId ? 'team.leave' : 'team.manage'

/** An archived list takes only PATCH {"archived": false}; every other change is `list.change`. */
export const listPatchAction = (patch: { name?: string; archived?: boolean }): ListAction =>
  patch.archived === false && patch.name === undefined ? 'list.unarchive' : 'list.change'

// The same rules as SQL, for the statements that read and write. `l` is the alias of a `lists`
// row, `actor` the placeholder the actor's id is bound to (e.g. `?1`). Scopes and the actor's
// kind are known before the statement runs (decideUpFront); everything that lives in D1 — owner,
// shares, team memberships, archived — is tested here, inside the statement that acts on it.

const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ')

/**
 * SQL: the lists the actor has any relation to, in a form that the indexes serve (the owner's
 * lists, shares with them, shares with their teams); equivalent to `relation IS NOT NULL`.
 */
export const visibleListSql = (l: string, actor: string) =>
  `(${l}.owner_id = ${actor}
    OR ${l}.id IN (SELECT s.list_id FROM list_members AS s WHERE s.user_id = ${actor})
    OR ${l}.id IN (SELECT s.list_id FROM team_members AS tm
                   JOIN list_members AS s ON s.team_id = tm.team_id WHERE tm.user_id = ${actor}))`

/** SQL: the actor's relation to list `l`: 'owner', 'editor', 'viewer' or NULL. */
export const listRelationSql = (l: string, actor: string) =>
  `(CASE WHEN ${l}.owner_id = ${actor} THEN 'owner' ELSE (
     SELECT CASE MAX(s.role = 'editor') WHEN 1 THEN 'editor' WHEN 0 THEN 'viewer' END
     FROM list_members AS s
     WHERE s.list_id = ${l}.id AND (s.user_id = ${actor} OR s.team_id IN
       (SELECT tm.team_id FROM team_members AS tm WHERE tm.user_id = ${actor}))) END)`

/** SQL: `actor` may perform `action` on list `l` (the rule of LIST_RULES, as a WHERE clause). */
export function listCondition(action: ListAction, l: string, actor: string): string {
  const rule = LIST_RULES[action]
  const parts = [visibleListSql(l, actor)]
  if (rule.relations.length < 3)
    parts.push(`${listRelationSql(l, actor)} IN (${quoted(rule.relations)})`)
  if (!rule.whenArchived) parts.push(`${l}.archived = 0`)
  return parts.join(' AND ')
}

/** SQL: the actor's relation to the team whose id is the expression `team`, or NULL. */
export const teamRelationSql = (team: string, actor: string) =>
  `(SELECT tm.role FROM team_members AS tm WHERE tm.team_id = ${team} AND tm.user_id = ${actor})`

/** SQL: `actor` may perform `action` on the team whose id is `team`. */
export const teamCondition = (action: TeamAction, team: string, actor: string) =>
  `${teamRelationSql(team, actor)} IN (${quoted(TEAM_RULES[action].relations)})`

/**
 * May `actor` give `target` this role and these scopes? Only admins assign roles and scopes, and
 * nobody raises their own: on themselves an admin may only keep or drop a role or a scope.
 */
export function mayAssign(
  actor: Actor,
  target: Pick<User, 'id' | 'role' | 'scopes'>,
  next: { role?: Role; scopes?: readonly Scope[] },
): boolean {
  // A client acting as itself is nobody's admin.
  if (actor.kind === 'client' || actor.role !== 'admin') return false
  if (actor.id !== target.id) return true
  const raisesRole =
    next.role !== undefined && ROLES.indexOf(next.role) > ROLES.indexOf(target.role)
  const addsScope = next.scopes?.some((s) => !target.scopes.includes(s)) ?? false
  return !raisesRole && !addsScope
}
