import { type Context, Hono } from 'hono'
import { config } from '../config'
import { audit, auditEvent } from '../db/audit'
import {
  type FederationRequest,
  findProvider,
  identityOwner,
  insertFederationRequest,
  linkIdentity,
  type Provider,
  providerById,
  providerSecret,
  spendFederationRequest,
} from '../db/identity-providers'
import type { Query } from '../db/query'
import { findUserById, insertUser, usernameExists, usersWithEmail } from '../db/users'
import { ApiError } from '../domain/errors'
import { dummyHash } from '../domain/passwords'
import type { AppEnv } from '../http/context'
import { database } from '../http/database'
import { doc } from '../http/openapi'
import { sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { liveClient, loginPage, proceed } from '../oauth/authorize/flow'
import { errorPage, issuer, STALE } from '../oauth/browser/page'
import { type Pending, unseal } from '../oauth/browser/pending'
import { browserBinding, federatedSignInStatements, sentBinding } from '../oauth/browser/signin'
import { emailDomain } from './email'
import {
  authorizationUrl,
  type Claims,
  completeSignIn,
  discover,
  newSignIn,
  type SignInSecrets,
} from './oidc'
import { decryptSecret } from './secret'

/**
 * Sign-in with upstream OpenID Connect providers (docs/federation.md; docs/api.md §10). todo-auth
 * stays the authorization server: the provider only vouches for who the person is, at the
 * callback, and what follows is the pending authorization request as after a password.
 */

/** How long a sign-in at a provider may take (its state, nonce and PKCE verifier). */
const REQUEST_TTL = 600

export const callbackUri = (c: Context<AppEnv>, id: string) =>
  `${issuer(c)}/auth/federate/${id}/callback`

export const shown = (c: Context<AppEnv>, p: Provider) => ({
  ...p,
  redirect_uri: callbackUri(c, p.id),
})

type Purpose = { pending: Pending } | { userId: string }

/**
 * The single-use request row of a sign-in at provider `id`, bound to this browser; written only
 * while the provider is enabled.
 */
async function requestInsertion(
  db: D1Database,
  id: string,
  binding: string,
  purpose: Purpose,
  secrets: SignInSecrets,
): Promise<D1PreparedStatement> {
  return insertFederationRequest(db, {
    stateHash: await sha256Hex(secrets.state),
    providerId: id,
    bindingHash: await sha256Hex(binding),
    pending: 'pending' in purpose ? JSON.stringify(purpose.pending) : null,
    userId: 'userId' in purpose ? purpose.userId : null,
    nonce: secrets.nonce,
    codeVerifier: secrets.verifier,
    expiresAt: nowSeconds() + REQUEST_TTL,
  })
}

/** Where the browser signs in at the provider (its discovery document, cached an hour). */
export const providerUrl = async (c: Context<AppEnv>, p: Provider, secrets: SignInSecrets) =>
  authorizationUrl(
    await discover(config(c.env), p.issuer),
    { clientId: p.client_id, redirectUri: callbackUri(c, p.id), scopes: p.scopes },
    secrets,
  )

/** Starts a sign-in at the provider: a single-use request row, bound to this browser. */
export async function start(
  c: Context<AppEnv>,
  p: Provider,
  binding: string,
  purpose: Purpose,
): Promise<string> {
  const secrets = newSignIn()
  const url = await providerUrl(c, p, secrets)
  await (await requestInsertion(database(c), p.id, binding, purpose, secrets)).run()
  return url
}

/**
 * Starts linking provider `id` to `userId` from the account page (src/account/): the provider's
 * sign-in URL, with the single-use request row bound to this browser; null when the provider is
 * unknown or disabled. The callback links the identity and goes back to /account.
 */
export async function startLinking(
  c: Context<AppEnv>,
  id: string,
  userId: string,
): Promise<string | null> {
  const p = await findProvider(database(c), id)
  if (!p?.enabled) return null
  return start(c, p, browserBinding(c), { userId })
}

/**
 * For the link flow, in the Bearer request's one batch: the provider, and the request row
 * (written first, so no second round trip follows the provider's discovery).
 */
export const linkRequest = async (
  db: D1Database,
  id: string,
  binding: string,
  userId: string,
  secrets: SignInSecrets,
): Promise<Query<Provider | null>> => {
  const provider = providerById(db, id)
  return {
    statements: [
      ...provider.statements,
      await requestInsertion(db, id, binding, { userId }, secrets),
    ],
    read: (results) => provider.read(results),
  }
}

/** The request a callback's `state` names, spent (deleted) whatever comes of it: single use. */
async function spendRequest(c: Context<AppEnv>, id: string): Promise<FederationRequest | null> {
  const state = c.req.query('state')
  const binding = sentBinding(c)
  if (!state || state.length > 512 || !binding) return null
  const row = await spendFederationRequest(database(c), await sha256Hex(state), id)
  if (!row || row.expires_at <= nowSeconds()) return null
  return row.binding_hash === (await sha256Hex(binding)) ? row : null
}

/** A username for a new account: from preferred_username or the email, made unique. */
async function freeUsername(db: D1Database, claims: Claims): Promise<string> {
  const clean = (s?: string) => (s ?? '').replace(/[^A-Za-z0-9._-]/g, '').slice(0, 50)
  let base = clean(claims.preferredUsername)
  if (base.length < 3) base = clean(claims.email?.split('@')[0])
  if (base.length < 3) base = 'user'
  for (const suffix of ['', '-2', '-3', `-${crypto.randomUUID().slice(0, 8)}`]) {
    const name = `${base}${suffix}`
    if (!(await usernameExists(db, name))) return name
  }
  return `${base}-${crypto.randomUUID().slice(0, 12)}`
}

const linkFromAccount = (p: Provider) =>
  `Sign in with your password, then link ${p.name} from your account.`

type Outcome =
  | { ok: true; userId: string; token: string; events: ('identity_linked' | 'user_created')[] }
  | { ok: false; reason: string; message: string }

/**
 * Who the identity is here (the linking rules, docs/security.md "Federation"): the account it is
 * linked to; else, only for a provider trusted for email, the one account with that verified
 * email; else a new account when the provider allows sign-up and the email's domain is allowed.
 * Signs the browser in, in the same transaction as any link or account it makes.
 */
async function signInAs(
  c: Context<AppEnv>,
  p: Provider,
  claims: Claims,
  retried = false,
): Promise<Outcome> {
  const db = database(c)
  const identity = { issuer: p.issuer, subject: claims.sub, providerId: p.id }
  const email = claims.emailVerified ? (claims.email ?? '') : ''
  const before: D1PreparedStatement[] = []
  const events: ('identity_linked' | 'user_created')[] = []
  if (!(await identityOwner(db, p.issuer, claims.sub))) {
    // Two at most: one is a match, two are ambiguous.
    const matches = p.trusted_email && email ? await usersWithEmail(db, email, 2) : []
    if (matches.length > 1)
      return {
        ok: false,
        reason: 'email_ambiguous',
        message: `More than one account has this email. ${linkFromAccount(p)}`,
      }
    if (matches[0]) {
      before.push(linkIdentity(db, { ...identity, userId: matches[0].id, email }))
      events.push('identity_linked')
    } else {
      if (!p.allow_signup)
        return {
          ok: false,
          reason: 'not_linked',
          message: `No account here is linked to this ${p.name} identity. ${linkFromAccount(p)}`,
        }
      // Parsed strictly: anything but one plain address matches no domain (../federation/email.ts).
      const domain = emailDomain(email)
      if (p.allowed_domains.length > 0 && !(domain && p.allowed_domains.includes(domain)))
        return {
          ok: false,
          reason: 'domain_not_allowed',
          message:
            `Accounts from ${p.name} can be created only for a verified email of an ` +
            'allowed domain.',
        }
      const id = crypto.randomUUID()
      before.push(
        insertUser(db, id, {
          username: await freeUsername(db, claims),
          // No password: a hash of one nobody knows (src/domain/passwords.ts, dummyHash).
          passwordHash: dummyHash(config(c.env).bcryptCost),
          name: claims.name ?? '',
          email,
          role: 'user',
        }),
        // Two first sign-ins of one identity at once: the second's batch fails here, whole.
        linkIdentity(db, { ...identity, userId: id, email }, true),
      )
      events.push('user_created')
    }
  }
  const signin = await federatedSignInStatements(c, db, identity)
  const results = await db.batch([...before, ...signin.statements]).catch((err: unknown) => {
    // Only a new account's strict link can fail: the same identity was linked meanwhile (two
    // first sign-ins at once). Nothing of this batch was written; once more, it is known.
    if (retried || before.length === 0) throw err
    return null
  })
  if (results === null) return signInAs(c, p, claims, true)
  const userId = signin.written(results[before.length])
  if (!userId)
    return {
      ok: false,
      reason: 'account_unavailable',
      message: 'This account is disabled or could not be created. Try again or contact an admin.',
    }
  signin.commit()
  return { ok: true, userId, token: signin.token, events }
}

export const who = async (db: D1Database, userId: string | null) => {
  const user = userId ? await findUserById(db, userId) : null
  return { userId: user?.id ?? userId, username: user?.username ?? null }
}

/** GET /auth/federate/{id}, its callback; the account's identities; the admin API. */
export const federationRoutes = new Hono<AppEnv>()
  .get(
    '/federate/:id',
    doc({
      operationId: 'startFederatedLogin',
      tag: 'auth',
      summary: 'Continue with an upstream identity provider',
      description:
        'Query `request`: the login page’s token (the pending authorization request). Sends the ' +
        'browser to the provider: authorization code flow, PKCE S256, `state` and `nonce`, ' +
        'bound to this browser and single use.',
      responses: { 303: { description: 'To the provider.', headers: { Location: 'Its URL.' } } },
      pages: {
        400: 'The provider is unknown, disabled or cannot be reached.',
        403: 'A missing, forged or expired login page token.',
      },
    }),
    async (c) => {
      issuer(c)
      const token = c.req.query('request')
      const pending = await unseal(c.env, token, sentBinding(c))
      if (!pending) return errorPage(c, 403, STALE)
      const p = await findProvider(database(c), c.req.param('id'))
      if (!p?.enabled) return errorPage(c, 400, 'This sign-in option is not available.')
      try {
        return c.redirect(await start(c, p, sentBinding(c)!, { pending }), 303)
      } catch (err) {
        if (err instanceof ApiError) throw err
        console.error('federation: cannot start a sign-in at', p.id, err)
        await audit(
          database(c),
          c.get('requester'),
          'federated_login_failure',
          {},
          `${p.id}: discovery`,
        )
        return errorPage(c, 400, `${p.name} cannot be reached right now. Try again later.`)
      }
    },
  )
  .get(
    '/federate/:id/callback',
    doc({
      operationId: 'federatedLoginCallback',
      tag: 'auth',
      summary: 'The redirect URI registered at an upstream identity provider',
      description:
        'The provider’s authorization response (`code`, `state`, `iss`, or `error`). Validated ' +
        'with oauth4webapi (state, RFC 9207 iss, code exchange with PKCE, ID token signature, ' +
        'iss, aud, azp, exp, nonce); then the person is signed in and the pending authorization ' +
        'continues, or the identity is linked to the account that asked (then 303 to /account).',
      responses: {
        303: {
          description: 'Back to the app (its code), or to /account after linking.',
          headers: { Location: "The app's redirect URI with code, state and iss; or /account." },
        },
      },
      pages: {
        200: 'The consent page.',
        400: 'The login page (or an error page) with what went wrong.',
      },
    }),
    async (c) => {
      issuer(c)
      const db = database(c)
      const id = c.req.param('id')
      const client = c.get('requester')
      const row = await spendRequest(c, id)
      const pending = row?.pending ? (JSON.parse(row.pending) as Pending) : null
      const fail = async (reason: string, message: string, userId: string | null = null) => {
        await audit(
          db,
          client,
          'federated_login_failure',
          await who(db, userId),
          `${id}: ${reason}`,
        )
        const app = pending && (await liveClient(c, pending.client_id))
        if (pending && app) return loginPage(c, pending, app, 400, message)
        return errorPage(c, 400, message)
      }
      if (!row) return fail('state', 'This sign-in has expired or was started in another browser.')
      const p = await findProvider(db, id)
      const stored = p?.enabled ? await providerSecret(db, id) : null
      if (!p || !stored) return fail('provider_disabled', 'This sign-in option is not available.')
      let claims: Claims
      try {
        const cfg = config(c.env)
        claims = await completeSignIn(cfg, await discover(cfg, p.issuer), {
          clientId: p.client_id,
          clientSecret: await decryptSecret(c.env, p.id, stored),
          redirectUri: callbackUri(c, p.id),
          callbackUrl: new URL(c.req.url),
          state: c.req.query('state')!,
          nonce: row.nonce,
          verifier: row.code_verifier,
        })
      } catch (err) {
        if (err instanceof ApiError) throw err
        const reason = err instanceof Error ? err.message.slice(0, 200) : 'invalid response'
        return fail(
          reason,
          `Signing in with ${p.name} did not work. Try again, or use your password.`,
          row.user_id,
        )
      }

      if (row.user_id) {
        const owner = await identityOwner(db, p.issuer, claims.sub)
        if (owner && owner !== row.user_id)
          return fail(
            'identity_in_use',
            `This ${p.name} identity is linked to another account.`,
            row.user_id,
          )
        if (!owner) {
          const email = claims.emailVerified ? (claims.email ?? '') : ''
          const identity = { issuer: p.issuer, subject: claims.sub, providerId: p.id }
          const linked = await linkIdentity(db, { ...identity, userId: row.user_id, email }).run()
          if (linked.meta.changes !== 1)
            return fail(
              'already_linked',
              `Your account already has a ${p.name} identity; unlink it first.`,
              row.user_id,
            )
          await audit(db, client, 'identity_linked', await who(db, row.user_id), p.id)
        }
        return c.redirect('/account?done=linked#identities', 303)
      }

      const outcome = await signInAs(c, p, claims)
      if (!outcome.ok) return fail(outcome.reason, outcome.message)
      const user = await findUserById(db, outcome.userId)
      const app = await liveClient(c, pending!.client_id)
      if (!user || !app) return errorPage(c, 400, 'This app is not (or no longer) registered.')
      const by = { userId: user.id, username: user.username }
      await db.batch([
        ...outcome.events.map((e) => auditEvent(db, client, e, by, `federated: ${p.id}`)),
        auditEvent(db, client, 'federated_login', by, p.id),
      ])
      return proceed(c, pending!, app, user, outcome.token)
    },
  )
