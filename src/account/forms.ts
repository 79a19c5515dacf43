import type { Context } from 'hono'
import { type AccountSignin, accountSigninOf, FRESH_SECONDS, signinGuard } from '../db/account'
import type { AppEnv } from '../http/context'
import { primaryDatabase } from '../http/database'
import { isUtf8Form } from '../http/validate'
import { sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { errorPage, issuer, sameOrigin } from '../oauth/browser/page'
import { seal, unseal } from '../oauth/browser/pending'
import { sentBinding } from '../oauth/browser/signin'

/**
 * How the account page knows who it is talking to, and how its forms are protected: the
 * authorization endpoint's browser sign-in (the cookie, src/oauth/browser/signin.ts), forms
 * sealed to this browser and to the user the page was shown to (src/oauth/browser/pending.ts, for
 * the `account` purpose) and sent from our own origin, and every write behind a guard that the
 * sign-in still holds as it runs (src/db/account.ts `signinGuard`).
 */

/** This browser's sign-in, as the page acts under it. */
export type Signed = AccountSignin & {
  /** SHA-256 of the cookie: the sign-in's key. */
  tokenHash: string
  /** The cookie's value, which the page's tokens are sealed to. */
  binding: string
}

/** The sign-in behind this request's cookie, if it holds; always read from the primary. */
export async function currentSignin(c: Context<AppEnv>): Promise<Signed | null> {
  const binding = sentBinding(c)
  if (!binding) return null
  const tokenHash = await sha256Hex(binding)
  const signin = await accountSigninOf(primaryDatabase(c), tokenHash, nowSeconds())
  return signin && { ...signin, tokenHash, binding }
}

/**
 * Whether the sign-in may add or remove a way in (a passkey, a linked identity): made with the
 * password or a passkey within FRESH_SECONDS. The guard checks it again in the batch that acts.
 */
export const isFresh = (s: AccountSignin, now = nowSeconds()) =>
  s.method !== 'provider' && now - s.since <= FRESH_SECONDS

/** What the page's forms carry as `request`: the user they were shown to ('' before sign-in). */
type Sealed = { u: string }

/** The token of the page's forms, for this browser and user. */
export const formToken = (c: Context<AppEnv>, binding: string, userId: string) =>
  seal<Sealed>(c.env, { u: userId }, binding, 'account')

/**
 * A form of the page: from our origin, a UTF-8 urlencoded body, a token sealed to this browser
 * for `userId` (the signed-in user's; '' for the login form). The body, or the page to answer.
 */
export async function pageForm(
  c: Context<AppEnv>,
): Promise<
  { body: Record<string, unknown>; sealedFor: string } | { page: Response | Promise<Response> }
> {
  issuer(c)
  if (!sameOrigin(c)) return { page: errorPage(c, 403, 'This form must be sent from this site.') }
  if (!(await isUtf8Form(c))) return { page: errorPage(c, 400, 'This form could not be read.') }
  const body = await c.req.parseBody()
  const token = typeof body.request === 'string' ? body.request : undefined
  const sealed = await unseal<Sealed>(c.env, token, sentBinding(c), 'account')
  if (!sealed || typeof sealed.u !== 'string')
    return {
      page: errorPage(
        c,
        403,
        'This form has expired or was not issued to this browser. Open /account again.',
      ),
    }
  return { body, sealedFor: sealed.u }
}

/** The outcome of a guarded batch: the statements' results, or why the guard stopped it. */
export type Guarded = D1Result[] | 'signed-out' | 'not-fresh'

/**
 * Runs `statements` behind the sign-in guard (with `fresh`, a fresh sign-in's), in one batch:
 * their results, or, when the guard aborted it, whether the browser is no longer signed in as
 * this user or the sign-in is no longer fresh. Another failure is thrown.
 */
export async function guardedBatch(
  c: Context<AppEnv>,
  signed: Signed,
  statements: D1PreparedStatement[],
  fresh = false,
): Promise<Guarded> {
  const db = primaryDatabase(c)
  const now = nowSeconds()
  const under = {
    tokenHash: signed.tokenHash,
    userId: signed.user.id,
    now,
    ...(fresh && { freshSince: now - FRESH_SECONDS }),
  }
  try {
    return (await db.batch([signinGuard(db, under), ...statements])).slice(1)
  } catch (err) {
    const now = await currentSignin(c)
    if (!now || now.user.id !== signed.user.id) return 'signed-out'
    if (fresh && !isFresh(now)) return 'not-fresh'
    throw err
  }
}
