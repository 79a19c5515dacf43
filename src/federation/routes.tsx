import { type Context, Hono } from 'hono'
import { config } from '../config'
import { ApiError } from '../domain/errors'
import { audit, auditEvent, requestAttribution } from '../db/audit'
import {
  findProvider,
  identitiesOf,
  identityOwner,
  identityUnlinking,
  linkIdentity,
  type Provider,
  providerById,
  providerDeletion,
  providerInsertion,
  providerPage,
  providerSecret,
  providerUpdate,
} from '../db/identity-providers'
import type { Query } from '../db/query'
import { findUserById, insertUser } from '../db/users'
import { checkedBatch } from '../auth/batch'
import { requires } from '../auth/guards'
import { dummyHash } from '../domain/passwords'
import { PASSWORD_OR_PASSKEY } from '../db/passkeys'
import { sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { doc } from '../http/openapi'
import { federatedSignInStatements, browserBinding, sentBinding } from '../oauth/browser/signin'
import { type Pending, unseal } from '../oauth/browser/pending'
import {
  authorizationUrl,
  type Claims,
  completeSignIn,
  discover,
  issuerProblem,
  newSignIn,
  type SignInSecrets,
} from './oidc'
import { decryptSecret, encryptSecret } from './secret'
import {
  identityList,
  linkStart,
  provider as providerSchema,
  providerCreate,
  providerList,
  providerListQuery,
  providerPatch,
} from '../http/schemas/federation'
import { validate } from '../http/validate'
import { liveClient, loginPage, proceed } from '../oauth/authorize/flow'
import { errorPage, issuer, STALE } from '../oauth/browser/page'
import type { AppEnv } from '../http/context'
import { database } from '../http/database'

/**
 * Sign-in with upstream OpenID Connect providers (docs/federation.md; docs/api.md §10). todo-auth
 * stays the authorization server: the provider only vouches for who the person is, at the
 * callback, and what follows is the pending authorization request as after a password.
 */

/** How long a sign-in at a provider may take (its state, nonce and PKCE verifier). */
const REQUEST_TTL = 600

const callbackUri = (c: Context<AppEnv>, id: string) => `${issuer(c)}/auth/federate/${id}/callback`

const shown = (c: Context<AppEnv>, p: Provider) => ({ ...p, redirect_uri: callbackUri(c, p.id) })

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
  return db
    .prepare(
      `INSERT INTO federation_requests
         (state_hash, provider_id, binding_hash, pending, user_id, nonce, code_verifier, expires_at)
       SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8 FROM identity_providers WHERE id = ?2 AND enabled = 1`,
    )
    .bind(
      await sha256Hex(secrets.state),
      id,
      await sha256Hex(binding),
      'pending' in purpose ? JSON.stringify(purpose.pending) : null,
      'userId' in purpose ? purpose.userId : null,
      secrets.nonce,
      secrets.verifier,
      nowSeconds() + REQUEST_TTL,
    )
}

/** Where the browser signs in at the provider (its discovery document, cached an hour). */
const providerUrl = async (c: Context<AppEnv>, p: Provider, secrets: SignInSecrets) =>
  authorizationUrl(
    await discover(config(c.env), p.issuer),
    { clientId: p.client_id, redirectUri: callbackUri(c, p.id), scopes: p.scopes },
    secrets,
  )

/** Starts a sign-in at the provider: a single-use request row, bound to this browser. */
async function start(
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
const linkRequest = async (
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

type RequestRow = {
  provider_id: string
  binding_hash: string
  pending: string | null
  user_id: string | null
  nonce: string
  code_verifier: string
  expires_at: number
}

/** The request a callback's `state` names, spent (deleted) whatever comes of it: single use. */
async function spendRequest(c: Context<AppEnv>, id: string): Promise<RequestRow | null> {
  const state = c.req.query('state')
  const binding = sentBinding(c)
  if (!state || state.length > 512 || !binding) return null
  const row = await database(c)
    .prepare(
      'DELETE FROM federation_requests WHERE state_hash = ?1 AND provider_id = ?2 RETURNING *',
    )
    .bind(await sha256Hex(state), id)
    .first<RequestRow>()
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
    const taken = await db.prepare('SELECT 1 FROM users WHERE username = ?1').bind(name).first()
    if (!taken) return name
  }
  return `${base}-${crypto.randomUUID().slice(0, 12)}`
}

const linkFromAccount = (p: Provider) =>
  `Sign in with your password, then link ${p.name} from your account.`

const emailDomain = (email?: string) => email?.split('@').at(-1)?.toLowerCase()

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
    const { results: matches } =
      p.trusted_email && email
        ? await db
            .prepare(
              'SELECT id FROM users WHERE email = ?1 COLLATE NOCASE AND email_self_set = 0 LIMIT 2',
            )
            .bind(email)
            .all<{ id: string }>()
        : { results: [] }
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

const who = async (db: D1Database, userId: string | null) => {
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

/** GET/POST/DELETE /users/me/identities…: the upstream identities linked to your account. */
export const myIdentityRoutes = new Hono<AppEnv>()
  .get(
    '/me/identities',
    doc({
      operationId: 'listIdentities',
      tag: 'users',
      summary: 'Your linked identity providers',
      responses: { 200: { description: 'Your identities.', schema: identityList } },
    }),
    requires('self'),
    async (c) => c.json(await checkedBatch(c, (db, actor) => identitiesOf(db, actor.id))),
  )
  .post(
    '/me/identities/:provider',
    doc({
      operationId: 'linkIdentity',
      tag: 'users',
      summary: 'Start linking an identity provider to your account',
      description:
        'Answers the provider’s sign-in URL; open it in this same browser (the answer sets the ' +
        'browser cookie it is bound to). Its callback links the identity and goes to /account.',
      responses: { 200: { description: 'Where to sign in.', schema: linkStart } },
      errors: ['temporarily_unavailable'],
    }),
    requires('identities.change'),
    async (c) => {
      const id = c.req.param('provider')
      const binding = browserBinding(c)
      // Made up front, so the request row rides in the session check's batch: one round trip,
      // the provider's discovery after it (a row whose discovery fails is deleted, below).
      const secrets = newSignIn()
      const p = await checkedBatch(c, (db, actor) =>
        linkRequest(db, id, binding, actor.id, secrets),
      )
      if (!p?.enabled) throw new ApiError('not_found', 'No such identity provider.')
      try {
        return c.json({ authorization_url: await providerUrl(c, p, secrets) })
      } catch (err) {
        if (err instanceof ApiError) throw err
        console.error('federation: cannot start linking at', p.id, err)
        await database(c)
          .prepare('DELETE FROM federation_requests WHERE state_hash = ?1')
          .bind(await sha256Hex(secrets.state))
          .run()
        throw new ApiError('temporarily_unavailable', `${p.name} cannot be reached right now.`)
      }
    },
  )
  .delete(
    '/me/identities/:provider',
    doc({
      operationId: 'unlinkIdentity',
      tag: 'users',
      summary: 'Unlink an identity provider',
      description:
        'Refused (409) when it is your last way to sign in: no password, no passkey and no ' +
        'other identity.',
      responses: { 204: { description: 'Unlinked.' } },
      errors: ['conflict'],
    }),
    requires('identities.change'),
    async (c) => {
      const provider = c.req.param('provider')
      const by = requestAttribution(c.get('requester'), provider)
      // A password or a passkey is a way in as much as another identity is.
      const done = await checkedBatch(c, (db, actor) =>
        identityUnlinking(db, actor.id, provider, PASSWORD_OR_PASSKEY, by),
      )
      if (done === null)
        throw new ApiError('not_found', 'No identity from that provider is linked.')
      if (done === 'last')
        throw new ApiError(
          'conflict',
          'It is your only way to sign in: you have no password and no passkey.',
        )
      return c.body(null, 204)
    },
  )

function checkedIssuer(c: Context<AppEnv>, issuerUrl: string) {
  const problem = issuerProblem(config(c.env), issuerUrl)
  if (problem)
    throw new ApiError('invalid_request', problem, {
      issues: [{ path: 'issuer', message: problem }],
    })
}

/** /admin/identity-providers…: upstream OpenID providers, for admins. The secret is write-only. */
export const adminProviderRoutes = new Hono<AppEnv>()
  .post(
    '/',
    doc({
      operationId: 'createIdentityProvider',
      tag: 'admin',
      summary: 'Add an upstream OpenID Connect provider',
      description:
        'Admins only. Register `redirect_uri` of the answer at the provider. `client_secret` is ' +
        'stored encrypted (IDP_SECRET_KEY) and never shown again.',
      responses: {
        201: {
          description: 'The provider.',
          schema: providerSchema,
          headers: { Location: "The provider's URL." },
        },
      },
      errors: ['conflict'],
    }),
    requires('providers.write'),
    validate('json', providerCreate),
    async (c) => {
      const body = c.req.valid('json')
      checkedIssuer(c, body.issuer)
      const client_secret = await encryptSecret(c.env, body.id, body.client_secret)
      const created = await checkedBatch(c, (db) =>
        providerInsertion(db, { ...body, client_secret }),
      )
      if (!created) throw new ApiError('conflict', 'That provider id is taken.')
      c.header('Location', `/admin/identity-providers/${created.id}`)
      return c.json(shown(c, created), 201)
    },
  )
  .get(
    '/',
    doc({
      operationId: 'listIdentityProviders',
      tag: 'admin',
      summary: 'List upstream identity providers, oldest first',
      description: 'Admins only.',
      responses: { 200: { description: 'The providers.', schema: providerList } },
    }),
    requires('providers.read'),
    validate('query', providerListQuery),
    async (c) => {
      const page = c.req.valid('query')
      const providers = await checkedBatch(c, (db) => providerPage(db, page))
      return c.json(providers.map((p) => shown(c, p)))
    },
  )
  .get(
    '/:id',
    doc({
      operationId: 'getIdentityProvider',
      tag: 'admin',
      summary: 'Get one upstream identity provider',
      description: 'Admins only.',
      responses: { 200: { description: 'The provider.', schema: providerSchema } },
    }),
    requires('providers.read'),
    async (c) => {
      const found = await checkedBatch(c, (db) => providerById(db, c.req.param('id')))
      if (!found) throw new ApiError('not_found', 'No such identity provider.')
      return c.json(shown(c, found))
    },
  )
  .patch(
    '/:id',
    doc({
      operationId: 'updateIdentityProvider',
      tag: 'admin',
      summary: 'Change an upstream identity provider',
      description:
        'Admins only. Disabling it, or changing its issuer, ends every sign-in and session it ' +
        'made at once.',
      responses: { 200: { description: 'The changed provider.', schema: providerSchema } },
    }),
    requires('providers.write'),
    validate('json', providerPatch),
    async (c) => {
      const id = c.req.param('id')
      const { client_secret, ...change } = c.req.valid('json')
      if (change.issuer !== undefined) checkedIssuer(c, change.issuer)
      const secret =
        client_secret === undefined
          ? {}
          : { client_secret: await encryptSecret(c.env, id, client_secret) }
      const changed = await checkedBatch(c, (db) =>
        providerUpdate(db, id, { ...change, ...secret }),
      )
      if (!changed) throw new ApiError('not_found', 'No such identity provider.')
      return c.json(shown(c, changed))
    },
  )
  .delete(
    '/:id',
    doc({
      operationId: 'deleteIdentityProvider',
      tag: 'admin',
      summary: 'Delete an upstream identity provider',
      description: 'Admins only. Its identities go with it; its sign-ins and sessions end.',
      responses: { 204: { description: 'Deleted.' } },
    }),
    requires('providers.write'),
    async (c) => {
      if (!(await checkedBatch(c, (db) => providerDeletion(db, c.req.param('id')))))
        throw new ApiError('not_found', 'No such identity provider.')
      return c.body(null, 204)
    },
  )
