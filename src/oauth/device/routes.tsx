import { type Context, Hono } from 'hono'
import * as throttle from '../../auth/throttle'
import { issuerFor } from '../../auth/tokens'
import { config } from '../../config'
import {
  createDeviceRequest,
  DEVICE_CODE_TTL,
  type DeviceRequest,
  decideDeviceRequest,
  findPendingRequest,
  formatUserCode,
  normalizeUserCode,
  POLL_INTERVAL,
  pendingRequest,
} from '../../db/device-codes'
import { ApiError } from '../../domain/errors'
import { grantScope, narrowScopes, parseScopeParam, parseScopes } from '../../domain/scopes'
import type { User } from '../../domain/user'
import type { AppEnv } from '../../http/context'
import { database, primaryDatabase } from '../../http/database'
import { doc } from '../../http/openapi'
import { deviceAuthorizationRequest } from '../../http/schemas/auth'
import { deviceAuthorization } from '../../http/schemas/responses'
import { isUtf8Form, validate } from '../../http/validate'
import { sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'
import { LoginPage } from '../authorize/login-page'
import { errorPage, pageHeaders, sameOrigin } from '../browser/page'
import { formSignIn, signinOptions } from '../browser/passkey'
import { seal, unseal } from '../browser/pending'
import { browserBinding, sentBinding, signedInUser } from '../browser/signin'
import { authenticateClient } from '../clients/authenticate'
import { askedResource } from '../token/resource'
import { DEVICE_CODE_GRANT } from './device-code-grant'
import { DeviceCodePage, DeviceConsentPage, DeviceDonePage } from './pages'

/**
 * The device authorization grant (RFC 8628), for apps on devices without a browser (a CLI, a
 * TV): the app asks at POST /auth/device_authorization, shows the person a short code, and polls
 * the token endpoint (../grants/device-code.ts) while the person, in any browser, opens /device,
 * enters the code, signs in and allows or denies.
 *
 * The pages are those of the authorization endpoint (./authorize.tsx): no script, the same CSP,
 * the same sign-in cookie and password check, forms only from our own origin, each carrying a
 * token sealed to this browser (../oauth/pending.ts, for the `device` purpose). Wrong codes are
 * throttled per browser and per address (RFC 8628 §5.1, src/auth/throttle.ts); while an address
 * is locked, per browser and per account for a person signed in here.
 */

/** What the device page's forms carry: nothing at first, then the request's user code. */
type Sealed = { user_code?: string }

const expiredRequest =
  'This request has expired or was already answered. Start again on the device.'

async function codePage(
  c: Context<AppEnv>,
  status: 200 | 400 | 429 = 200,
  error?: string,
  userCode?: string,
) {
  pageHeaders(c)
  const request = await seal<Sealed>(c.env, {}, browserBinding(c), 'device')
  return c.html(<DeviceCodePage request={request} userCode={userCode} error={error} />, status)
}

async function loginPage(
  c: Context<AppEnv>,
  d: DeviceRequest,
  status: 200 | 400 | 429 = 200,
  error?: string,
  username?: string,
) {
  const binding = browserBinding(c)
  const passkey = await signinOptions(c, binding)
  pageHeaders(c, undefined, passkey !== undefined)
  const request = await seal<Sealed>(c.env, { user_code: d.user_code }, binding, 'device')
  return c.html(
    <LoginPage
      passkey={passkey}
      clientName={d.client_name}
      request={request}
      error={error}
      username={username}
      action="/device/login"
    />,
    status,
  )
}

/** The scopes the person would grant: the request's, within what they hold today. */
const grantable = (d: DeviceRequest, user: User) => narrowScopes(parseScopes(d.scope), user.scopes)

/** A signed-in person and a pending request: the approval page. */
async function consentPage(c: Context<AppEnv>, d: DeviceRequest, user: User, binding: string) {
  const scopes = grantable(d, user)
  if (scopes.length === 0)
    return errorPage(c, 403, 'Your account holds none of the access this app asks for.')
  pageHeaders(c)
  return c.html(
    <DeviceConsentPage
      clientName={d.client_name}
      clientId={d.client_id}
      username={user.username}
      role={user.role}
      scopes={scopes}
      userCode={formatUserCode(d.user_code)}
      requestedFrom={d.request_ip}
      userAgent={d.request_ua}
      minutesAgo={Math.floor((nowSeconds() - d.created_at) / 60)}
      request={await seal<Sealed>(c.env, { user_code: d.user_code }, binding, 'device')}
    />,
  )
}

/** A form of these pages: same-origin, UTF-8, sealed to this browser; else the page to answer. */
async function deviceForm(c: Context<AppEnv>) {
  issuerFor(config(c.env), c.req.url)
  if (!sameOrigin(c)) return { page: errorPage(c, 403, 'This form must be sent from this site.') }
  if (!(await isUtf8Form(c))) return { page: errorPage(c, 400, 'This form could not be read.') }
  const body = await c.req.parseBody()
  const token = typeof body.request === 'string' ? body.request : undefined
  const sealed = await unseal<Sealed>(c.env, token, sentBinding(c), 'device')
  if (!sealed)
    return { page: errorPage(c, 403, 'This form has expired or was not issued to this browser.') }
  return { sealed, body, binding: sentBinding(c)! }
}

/** The pending request a later step's form names, or the code page saying it is gone. */
async function sealedRequest(c: Context<AppEnv>, sealed: Sealed) {
  const d = sealed.user_code ? await findPendingRequest(database(c), sealed.user_code) : null
  return d ? { d } : { page: await codePage(c, 400, expiredRequest) }
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined)

const tooMany = (err: unknown): err is ApiError =>
  err instanceof ApiError && err.code === 'too_many_attempts'

/**
 * Looks a typed user code up, charged to `attempt` in the same batch (../auth/throttle.ts): a
 * wrong code counts, a right one takes back its own charge. 429 (`too_many_attempts`) while a
 * key of the attempt is locked.
 */
async function lookUpCode(db: D1Database, attempt: throttle.Attempt, code: string) {
  const { results, charge } = await throttle.run(db, attempt, {
    request: pendingRequest(db, code, nowSeconds()),
  })
  const d = results.request.results[0] as DeviceRequest | undefined
  if (d) await db.batch(charge.settleSuccess(db))
  return d
}

const SIGN_IN_FIRST =
  'If you have an account here and share this network with others, sign in on this site ' +
  'first: your own attempts then count, not the network’s.'

const PAGES = { 403: 'A missing, forged, expired or cross-site form.' } as const

export const deviceAuthorizationRoutes = new Hono<AppEnv>().post(
  '/device_authorization',
  doc({
    operationId: 'authorizeDevice',
    tag: 'auth',
    summary: 'Start a device authorization (RFC 8628 §3.1)',
    description:
      'For clients registered for the device code grant, authenticated as at the token ' +
      'endpoint (a public client sends `client_id`). Show `user_code` and `verification_uri` ' +
      '(or `verification_uri_complete`) to the person, then poll the token endpoint with ' +
      '`grant_type=urn:ietf:params:oauth:grant-type:device_code` every `interval` seconds.',
    responses: { 200: { description: 'The codes.', schema: deviceAuthorization } },
    errors: ['invalid_client', 'unauthorized_client', 'invalid_scope', 'invalid_target'],
  }),
  validate('form', deviceAuthorizationRequest),
  async (c) => {
    const issuer = issuerFor(config(c.env), c.req.url)
    const form = c.req.valid('form')
    const client = await authenticateClient(c, form)
    if (!client) throw new ApiError('invalid_client', 'client_id is required.')
    if (!JSON.parse(client.grant_types).includes(DEVICE_CODE_GRANT))
      throw new ApiError('unauthorized_client', 'This client may not use the device code grant.')
    const scope = grantScope(parseScopeParam(form.scope), parseScopes(client.scope))
    if (!scope) throw new ApiError('invalid_scope', 'This client may be granted no scope.')
    // RFC 8707 (§2 names the device endpoint too): kept with the request for its tokens.
    const resource = askedResource(c, form.resource) ?? null
    const who = c.get('requester')
    const made = await createDeviceRequest(database(c), {
      clientId: client.client_id,
      scope,
      resource,
      ip: who.address,
      userAgent: who.userAgent,
    })
    // The client was disabled since it authenticated (or, vanishingly rarely, three drawn user
    // codes were all taken).
    if (!made) throw new ApiError('invalid_client', 'Client authentication failed.')
    const userCode = formatUserCode(made.userCode)
    return c.json({
      device_code: made.deviceCode,
      user_code: userCode,
      verification_uri: `${issuer}/device`,
      verification_uri_complete: `${issuer}/device?user_code=${userCode}`,
      expires_in: DEVICE_CODE_TTL,
      interval: POLL_INTERVAL,
    })
  },
)

export const deviceRoutes = new Hono<AppEnv>()
  .get(
    '/',
    doc({
      operationId: 'devicePage',
      tag: 'auth',
      summary: 'The device verification page (RFC 8628 §3.3)',
      description:
        'HTML. `user_code` (optional) prefills the code; it is never approved without the ' +
        'person confirming it, signed in, on the next pages.',
      responses: {},
      pages: { 200: 'The code form.' },
    }),
    async (c) => {
      issuerFor(config(c.env), c.req.url)
      const typed = c.req.query('user_code')
      return codePage(c, 200, undefined, typed?.slice(0, 20))
    },
  )
  .post(
    '/code',
    doc({
      operationId: 'submitDeviceCode',
      tag: 'auth',
      summary: 'The device page’s code form',
      description:
        'Form fields `request` (the page’s token) and `user_code` (any case, dash optional); ' +
        'same-origin only. Wrong codes are limited per browser and per address; while the ' +
        'address is locked, a person signed in here is limited per browser and per account ' +
        'instead.',
      responses: {},
      pages: {
        200: 'The login page, or the approval page when signed in.',
        400: 'The code form again: the code is wrong or expired.',
        ...PAGES,
        429:
          'The code form again while this browser is locked, or the address (for anyone not ' +
          'signed in here) or the account (for whoever is).',
      },
    }),
    async (c) => {
      const found = await deviceForm(c)
      if ('page' in found) return found.page
      const typed = text(found.body.user_code) ?? ''
      const db = primaryDatabase(c)
      // A digest of the cookie, so the counter's key (table login_failures) is no credential.
      const browser = (await sha256Hex(found.binding)).slice(0, 32)
      const code = normalizeUserCode(typed) ?? ''
      let d: DeviceRequest | undefined
      let user: User | null | undefined
      try {
        d = await lookUpCode(db, throttle.userCodeAttempt(c.get('requester'), browser), code)
      } catch (err) {
        if (!tooMany(err)) throw err
        // Locked: the address (maybe shared, and locked by someone else's guesses) or this
        // browser. A person signed in here is counted by browser and account instead
        // (docs/security.md, "Guarantees"); anyone else stays refused, so guessing stays bounded
        // (RFC 8628 §5.1).
        user = await signedInUser(c)
        if (!user)
          return codePage(c, 429, `${err.description} ${SIGN_IN_FIRST}`, typed.slice(0, 20))
        try {
          d = await lookUpCode(db, throttle.signedInCodeAttempt(browser, user.id), code)
        } catch (again) {
          if (tooMany(again)) return codePage(c, 429, again.description, typed.slice(0, 20))
          throw again
        }
      }
      if (!d)
        return codePage(
          c,
          400,
          'That code is not valid or has expired. Check the device and try again.',
          typed.slice(0, 20),
        )
      user ??= await signedInUser(c)
      return user ? consentPage(c, d, user, found.binding) : loginPage(c, d)
    },
  )
  .post(
    '/login',
    doc({
      operationId: 'submitDeviceLogin',
      tag: 'auth',
      summary: 'The device page’s login form',
      description:
        'Form fields `request`, and `username` and `password`, or `passkey` (a WebAuthn ' +
        'assertion); same-origin only. The same throttled, audited checks and browser sign-in ' +
        'as the authorization endpoint’s.',
      responses: {},
      pages: {
        200: 'The approval page.',
        400: 'The login page again, or the code form when the request is gone.',
        ...PAGES,
        429: 'The login page again while the account or address is locked.',
      },
    }),
    async (c) => {
      const found = await deviceForm(c)
      if ('page' in found) return found.page
      const pending = await sealedRequest(c, found.sealed)
      if ('page' in pending) return pending.page
      const { d } = pending
      const signIn = await formSignIn(c, found.body)
      if ('message' in signIn)
        return loginPage(c, d, signIn.status, signIn.message, signIn.username)
      return consentPage(c, d, signIn.user, signIn.binding)
    },
  )
  .post(
    '/decision',
    doc({
      operationId: 'submitDeviceDecision',
      tag: 'auth',
      summary: 'The device page’s approval form',
      description:
        'Form fields `request` and `decision` (`allow` or `deny`); same-origin only. The ' +
        'device’s next poll gets its tokens, or `access_denied`.',
      responses: {},
      pages: {
        200: 'Done: back to the device; or the login page when no longer signed in.',
        400: 'Neither Allow nor Deny was chosen, or the request is gone.',
        ...PAGES,
      },
    }),
    async (c) => {
      const found = await deviceForm(c)
      if ('page' in found) return found.page
      const pending = await sealedRequest(c, found.sealed)
      if ('page' in pending) return pending.page
      const { d } = pending
      const user = await signedInUser(c)
      if (!user) return loginPage(c, d)
      const decision = text(found.body.decision)
      if (decision !== 'allow' && decision !== 'deny')
        return errorPage(c, 400, 'Choose Allow or Deny.')
      const scope = grantable(d, user).join(' ')
      if (decision === 'allow' && !scope)
        return errorPage(c, 403, 'Your account holds none of the access this app asks for.')
      const decided = await decideDeviceRequest(database(c), {
        userCode: d.user_code,
        userId: user.id,
        signin: found.binding,
        approve: decision === 'allow',
        scope,
      })
      if (!decided) return errorPage(c, 400, expiredRequest)
      pageHeaders(c)
      return c.html(<DeviceDonePage approved={decision === 'allow'} clientName={d.client_name} />)
    },
  )
