import type { Context } from 'hono'
import { type Client, consentedScopes, findClient } from '../../db/clients'
import { issueCode } from '../../db/codes'
import { enabledProviders } from '../../db/identity-providers'
import { consentHost, isMetadataClientId, onlyLoopback } from '../../domain/client-metadata'
import { redirectTarget, withParams } from '../../domain/redirect-uris'
import { narrowScopes, parseScopes, SCOPES } from '../../domain/scopes'
import type { User } from '../../domain/user'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'
import type { AppOrigin } from '../browser/app-origin'
import { errorPage, issuer, pageHeaders } from '../browser/page'
import { signinOptions } from '../browser/passkey'
import { type Pending, PROMPT_VALUES, seal } from '../browser/pending'
import { browserBinding, signedInUser } from '../browser/signin'
import { ConsentPage } from './consent-page'
import { LoginPage } from './login-page'

/**
 * The code flow between the authorization request and the code, shared by the login and consent
 * forms (./routes.tsx) and by sign-in through an upstream provider (src/federation/), which
 * finishes an authorization request the same way.
 */

export type RedirectError =
  | 'invalid_request'
  | 'unauthorized_client'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'server_error'
  // OpenID Connect Core §3.1.2.6, for prompt=none. interaction_required is never sent: signing
  // in and consenting are the only interactions there are, and each has its own error.
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'

/** Back to the app with an error (RFC 6749 §4.1.2.1), `state` and `iss` (RFC 9207). */
export const redirectError = (
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

/** An administrator registered or vetted the client (migration 0007); first-party ones are. */
const vetted = (client: Client) => client.first_party || client.vetted

/**
 * An error found before the person approved the app. Sent back to a vetted client; for any other
 * it would make this endpoint an open redirector for whoever can register a client (RFC 9700
 * §4.11.2): it goes back only when `approved` (the user signed in in this browser has consented
 * to this client before, so its redirect URI is one they chose to trust), else it is the HTML
 * error page. prompt=none's errors are no exception (docs/security.md).
 */
export async function refuse(
  c: Context<AppEnv>,
  client: Client,
  p: Pick<Pending, 'redirect_uri' | 'state'>,
  error: RedirectError,
  description: string,
  approved?: boolean,
) {
  if (vetted(client) || (approved ?? (await approvedInThisBrowser(c, client, p.redirect_uri))))
    return redirectError(c, p, error, description)
  return errorPage(c, 400, `${description} (${error})`)
}

const approvedInThisBrowser = async (c: Context<AppEnv>, client: Client, redirectUri: string) => {
  const user = await signedInUser(c)
  if (user === null) return false
  const host = consentHost(client.client_id, redirectUri)
  return (await consentedScopes(database(c), user.id, client.client_id, host)).length > 0
}

/** What the pages show besides the name, which the client chose (RFC 7591 §5). */
const originOf = (client: Client, redirectUri: string): AppOrigin | undefined =>
  client.first_party
    ? undefined
    : {
        target: redirectTarget(redirectUri),
        unverified: !vetted(client),
        ...(isMetadataClientId(client.client_id) && {
          document: {
            host: new URL(client.client_id).host,
            onlyLoopback: onlyLoopback(client.redirect_uris),
          },
        }),
      }

/**
 * OpenID Connect Core §3.1.2.1 `prompt`: space-separated values of PROMPT_VALUES, `none` only
 * alone. Its values in that order, or null when it is not one of those.
 */
export function parsePrompt(raw: string | undefined): string[] | null {
  const asked = raw?.split(' ').filter(Boolean) ?? []
  if (asked.some((v) => !(PROMPT_VALUES as readonly string[]).includes(v))) return null
  if (asked.includes('none') && asked.length > 1) return null
  return PROMPT_VALUES.filter((v) => asked.includes(v))
}

export const prompted = (p: Pending, value: (typeof PROMPT_VALUES)[number]) =>
  p.prompt?.split(' ').includes(value) ?? false

/** What is granted: asked ∩ what the client may have ∩ what the user holds, canonical order. */
export const grantedScopes = (p: Pending, client: Client, user: User): string[] => {
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
 * or the user already consented to these scopes, else the consent page (always with
 * prompt=consent; never with prompt=none, which answers `consent_required`). `binding` is this
 * browser's cookie value, which names its sign-in: the code is issued only while that sign-in
 * still holds (../db/codes.ts). `decided`: the user just pressed Allow.
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
  const remembered =
    client.first_party || decided
      ? null
      : await consentedScopes(
          database(c),
          user.id,
          client.client_id,
          consentHost(client.client_id, p.redirect_uri),
        )
  const approved = decided || (remembered !== null && remembered.length > 0)
  if (scopes.length === 0)
    return refuse(
      c,
      client,
      p,
      'invalid_scope',
      'None of the requested scopes can be granted.',
      approved,
    )
  const scope = scopes.join(' ')
  const consented = remembered === null || scopes.every((s) => remembered.includes(s))
  if (!decided && (prompted(p, 'consent') || !consented)) {
    if (prompted(p, 'none'))
      return refuse(
        c,
        client,
        p,
        'consent_required',
        'The user has not allowed this app these scopes.',
        approved,
      )
    pageHeaders(c, p.redirect_uri)
    return c.html(
      <ConsentPage
        clientName={client.client_name}
        origin={originOf(client, p.redirect_uri)}
        clientId={client.client_id}
        username={user.username}
        role={user.role}
        scopes={scopes}
        request={await seal(c.env, p, binding)}
      />,
    )
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
    return refuse(
      c,
      client,
      p,
      'access_denied',
      'The sign-in no longer holds, or the account or the app is disabled.',
      approved,
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
  const binding = browserBinding(c)
  const passkey = await signinOptions(c, binding)
  pageHeaders(c, p.redirect_uri, passkey !== undefined)
  const request = await seal(c.env, p, binding)
  return c.html(
    <LoginPage
      passkey={passkey}
      clientName={client.client_name}
      origin={originOf(client, p.redirect_uri)}
      request={request}
      error={error}
      username={username}
      providers={await enabledProviders(database(c))}
    />,
    status,
  )
}
