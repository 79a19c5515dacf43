import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { checkPassword } from '../../auth/login'
import { config } from '../../config'
import {
  endSignin,
  federatedSigninStatements,
  type NewSignin,
  passwordSigninStatements,
  signinOf,
} from '../../db/signins'
import { toUser, type UserRow } from '../../db/users'
import { ApiError } from '../../domain/errors'
import { addressPrefix } from '../../domain/requester'
import type { User } from '../../domain/user'
import type { AppEnv } from '../../http/context'
import { database, primaryDatabase } from '../../http/database'
import { randomToken, sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'

/**
 * The browser's side of the authorization endpoint: one cookie, HttpOnly and SameSite=Lax, on
 * https also Secure with the `__Host-` prefix (so no subdomain can set or shadow it). Its value is
 * 256 random bits and does two jobs:
 *
 * - it binds every pending authorization request this browser is shown (./pending.ts), so a form
 *   token from another browser is refused (CSRF);
 * - after a successful login it names a sign-in, a D1 row (table signins, by SHA-256 only) that
 *   lets the next app skip the password until it expires, the user is disabled or changed
 *   (a new password, a new role), `prompt=login` is asked for, or the user logs out.
 *
 * A login always replaces the value (no session fixation).
 */
export const SIGNIN_TTL = 12 * 3600
const NAME = 'todo-auth'

const secure = (c: Context<AppEnv>) => new URL(c.req.url).protocol === 'https:'
const read = (c: Context<AppEnv>) =>
  (secure(c) ? getCookie(c, NAME, 'host') : getCookie(c, NAME)) ?? null

function write(c: Context<AppEnv>, value: string) {
  const options = { httpOnly: true, sameSite: 'Lax', path: '/', maxAge: SIGNIN_TTL } as const
  if (secure(c)) setCookie(c, NAME, value, { ...options, prefix: 'host' })
  else setCookie(c, NAME, value, options)
}

/** The value pending requests are bound to; a fresh cookie is set when the browser has none. */
export function browserBinding(c: Context<AppEnv>): string {
  const existing = read(c)
  if (existing && /^[\w-]{43}$/.test(existing)) return existing
  const value = randomToken()
  write(c, value)
  return value
}

/** The binding the browser sent with a form, or null. */
export const sentBinding = (c: Context<AppEnv>): string | null => read(c)

/** The user signed in in this browser, if the sign-in still holds. */
export const signedInUser = async (c: Context<AppEnv>): Promise<User | null> =>
  (await browserSignIn(c))?.user ?? null

/**
 * The same, with when the sign-in was made (unix seconds): OpenID Connect's `max_age` asks for
 * the password again when it is older (src/oauth/authorize/routes.tsx).
 */
export async function browserSignIn(
  c: Context<AppEnv>,
): Promise<{ user: User; since: number } | null> {
  const token = read(c)
  return token ? signinOf(database(c), await sha256Hex(token), nowSeconds()) : null
}

/**
 * A new sign-in's token, the hashes of it and of the browser's earlier one, its times and where
 * it came from; `commit` sets the cookie, once the row was written. For every way of signing in:
 * the password here, a provider (src/federation/), a passkey (./passkey.ts).
 */
export async function newSignin(c: Context<AppEnv>) {
  const old = read(c)
  const token = randomToken()
  const now = nowSeconds()
  const { address, userAgent } = c.get('requester')
  const signin: NewSignin = {
    tokenHash: await sha256Hex(token),
    oldHash: old ? await sha256Hex(old) : null,
    now,
    expiresAt: now + SIGNIN_TTL,
    addressPrefix: addressPrefix(address),
    userAgent,
  }
  return { token, signin, commit: () => write(c, token) }
}

/**
 * Signs a user in after their password was verified: statements for checkPassword's success
 * batch (src/auth/login.ts, its `grant`), so the sign-in row is written only if, in that very
 * statement, the user is enabled and still holds the verified hash; it records the row's
 * updated_at from the same statement. The browser's earlier sign-in is replaced only when the
 * new one was written. `commit` sets the cookie: call it once the check succeeded.
 */
async function signInStatements(c: Context<AppEnv>, db: D1Database) {
  const { token, signin } = await newSignin(c)
  return {
    token,
    grant: (user: UserRow) => passwordSigninStatements(db, signin, user),
    commit: () => write(c, token),
  }
}

/** Ends this browser's sign-in, if it is `userId`'s: logging out of an app logs out the browser. */
export async function signOut(c: Context<AppEnv>, userId: string): Promise<void> {
  const token = read(c)
  if (!token || !(await endSignin(database(c), await sha256Hex(token), userId))) return
  secure(c)
    ? deleteCookie(c, NAME, { path: '/', secure: true, prefix: 'host' })
    : deleteCookie(c, NAME, { path: '/' })
}

/**
 * Signs a user in through an upstream identity provider (src/federation/upstream-signin.tsx): the
 * sign-in row is written only if, in that very statement, the identity (issuer, sub) is linked to
 * an enabled user and its provider is enabled and still at that issuer. The row names the provider,
 * so that disabling it ends the sign-in. Statements for the caller's batch; `written` reads the
 * batch's result for the first; `commit` sets the cookie.
 */
export async function federatedSignInStatements(
  c: Context<AppEnv>,
  db: D1Database,
  identity: { issuer: string; subject: string; providerId: string },
) {
  const { token, signin } = await newSignin(c)
  return {
    token,
    statements: federatedSigninStatements(db, signin, identity),
    written: (result: D1Result | undefined) =>
      (result?.results[0] as { user_id: string } | undefined)?.user_id ?? null,
    commit: () => write(c, token),
  }
}

/** What the login form came to: the user, now signed in in this browser, or the page's message. */
export type PasswordSignIn =
  | { user: User; binding: string }
  | { status: 400 | 429; message: string; username: string }

const field = (v: unknown) => (typeof v === 'string' ? v : '')

/**
 * The login form of every page (the authorization endpoint's, the device page's): its fields
 * through the throttled, audited password check of every path (src/auth/login.ts). The sign-in
 * is written in the check's own success batch, only while the user is enabled and still holds the
 * hash just verified (docs/security.md, "Sessions"); the cookie is set once it was.
 */
export async function passwordSignIn(
  c: Context<AppEnv>,
  body: Record<string, unknown>,
): Promise<PasswordSignIn> {
  const username = field(body.username)
  const password = field(body.password)
  if (!username || !password || username.length > 1024 || password.length > 1024)
    return { status: 400, message: 'Enter your username and password.', username }
  const db = primaryDatabase(c)
  const signin = await signInStatements(c, db)
  let row: Awaited<ReturnType<typeof checkPassword>>
  try {
    const credentials = { username, password }
    row = await checkPassword(db, config(c.env), c.var.requester, credentials, signin.grant)
  } catch (err) {
    if (err instanceof ApiError && err.code === 'too_many_attempts')
      return { status: 429, message: err.description, username }
    throw err
  }
  if (!row) return { status: 400, message: 'Incorrect username or password.', username }
  signin.commit()
  return { user: toUser(row), binding: signin.token }
}
