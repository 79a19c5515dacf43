import { env } from 'cloudflare:test'
import * as oauth from 'oauth4webapi'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../../src/app'
import { keyPair, publishedClient, serve } from '../../client-metadata'
import { makeUser } from '../../helpers'
import { Browser, requestToken } from '../../oauth-client'

// oauth4webapi, a client nobody here wrote, as a confidential Client ID Metadata Document client:
// its document publishes a public key, and it authenticates with private_key_jwt (RFC 7523 §2.2).
// Its requests are routed into the Worker; the document is served by the fake worker.
const issuer = new URL('https://todo.test')
const app = createApp()
const options = {
  [oauth.customFetch]: async (url: string, init: RequestInit) => app.request(url, init, env),
}
const REDIRECT = 'https://mcp-client.example/callback'

async function discover() {
  const res = await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oauth2' })
  return oauth.processDiscoveryResponse(issuer, res)
}

/** Through the login and consent pages as alice, back to the app with the code. */
async function codeFor(as: oauth.AuthorizationServer, client: oauth.Client, verifier: string) {
  const alice = await makeUser()
  const state = oauth.generateRandomState()
  const url = new URL(as.authorization_endpoint!)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    scope: 'read',
    state,
  }).toString()
  const browser = new Browser()
  let res = await browser.get(url.pathname + url.search)
  res = await browser.post('/auth/authorize/login', {
    request: requestToken(await res.text()),
    username: alice.username,
    password: alice.password,
  })
  const page = await res.text()
  expect(page).toContain('It sends you back to <strong>mcp-client.example</strong>.')
  res = await browser.post('/auth/authorize/consent', {
    request: requestToken(page),
    decision: 'allow',
  })
  const back = new URL(res.headers.get('Location')!)
  return oauth.validateAuthResponse(as, client, back, state)
}

describe('private_key_jwt with oauth4webapi', () => {
  for (const [alg, where] of [
    ['ES256', 'jwks'],
    ['RS256', 'jwks_uri'],
  ] as const) {
    it(`gets, refreshes and revokes tokens signing with ${alg} (keys in ${where})`, async () => {
      const { privateKey, publicJwk } = await keyPair(alg)
      const jwksUri = `https://keys-${alg.toLowerCase()}.example/jwks.json`
      if (where === 'jwks_uri') await serve(jwksUri, { body: { keys: [publicJwk] } })
      const url = await publishedClient({
        client_name: `Signed ${alg} client`,
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'private_key_jwt',
        ...(where === 'jwks' ? { jwks: { keys: [publicJwk] } } : { jwks_uri: jwksUri }),
      })
      const as = await discover()
      expect(as.token_endpoint_auth_methods_supported).toContain('private_key_jwt')
      const client: oauth.Client = { client_id: url }
      const auth = oauth.PrivateKeyJwt({ key: privateKey, kid: 'k1' })
      const verifier = oauth.generateRandomCodeVerifier()
      const params = await codeFor(as, client, verifier)

      const tokens = await oauth.processAuthorizationCodeResponse(
        as,
        client,
        await oauth.authorizationCodeGrantRequest(
          as,
          client,
          auth,
          params,
          REDIRECT,
          verifier,
          options,
        ),
      )
      expect(tokens.scope).toBe('read')
      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, options),
      )
      expect(refreshed.access_token).not.toBe(tokens.access_token)
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client, auth, refreshed.refresh_token!, options),
      )
      // The session is over: its refresh token no longer works.
      const after = await oauth.refreshTokenGrantRequest(
        as,
        client,
        auth,
        refreshed.refresh_token!,
        options,
      )
      await expect(oauth.processRefreshTokenResponse(as, client, after)).rejects.toMatchObject({
        error: 'invalid_grant',
      })
    })
  }

  it('refuses the same client without its assertion (client_id alone)', async () => {
    const { privateKey, publicJwk } = await keyPair()
    const url = await publishedClient({
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [publicJwk] },
    })
    const as = await discover()
    const client: oauth.Client = { client_id: url }
    const verifier = oauth.generateRandomCodeVerifier()
    const params = await codeFor(as, client, verifier)
    const res = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      REDIRECT,
      verifier,
      options,
    )
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringContaining('must authenticate with private_key_jwt'),
    })
    // The code was not spent: with the assertion it still works.
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.PrivateKeyJwt({ key: privateKey, kid: 'k1' }),
        params,
        REDIRECT,
        verifier,
        options,
      ),
    )
    expect(tokens.access_token).toBeTruthy()
  })
})
