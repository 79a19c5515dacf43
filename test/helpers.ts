import { env } from 'cloudflare:test'
import { exports } from 'cloudflare:workers'
import bcrypt from 'bcryptjs'
import { test as base, vi } from 'vitest'
import { createApp } from '../src/app'
import { insertUser } from '../src/db/users'
import { parseScopes } from '../src/domain/scopes'

/** Sends a request through the real Worker's fetch handler. */
export const call = (path: string, init?: RequestInit): Promise<Response> =>
  exports.default.fetch(new Request(`https://todo.test${path}`, init))

let counter = 0
/** A username no other test in this file uses. */
export const uniqueName = (prefix = 'user') =>
  `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`

export type TestUser = { id: string; username: string; password: string }

/** Inserts a user with the Worker's own insert (a cost-4 hash), as the seed and the CLI do. */
export async function makeUser(
  opts: {
    username?: string
    password?: string
    role?: 'user' | 'admin'
    scopes?: string
    disabled?: boolean
  } = {},
): Promise<TestUser> {
  const username = opts.username ?? uniqueName()
  const password = opts.password ?? 'correct horse battery'
  const id = crypto.randomUUID()
  const insert = insertUser(env.DB, id, {
    username,
    passwordHash: bcrypt.hashSync(password, 4),
    name: `Name ${username}`,
    email: `${username}@example.com`,
    role: opts.role ?? 'user',
    scopes: parseScopes(opts.scopes ?? 'read write'),
  })
  // No API makes a user disabled from the start; the flag is set in the same transaction.
  const disable = env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(id)
  const [inserted] = await env.DB.batch(opts.disabled ? [insert, disable] : [insert])
  if (inserted?.results.length !== 1) throw new Error(`makeUser: the username ${username} is taken`)
  return { id, username, password }
}

/**
 * Every route the Worker serves, as `METHOD /path` with Hono's `:param`s, read from the app
 * itself (its middleware, method ALL, left out), so that a test listing routes cannot miss one.
 */
export const appRoutes = (): string[] => [
  ...new Set(
    createApp()
      .routes.filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method} ${r.path}`),
  ),
]

/**
 * The routes of the app that `table` has no entry for, and the entries that name no route, one
 * line each ('' when they match): a new route fails the test that owns the table, saying where
 * and what to add.
 */
export function routesMissingFrom(
  table: Record<string, unknown>,
  where: string,
  hint = 'add one: what to send, or why it does not apply',
): string {
  const routes = appRoutes()
  return [
    ...routes.filter((r) => !(r in table)).map((r) => `${r} has no entry in ${where}; ${hint}`),
    ...Object.keys(table)
      .filter((k) => !routes.includes(k))
      .map((k) => `${where} has an entry for ${k}, which the app does not serve`),
  ].join('\n')
}

/** The route (`METHOD /path` of appRoutes) that a request for `method` and `path` reaches. */
export function routeOf(method: string, path: string): string | undefined {
  const pathname = new URL(path, 'https://todo.test').pathname
  return appRoutes().find((route) => {
    const [m, pattern = ''] = route.split(' ')
    const literal = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const regex = new RegExp(`^${literal.replace(/:[^/]+/g, '[^/]+')}$`)
    return m === method && regex.test(pathname)
  })
}

/**
 * Silences console.error for the rest of the test and returns its spy: an error a test provokes
 * on purpose belongs in its assertions (`expect(logged).toHaveBeenCalledWith(…)`), not in the
 * output of a green run. vitest.config.ts restores every spy after each test.
 */
export const quietConsoleError = () => vi.spyOn(console, 'error').mockImplementation(() => {})

export const form = (fields: Record<string, string> | [string, string][]) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
})

export const basicHeader = (username: string, password: string) => {
  const bytes = new TextEncoder().encode(`${username}:${password}`)
  return `Basic ${btoa(String.fromCharCode(...bytes))}`
}

export type TokenPair = {
  access_token: string
  refresh_token: string
  token_type: string
  expires_in: number
  scope: string
}

export async function login(
  user: Pick<TestUser, 'username' | 'password'>,
  scope?: string,
): Promise<TokenPair> {
  const res = await call(
    '/auth/token',
    form({
      grant_type: 'password',
      username: user.username,
      password: user.password,
      ...(scope !== undefined && { scope }),
    }),
  )
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`)
  return res.json()
}

export const bearer = (token: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), Authorization: `Bearer ${token}` },
})

export const json = (method: string, body: unknown, token?: string): RequestInit => ({
  method,
  headers: {
    'Content-Type': 'application/json',
    ...(token && { Authorization: `Bearer ${token}` }),
  },
  body: JSON.stringify(body),
})

/** A user and an access token of theirs (scope `read write`). */
export type SignedIn = { user: TestUser; token: string; tokens: TokenPair }

async function signIn(opts: Parameters<typeof makeUser>[0]): Promise<SignedIn> {
  const user = await makeUser(opts)
  const tokens = await login(user)
  return { user, token: tokens.access_token, tokens }
}

/**
 * `it` with two fixtures, each made fresh for the test that names it:
 * `signedIn`, a new user logged in, and `admin`, a new admin logged in.
 *
 * @example
 * it('lists my todos', async ({ signedIn }) => {
 *   expect((await call('/api/todos', bearer(signedIn.token))).status).toBe(200)
 * })
 */
export const it = base.extend<{ signedIn: SignedIn; admin: SignedIn }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's needs from this pattern
  signedIn: async ({}, use) => use(await signIn({})),
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's needs from this pattern
  admin: async ({}, use) => use(await signIn({ role: 'admin' })),
})

const realCompare = bcrypt.compare.bind(bcrypt) as (p: string, h: string) => Promise<boolean>

/**
 * Runs `meanwhile` after the next bcrypt compare, before the check acts on its result: a
 * deterministic way to race a password check against a change of the account.
 */
export function duringNextCompare(meanwhile: () => Promise<unknown>) {
  const spy = vi.spyOn(bcrypt, 'compare') as unknown as {
    mockImplementationOnce(f: (p: string, h: string) => Promise<boolean>): void
  }
  spy.mockImplementationOnce(async (password, hash) => {
    const ok = await realCompare(password, hash)
    await meanwhile()
    return ok
  })
}
