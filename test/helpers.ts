import { env } from 'cloudflare:test'
import { exports } from 'cloudflare:workers'
import bcrypt from 'bcryptjs'

/** Sends a request through the real Worker's fetch handler. */
export const call = (path: string, init?: RequestInit): Promise<Response> =>
  exports.default.fetch(new Request(`https://todo.test${path}`, init))

let counter = 0
/** A username no other test in this file uses. */
export const uniqueName = (prefix = 'user') =>
  `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`

export type TestUser = { id: string; username: string; password: string }

/** Inserts a user straight into D1 (cost-4 hash), as the seed and CLI would. */
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
  const now = new Date().toISOString()
  await env.DB.prepare(
    `INSERT INTO users (id, username, password_hash, name, email, role, scopes, disabled, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)`,
  )
    .bind(
      id,
      username,
      bcrypt.hashSync(password, 4),
      `Name ${username}`,
      `${username}@example.com`,
      opts.role ?? 'user',
      opts.scopes ?? 'read write',
      opts.disabled ? 1 : 0,
      now,
    )
    .run()
  return { id, username, password }
}

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
