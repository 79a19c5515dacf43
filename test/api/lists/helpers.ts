import { env } from 'cloudflare:test'
import { isoTime } from '../../../src/lib/time'
import { bearer, call, json, login, makeUser, type TestUser } from '../../helpers'
import { Browser, exchange, getCode, makeClient, tokens } from '../../oauth-client'

/**
 * A user with a live access token, and a token of the same user (and scope) held by a
 * third-party app: made once, on first use.
 */
export type Member = TestUser & { token: string; appToken: () => Promise<string> }

export async function member(opts: Parameters<typeof makeUser>[0] = {}, scope?: string) {
  const user = await makeUser(opts)
  const { access_token: token } = await login(user, scope)
  let app: Promise<string> | undefined
  const appToken = () => {
    app ??= codeFlowToken(user, thirdPartyApp(), scope)
    return app
  }
  return { ...user, token, appToken } satisfies Member
}

let registered: Promise<string> | undefined
/** One third-party app (not first-party) per test file, registered as an admin would. */
const thirdPartyApp = () => {
  registered ??= makeClient({ client_name: 'Third-party app' }).then((c) => c.client.client_id)
  return registered
}

/** The seeded first-party web client (migrations/0002_clients.sql), redirecting to "/". */
export const WEB_CLIENT = { id: 'todo-web', redirect: 'https://todo.test/' }

/**
 * An access token `clientId` obtains for `user` through the authorization code flow, as a
 * browser signs in on the login page (and consents, if the client is not first-party).
 */
export async function codeFlowToken(
  user: Pick<TestUser, 'username' | 'password'>,
  clientId: string | Promise<string>,
  scope?: string,
  redirect?: string,
): Promise<string> {
  const id = await clientId
  const params: Record<string, string> = {}
  if (scope) params.scope = scope
  if (redirect) params.redirect_uri = redirect
  const code = await getCode(new Browser(), id, user, params)
  const res = await exchange(code, { client_id: id, ...(redirect && { redirect_uri: redirect }) })
  return (await tokens(res)).access_token
}

export type Reply<T = unknown> = { status: number; body: T }

/** A JSON request with a Bearer token; the status and the parsed body (null for 204). */
export async function send<T = unknown>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply<T>> {
  const res = await call(
    path,
    body === undefined ? bearer(token, { method }) : json(method, body, token),
  )
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T }
}

/** The default list of a user, as stored. */
export async function defaultList(userId: string): Promise<string> {
  const row = await env.DB.prepare('SELECT id FROM lists WHERE owner_id = ?1 AND is_default = 1')
    .bind(userId)
    .first<{ id: string }>()
  if (!row) throw new Error(`no default list for ${userId}`)
  return row.id
}

/** Setup straight in D1 (the routes under test are exercised by the tests themselves). */
export const seed = {
  list: (ownerId: string, opts: { archived?: boolean; name?: string } = {}) => {
    const id = crypto.randomUUID()
    return {
      id,
      stmt: env.DB.prepare(
        `INSERT INTO lists (id, owner_id, name, is_default, archived, created_at, updated_at)
         VALUES (?1, ?2, ?3, 0, ?4, ?5, ?5)`,
      ).bind(id, ownerId, opts.name ?? 'seeded', opts.archived ? 1 : 0, isoTime()),
    }
  },
  todo: (listId: string, ownerId: string, title = 'seeded todo') => {
    const id = crypto.randomUUID()
    return {
      id,
      stmt: env.DB.prepare(
        `INSERT INTO todos (id, owner_id, list_id, title, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)`,
      ).bind(id, ownerId, listId, title, isoTime()),
    }
  },
  team: (name = 'seeded team') => {
    const id = crypto.randomUUID()
    return {
      id,
      stmt: env.DB.prepare(
        'INSERT INTO teams (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)',
      ).bind(id, name, isoTime()),
    }
  },
  teamMember: (teamId: string, userId: string, role: 'member' | 'manager' = 'member') =>
    env.DB.prepare(
      'INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)',
    ).bind(teamId, userId, role, isoTime()),
  share: (listId: string, to: { user: string } | { team: string }, role: 'viewer' | 'editor') =>
    env.DB.prepare(
      `INSERT INTO list_members (list_id, user_id, team_id, role, created_at)
       VALUES (?1, ?2, ?3, ?4, ?5)`,
    ).bind(listId, 'user' in to ? to.user : null, 'team' in to ? to.team : null, role, isoTime()),
}
