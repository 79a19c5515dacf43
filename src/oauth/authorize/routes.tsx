import { type Context, Hono } from 'hono'
import { rememberConsent } from '../../db/clients'
import { consentHost } from '../../domain/client-metadata'
import { ApiError } from '../../domain/errors'
import { matchRedirectUri } from '../../domain/redirect-uris'
import { requestedResource } from '../../domain/resources'
import { narrowScopes, SCOPES } from '../../domain/scopes'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'
import { doc } from '../../http/openapi'
import { isUtf8Form } from '../../http/validate'
import { nowSeconds } from '../../lib/time'
import { errorPage, issuer, STALE, sameOrigin } from '../browser/page'
import { formSignIn } from '../browser/passkey'
import { type Pending, unseal } from '../browser/pending'
import { browserBinding, browserSignIn, sentBinding, signedInUser } from '../browser/signin'
import { authorizationClient } from '../clients/authorization-client'
import {
  grantedScopes,
  liveClient,
  loginPage,
  parsePrompt,
  proceed,
  type RedirectError,
  redirectError,
  refuse,
} from './flow'
import { CHALLENGE } from './pkce'

/**
 * The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1) and its two pages.
 *
 * - An unknown or disabled client, or a redirect URI it did not register, is an HTML error page
 *   (400), never a redirect (RFC 6749 §4.1.2.1); so is a `response_mode` other than `query`,
 *   the one we can answer in. Every later error goes back to the app with `error`,
 *   `error_description`, `state` and `iss` (RFC 9207), as does the code — except, for a client
 *   no administrator vetted, an error before the person approved it (`refuse`, RFC 9700
 *   §4.11.2).
 * - `prompt` (`none`, `login`, `consent`) and `max_age` as OpenID Connect Core §3.1.2.1 defines
 *   them; `prompt=none` answers `login_required` or `consent_required` (§3.1.2.6).
 * - Redirects are 303 (RFC 9700 §4.12), so a form's POST is never replayed to the app.
 * - The pages run no script and may not be framed; their forms carry the pending request as a
 *   token bound to this browser (../oauth/pending.ts) and must come from our own origin.
 */

/** A query parameter given at most once; `false` when it was repeated (RFC 6749 §3.1). */
const single = (c: Context<AppEnv>, name: string): string | undefined | false => {
  const all = c.req.queries(name) ?? []
  if (all.length > 1) return false
  return all[0] === '' ? undefined : all[0]
}

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
        'one), `code_challenge`, `code_challenge_method=S256`, `state`, `scope`, `prompt` ' +
        '(`none`, `login`, `consent`; OpenID Connect Core §3.1.2.1), `max_age` (seconds), ' +
        '`response_mode=query`. Answers HTML: the login or consent page, or a 303 back to the ' +
        'app with `code`, `state` and `iss` (or `error`, `error_description`, `state`, `iss`). ' +
        'An unknown client, an unregistered redirect URI or another `response_mode` is a 400 ' +
        'HTML page, never a redirect; so is any error of a client no administrator vetted, ' +
        'until the signed-in user has consented to it (RFC 9700 §4.11.2).',
      responses: { 303: BACK },
      pages: {
        200: 'The login page, or the consent page when signed in.',
        400:
          'An unknown client, an unregistered redirect URI, another response_mode, or an ' +
          'unvetted client’s error before consent: no redirect (RFC 6749 §4.1.2.1).',
      },
    }),
    async (c) => {
      issuer(c)
      const clientId = single(c, 'client_id')
      const askedRedirect = single(c, 'redirect_uri')
      if (clientId === false || askedRedirect === false)
        return errorPage(c, 400, 'client_id and redirect_uri may each be given only once.')
      if (clientId === undefined) return errorPage(c, 400, 'The request names no app (client_id).')
      const document = await authorizationClient(c, clientId)
      if (typeof document === 'string') return errorPage(c, 400, document)
      const client = document ?? (clientId.length <= 200 ? await liveClient(c, clientId) : null)
      if (!client) return errorPage(c, 400, 'This app is not registered (unknown client_id).')
      const redirectUri = matchRedirectUri(client.redirect_uris, askedRedirect, issuer(c))
      if (!redirectUri)
        return errorPage(c, 400, 'This redirect URI is not registered for this app.')

      // Only the query can carry our answer (OAuth 2.0 Multiple Response Type Encoding Practices
      // §2.1): a client that asked for another mode would not read it, so nothing goes back.
      const mode = single(c, 'response_mode')
      if (mode !== undefined && mode !== 'query')
        return errorPage(c, 400, 'Only response_mode=query is supported, once (invalid_request).')

      const state = single(c, 'state')
      const back = { redirect_uri: redirectUri, state: state || undefined }
      const fail = (error: RedirectError, description: string) =>
        refuse(c, client, back, error, description)
      const params = [
        'response_type',
        'code_challenge',
        'code_challenge_method',
        'scope',
        'prompt',
        'max_age',
      ]
      const [responseType, challenge, method, scope, prompt, maxAge] = params.map((n) =>
        single(c, n),
      )
      if (
        state === false ||
        [responseType, challenge, method, scope, prompt, maxAge].includes(false)
      )
        return fail('invalid_request', 'A parameter was given more than once.')
      if (responseType !== 'code')
        return responseType === undefined
          ? fail('invalid_request', 'response_type is required.')
          : fail('unsupported_response_type', 'Only response_type=code.')
      if (!client.grant_types.includes('authorization_code'))
        return fail('unauthorized_client', 'This app may not use the code flow.')
      if (challenge === undefined || method === undefined)
        return fail(
          'invalid_request',
          'PKCE is required: code_challenge and code_challenge_method=S256.',
        )
      if (method !== 'S256') return fail('invalid_request', 'Only code_challenge_method=S256.')
      if (!CHALLENGE.test(challenge as string))
        return fail('invalid_request', 'code_challenge is malformed.')
      const asked = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : undefined
      if (asked?.some((s) => !(SCOPES as readonly string[]).includes(s)))
        return fail('invalid_scope', 'Known scopes are "read" and "write".')
      const prompts = parsePrompt(prompt as string | undefined)
      if (!prompts) return fail('invalid_request', 'prompt takes none (alone), login and consent.')
      // OpenID Connect Core §3.1.2.1: max_age is a number of seconds, 0 or more.
      if (maxAge !== undefined && !/^\d{1,9}$/.test(maxAge as string))
        return fail('invalid_request', 'max_age must be a whole number of seconds.')
      const resource = resourceParam(c)
      if (resource instanceof ApiError) return fail('invalid_target', resource.description)

      const p: Pending = {
        client_id: client.client_id,
        redirect_uri: redirectUri,
        ...(back.state !== undefined && { state: back.state }),
        code_challenge: challenge as string,
        ...(asked && { scope: narrowScopes(asked, SCOPES).join(' ') }),
        ...(prompts.length > 0 && { prompt: prompts.join(' ') }),
        ...(resource && { resource }),
      }
      // OpenID Connect Core §3.1.2.1: prompt=login, and max_age=0 like it, ask for the password
      // whatever the sign-in; any other max_age when the sign-in is older than that.
      const oldest = maxAge === undefined ? undefined : Number(maxAge)
      const signIn = prompts.includes('login') || oldest === 0 ? null : await browserSignIn(c)
      const fresh =
        signIn !== null && (oldest === undefined || nowSeconds() - signIn.since <= oldest)
      if (!signIn || !fresh) {
        if (prompts.includes('none'))
          return fail('login_required', 'The user must sign in (again), which prompt=none forbids.')
        return loginPage(c, p, client)
      }
      return proceed(c, p, client, signIn.user, browserBinding(c))
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
      const signIn = await formSignIn(c, body)
      if ('message' in signIn)
        return loginPage(c, p, client, signIn.status, signIn.message, signIn.username)
      return proceed(c, p, client, signIn.user, signIn.binding)
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
      if (scope) {
        const host = consentHost(client.client_id, p.redirect_uri)
        await rememberConsent(database(c), user.id, client.client_id, scope.split(' '), host)
      }
      return proceed(c, p, client, user, sentBinding(c)!, true)
    },
  )
