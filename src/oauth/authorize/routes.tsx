import { type Context, Hono } from 'hono'
import { config } from '../../config'
import { ApiError } from '../../domain/errors'
import { type Client, consentedScopes, findClient, rememberConsent } from '../../db/clients'
import { issueCode } from '../../db/codes'
import { enabledProviders } from '../../db/identity-providers'
import { toUser } from '../../db/users'
import { checkPassword } from '../../auth/login'
import { narrowScopes, parseScopes, SCOPES } from '../../domain/scopes'
import { issuerFor } from '../../auth/tokens'
import { doc } from '../../http/openapi'
import { browserBinding, sentBinding, signedInUser, signInStatements } from '../browser/signin'
import { type Pending, seal, unseal } from '../browser/pending'
import { CHALLENGE } from './pkce'
import { requestedResource } from '../../domain/resources'
import { formActionSource, matchRedirectUri, withParams } from '../../domain/redirect-uris'
import { isUtf8Form } from '../../http/validate'
import { ConsentPage } from './consent-page'
import { ErrorPage } from '../browser/error-page'
import { LoginPage } from './login-page'
import type { User } from '../../domain/user'
import type { AppEnv } from '../../http/context'
import { database, primaryDatabase } from '../../http/database'

/**
 * The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1) and its two pages.
 *
 * - An unknown or disabled client, or a redirect URI it did not register, is an HTML error page
 *   (400), never a redirect (RFC 6749 §4.1.2.1). Every later error goes back to the app with
 *   `error`, `error_description`, `state` and `iss` (RFC 9207), as does the code.
 * - Redirects are 303 (RFC 9700 §4.12), so a form's POST is never replayed to the app.
 * - The pages run no script and may not be framed; their forms carry the pending request as a
 *   token bound to this browser (../oauth/pending.ts) and must come from our own origin.
 */

type RedirectError =
  | 'invalid_request'
  | 'unauthorized_client'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'server_error'

/** The pages' CSP: nothing but our stylesheet; forms (and their redirects) to us and the app. */
export function pageHeaders(c: Context<AppEnv>, redirectUri?: string) {
  const formAction = ["'self'", ...(redirectUri ? [formActionSource(redirectUri)] : [])]
  c.header(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'self'; img-src 'self'; form-action ${formAction.join(' ')}; ` +
      "frame-ancestors 'none'; base-uri 'none'",
  )
}

export function errorPage(c: Context<AppEnv>, status: 400 | 403, message: string) {
  pageHeaders(c)
  return c.html(<ErrorPage message={message} />, status)
}

/**
 * The `iss` of every redirect back to the app (RFC 9207): the configured ISSUER. Each handler
 * asks for it before anything else, so a server without one (a 500) signs no one in and
 * issues no code.
 */
export const issuer = (c: Context<AppEnv>) => issuerFor(config(c.env), c.req.url)

/** Back to the app with an error (RFC 6749 §4.1.2.1), `state` and `iss` (RFC 9207). */
const redirectError = (
  c: Context<AppEnv>,
  p: Pick<Pending, 'redirect_uri' | 'state'>,
  error: RedirectError,
  description: string,
) =>
  c.redirect(
    withParams(p.redirect_uri, {
      error,
      error_description: description,
      state: p.state,
      iss: issuer(c),
    }),
    303,
  )

/** What is granted: asked ∩ what the client may have ∩ what the user holds, canonical order. */
const grantedScopes = (p: Pending, client: Client, user: User): string[] => {
  const asked = p.scope === undefined ? SCOPES : parseScopes(p.scope)
  return narrowScopes(narrowScopes(asked, parseScopes(client.scope)), user.scopes)
}

/** The client of a pending request, if it still may take part. */
export async function liveClient(c: Context<AppEnv>, clientId: string): Promise<Client | null> {
  const client = await findClient(database(c), clientId)
  return client && !client.disabled ? client : null
}

/**
 * A signed-in user and a valid request: the code, straight away when the client is first-party
 * or the user already consented to these scopes, else the consent page. `binding` is this
 * browser's cookie value, which names its sign-in: the code is issued only while that sign-in
 * still holds (../db/codes.ts).
 */
export async function proceed(
  c: Context<AppEnv>,
  p: Pending,
  client: Client,
  user: User,
  binding: string,
  decided = false,
) {
  const scopes = grantedScopes(p, client, user)
  if (scopes.length === 0)
    return redirectError(c, p, 'invalid_scope', 'None of the requested scopes can be granted.')
  const scope = scopes.join(' ')
  if (!client.first_party && !decided) {
    const remembered = await consentedScopes(database(c), user.id, client.client_id)
    if (!scopes.every((s) => remembered.includes(s))) {
      pageHeaders(c, p.redirect_uri)
      return c.html(
        <ConsentPage
          clientName={client.client_name}
          clientId={client.client_id}
          username={user.username}
          scopes={scopes}
          request={await seal(c.env, p, binding)}
        />,
      )
    }
  }
  const code = await issueCode(database(c), {
    clientId: client.client_id,
    userId: user.id,
    signin: binding,
    redirectUri: p.redirect_uri,
    challenge: p.code_challenge,
    scope,
    resource: p.resource ?? null,
  })
  if (!code)
    return redirectError(
      c,
      p,
      'access_denied',
      'The sign-in no longer holds, or the account or the app is disabled.',
    )
  return c.redirect(withParams(p.redirect_uri, { code, state: p.state, iss: issuer(c) }), 303)
}

export async function loginPage(
  c: Context<AppEnv>,
  p: Pending,
  client: Client,
  status: 200 | 400 | 429 = 200,
  error?: string,
  username?: string,
) {
  pageHeaders(c, p.redirect_uri)
  const request = await seal(c.env, p, browserBinding(c))
  return c.html(
    <LoginPage
      clientName={client.client_name}
      request={request}
      error={error}
      username={username}
      providers={await enabledProviders(database(c))}
    />,
    status,
  )
}

/** A query parameter given at most once; `false` when it was repeated (RFC 6749 §3.1). */
const single = (c: Context<AppEnv>, name: string): string | undefined | false => {
  const all = c.req.queries(name) ?? []
  if (all.length > 1) return false
  return all[0] === '' ? undefined : all[0]
}

/** Forms must come from our own origin: Origin, or Sec-Fetch-Site where Origin is withheld. */
export function sameOrigin(c: Context<AppEnv>): boolean {
  const origin = c.req.header('Origin')
  if (origin && origin !== 'null') return origin === new URL(c.req.url).origin
  return c.req.header('Sec-Fetch-Site') === 'same-origin'
}

export const STALE =
  'This form has expired or was not issued to this browser. Go back to the app and sign in again.'

/** The form's fields, its pending request and its client, or the error page to answer with. */
async function formRequest(c: Context<AppEnv>) {
  issuer(c)
  if (!sameOrigin(c)) return { page: errorPage(c, 403, 'This form must be sent from this site.') }
  // Our pages send urlencoded forms; anything else, or a body that is not valid UTF-8 (which
  // would be decoded lossily), is not what they send and is never compared.
  if (!(await isUtf8Form(c))) return { page: errorPage(c, 400, 'This form could not be read.') }
  const body = await c.req.parseBody()
  const token = typeof body.request === 'string' ? body.request : undefined
  const p = await unseal(c.env, token, sentBinding(c))
  if (!p) return { page: errorPage(c, 403, STALE) }
  const client = await liveClient(c, p.client_id)
  if (!client) return { page: errorPage(c, 400, 'This app is not (or no longer) registered.') }
  return { p, client, body }
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined)

/** RFC 8707 `resource`, canonical, or the `invalid_target` to redirect with. */
function resourceParam(c: Context<AppEnv>): string | undefined | ApiError {
  try {
    return requestedResource(issuer(c), c.req.queries('resource'))
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
}

/** Every way back to the app, for GET /openapi.json. */
const BACK = {
  description:
    'Back to the app: `code`, `state` and `iss` (RFC 9207), or `error`, `error_description`, ' +
    '`state` and `iss`.',
  headers: { Location: 'The redirect URI with those parameters.' },
}

export const authorizeRoutes = new Hono<AppEnv>()
  .get(
    '/authorize',
    doc({
      operationId: 'authorize',
      tag: 'auth',
      summary: 'Authorization endpoint (code flow with PKCE S256)',
      description:
        'Query: `response_type=code`, `client_id`, `redirect_uri` (optional for a client with ' +
        'one), `code_challenge`, `code_challenge_method=S256`, `state`, `scope`, `prompt=login`. ' +
        'Answers HTML: the login or consent page, or a 303 back to the app with `code`, `state` ' +
        'and `iss` (or `error`, `error_description`, `state`, `iss`). An unknown client or ' +
        'unregistered redirect URI is a 400 HTML page, never a redirect.',
      responses: { 303: BACK },
      pages: {
        200: 'The login page, or the consent page when signed in.',
        400: 'An unknown client or an unregistered redirect URI: no redirect (RFC 6749 §4.1.2.1).',
      },
    }),
    async (c) => {
      issuer(c)
      const clientId = single(c, 'client_id')
      const askedRedirect = single(c, 'redirect_uri')
      if (clientId === false || askedRedirect === false)
        return errorPage(c, 400, 'client_id and redirect_uri may each be given only once.')
      if (clientId === undefined) return errorPage(c, 400, 'The request names no app (client_id).')
      const client = clientId.length <= 200 ? await liveClient(c, clientId) : null
      if (!client) return errorPage(c, 400, 'This app is not registered (unknown client_id).')
      const redirectUri = matchRedirectUri(client.redirect_uris, askedRedirect, issuer(c))
      if (!redirectUri)
        return errorPage(c, 400, 'This redirect URI is not registered for this app.')

      const state = single(c, 'state')
      const back = { redirect_uri: redirectUri, state: state || undefined }
      const params = ['response_type', 'code_challenge', 'code_challenge_method', 'scope', 'prompt']
      const [responseType, challenge, method, scope, prompt] = params.map((n) => single(c, n))
      if (state === false || [responseType, challenge, method, scope, prompt].includes(false))
        return redirectError(c, back, 'invalid_request', 'A parameter was given more than once.')
      if (responseType !== 'code')
        return responseType === undefined
          ? redirectError(c, back, 'invalid_request', 'response_type is required.')
          : redirectError(c, back, 'unsupported_response_type', 'Only response_type=code.')
      if (!client.grant_types.includes('authorization_code'))
        return redirectError(c, back, 'unauthorized_client', 'This app may not use the code flow.')
      if (challenge === undefined || method === undefined)
        return redirectError(
          c,
          back,
          'invalid_request',
          'PKCE is required: code_challenge and code_challenge_method=S256.',
        )
      if (method !== 'S256')
        return redirectError(c, back, 'invalid_request', 'Only code_challenge_method=S256.')
      if (!CHALLENGE.test(challenge as string))
        return redirectError(c, back, 'invalid_request', 'code_challenge is malformed.')
      const asked = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : undefined
      if (asked?.some((s) => !(SCOPES as readonly string[]).includes(s)))
        return redirectError(c, back, 'invalid_scope', 'Known scopes are "read" and "write".')
      const resource = resourceParam(c)
      if (resource instanceof ApiError)
        return redirectError(c, back, 'invalid_target', resource.description)

      const p: Pending = {
        client_id: client.client_id,
        redirect_uri: redirectUri,
        ...(back.state !== undefined && { state: back.state }),
        code_challenge: challenge as string,
        ...(asked && { scope: narrowScopes(asked, SCOPES).join(' ') }),
        ...(resource && { resource }),
      }
      const forceLogin = typeof prompt === 'string' && prompt.split(' ').includes('login')
      const user = forceLogin ? null : await signedInUser(c)
      if (!user) return loginPage(c, p, client)
      return proceed(c, p, client, user, browserBinding(c))
    },
  )
  .post(
    '/authorize/login',
    doc({
      operationId: 'submitLogin',
      tag: 'auth',
      summary: 'The login page’s form',
      description:
        'Form fields `request` (the page’s token), `username`, `password`; same-origin only. ' +
        'Through the same throttled, audited password check as every other path; signs the ' +
        'browser in (cookie) and continues the authorization request.',
      responses: { 303: BACK },
      pages: {
        200: 'The consent page.',
        400: 'The login page again (incorrect or missing credentials), or the app is gone.',
        403: 'A missing, forged, expired or cross-site form.',
        429: 'The login page again while the account or address is locked.',
      },
    }),
    async (c) => {
      const found = await formRequest(c)
      if ('page' in found) return found.page
      const { p, client, body } = found
      const username = text(body.username) ?? ''
      const password = text(body.password) ?? ''
      if (!username || !password || username.length > 1024 || password.length > 1024)
        return loginPage(c, p, client, 400, 'Enter your username and password.', username)
      // The sign-in is written in the password check's own success batch, only while the user is
      // enabled and still holds the hash just verified (docs/security.md, "Sessions").
      const db = primaryDatabase(c)
      const signin = await signInStatements(c, db)
      let row: Awaited<ReturnType<typeof checkPassword>>
      try {
        const credentials = { username, password }
        row = await checkPassword(db, config(c.env), c.get('requester'), credentials, signin.grant)
      } catch (err) {
        if (err instanceof ApiError && err.code === 'too_many_attempts')
          return loginPage(c, p, client, 429, err.description, username)
        throw err
      }
      if (!row) return loginPage(c, p, client, 400, 'Incorrect username or password.', username)
      signin.commit()
      return proceed(c, p, client, toUser(row), signin.token)
    },
  )
  .post(
    '/authorize/consent',
    doc({
      operationId: 'submitConsent',
      tag: 'auth',
      summary: 'The consent page’s form',
      description:
        'Form fields `request` (the page’s token) and `decision` (`allow` or `deny`); ' +
        'same-origin' +
        ' only. `deny` goes back to the app with `error=access_denied`; `allow` remembers the ' +
        'consent for these scopes and sends the code.',
      responses: { 303: BACK },
      pages: {
        200: 'The login page, when the browser is no longer signed in.',
        400: 'Neither Allow nor Deny was chosen, or the app is gone.',
        403: 'A missing, forged, expired or cross-site form.',
      },
    }),
    async (c) => {
      const found = await formRequest(c)
      if ('page' in found) return found.page
      const { p, client, body } = found
      const user = await signedInUser(c)
      if (!user) return loginPage(c, p, client)
      const decision = text(body.decision)
      if (decision === 'deny')
        return redirectError(c, p, 'access_denied', 'The user denied the request.')
      if (decision !== 'allow') return errorPage(c, 400, 'Choose Allow or Deny.')
      const scope = grantedScopes(p, client, user).join(' ')
      if (scope) await rememberConsent(database(c), user.id, client.client_id, scope.split(' '))
      return proceed(c, p, client, user, sentBinding(c)!, true)
    },
  )
