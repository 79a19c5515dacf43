import * as oauth from 'oauth4webapi'
import { type Config, LOOPBACK } from '../config'

/**
 * The OpenID Connect relying party side (docs/federation.md), entirely through oauth4webapi:
 * discovery,
 * the authorization response (state, RFC 9207 `iss`), the code exchange and the ID token (OIDC
 * Core §3.1.3.7: signature against the provider's JWKS, iss, aud, azp, exp, iat, nonce, alg).
 * No check is written here by hand. The only URLs ever fetched are a configured issuer's
 * discovery document and the endpoints it names; none comes from a request.
 */

/** Why an issuer cannot be used, or null: https; loopback http only with ALLOW_INSECURE_IDP. */
export function issuerProblem(cfg: Config, issuer: string): string | null {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    return 'The issuer must be an absolute URL.'
  }
  if (url.search || url.hash || url.username || url.password)
    return 'The issuer must have no query, fragment or credentials (OIDC Discovery §2).'
  if (url.protocol === 'https:') return null
  if (url.protocol === 'http:' && LOOPBACK.test(url.hostname) && cfg.allowInsecureIdp) return null
  return 'The issuer must be https (loopback http only when ALLOW_INSECURE_IDP is "true").'
}

const options = (cfg: Config, issuer: string) =>
  new URL(issuer).protocol === 'http:' && cfg.allowInsecureIdp
    ? { [oauth.allowInsecureRequests]: true }
    : {}

const DISCOVERY_TTL_MS = 3600_000
const discovered = new Map<string, { as: Promise<oauth.AuthorizationServer>; until: number }>()

/** The provider's metadata from {issuer}/.well-known/openid-configuration, cached an hour. */
export function discover(cfg: Config, issuer: string): Promise<oauth.AuthorizationServer> {
  const problem = issuerProblem(cfg, issuer)
  if (problem) return Promise.reject(new Error(problem))
  const hit = discovered.get(issuer)
  if (hit && hit.until > Date.now()) return hit.as
  const url = new URL(issuer)
  const as = oauth
    .discoveryRequest(url, { algorithm: 'oidc', ...options(cfg, issuer) })
    .then((response) => oauth.processDiscoveryResponse(url, response))
  // A failure is not cached: the next sign-in tries again.
  as.catch(() => discovered.delete(issuer))
  discovered.set(issuer, { as, until: Date.now() + DISCOVERY_TTL_MS })
  return as
}

/** A sign-in's single-use secrets: made before the request row that keeps them is written. */
export type SignInSecrets = { state: string; nonce: string; verifier: string }

export const newSignIn = (): SignInSecrets => ({
  verifier: oauth.generateRandomCodeVerifier(),
  state: oauth.generateRandomState(),
  nonce: oauth.generateRandomNonce(),
})

/** The authorization request to the provider: code flow, PKCE S256, state and nonce. */
export async function authorizationUrl(
  as: oauth.AuthorizationServer,
  p: { clientId: string; redirectUri: string; scopes: string },
  { state, nonce, verifier }: SignInSecrets,
): Promise<string> {
  if (!as.authorization_endpoint) throw new Error('the provider names no authorization endpoint')
  const url = new URL(as.authorization_endpoint)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('client_id', p.clientId)
  url.searchParams.set('redirect_uri', p.redirectUri)
  url.searchParams.set('scope', p.scopes)
  url.searchParams.set('state', state)
  url.searchParams.set('nonce', nonce)
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier))
  url.searchParams.set('code_challenge_method', 'S256')
  return url.href
}

export type Claims = {
  sub: string
  email?: string
  emailVerified: boolean
  preferredUsername?: string
  name?: string
}

/**
 * Validates the provider's answer at the callback and exchanges the code; the ID token's claims.
 * Throws on any failure (an oauth4webapi error, whose message is safe for the audit trail).
 */
export async function completeSignIn(
  cfg: Config,
  as: oauth.AuthorizationServer,
  p: {
    clientId: string
    clientSecret: string
    redirectUri: string
    callbackUrl: URL
    state: string
    nonce: string
    verifier: string
  },
): Promise<Claims> {
  const client: oauth.Client = { client_id: p.clientId }
  const opts = options(cfg, as.issuer)
  const params = oauth.validateAuthResponse(as, client, p.callbackUrl, p.state)
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.ClientSecretBasic(p.clientSecret),
    params,
    p.redirectUri,
    p.verifier,
    opts,
  )
  const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
    expectedNonce: p.nonce,
    requireIdToken: true,
  })
  // oauth4webapi trusts a token endpoint's ID token over TLS (OIDC Core §3.1.3.7 item 6); we
  // verify its signature against the provider's JWKS all the same.
  await oauth.validateApplicationLevelSignature(as, response, opts)
  const claims = oauth.getValidatedIdTokenClaims(result)
  if (!claims) throw new Error('the provider sent no ID token')
  const str = (v: unknown) => (typeof v === 'string' && v.length <= 256 ? v : undefined)
  return {
    sub: claims.sub,
    email: str(claims.email),
    emailVerified: claims.email_verified === true,
    preferredUsername: str(claims.preferred_username),
    name: str(claims.name),
  }
}
