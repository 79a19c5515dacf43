import { env } from 'cloudflare:test'
import * as oauth from 'oauth4webapi'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { bearer, call, makeUser } from '../helpers'
import { Browser, makeClient, requestToken } from '../oauth-client'

// A client nobody here wrote drives the flow: oauth4webapi, its requests routed into the Worker
// (with ALLOW_CLIENT_REGISTRATION on, as `npm run dev` runs it) instead of the network.
const issuer = new URL('https://todo.test')
const app = createApp()
const options = {
  [oauth.customFetch]: async (url: string, init: RequestInit) =>
    app.request(url, init, { ...env, ALLOW_CLIENT_REGISTRATION: 'true' }),
}
const REDIRECT = 'http://127.0.0.1/callback'

async function discover() {
  const res = await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oauth2' })
  return oauth.processDiscoveryResponse(issuer, res)
}

/** A person in a browser: follows the authorization URL through the pages, back to the app. */
async function authorizeInBrowser(url: URL, user: { username: string; password: string }) {
  const browser = new Browser()
  let res = await browser.get(url.pathname + url.search)
  res = await browser.post('/auth/authorize/login', {
    request: requestToken(await res.text()),
    username: user.username,
    password: user.password,
  })
  if (res.status === 200) {
    res = await browser.post('/auth/authorize/consent', {
      request: requestToken(await res.text()),
      decision: 'allow',
    })
  }
  expect(res.status).toBe(303)
  return new URL(res.headers.get('Location')!)
}

describe('oauth4webapi', () => {
  it('discovers the server: code flow, S256, iss parameter, registration', async () => {
    const as = await discover()
    expect(as).toMatchObject({
      authorization_endpoint: 'https://todo.test/auth/authorize',
      registration_endpoint: 'https://todo.test/auth/clients',
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    })
  })

  it('registers a public client at /auth/clients and gets tokens for alice with PKCE', async () => {
    const alice = await makeUser()
    const as = await discover()
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          redirect_uris: [REDIRECT],
          client_name: 'oauth4webapi app',
          token_endpoint_auth_method: 'none',
        },
        options,
      ),
    )
    const client: oauth.Client = { client_id: registered.client_id }
    const verifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const url = new URL(as.authorization_endpoint!)
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      // A native app's loopback listener: any port (RFC 8252 §7.3).
      redirect_uri: 'http://127.0.0.1:53117/callback',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      scope: 'read write',
      state,
    }).toString()

    const back = await authorizeInBrowser(url, alice)
    const params = oauth.validateAuthResponse(as, client, back, state)
    const tokenRes = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      'http://127.0.0.1:53117/callback',
      verifier,
      options,
    )
    const result = await oauth.processAuthorizationCodeResponse(as, client, tokenRes)
    expect(result).toMatchObject({ token_type: 'bearer', scope: 'read write' })
    const me = await call('/users/me', bearer(result.access_token))
    expect(await me.json()).toMatchObject({ username: alice.username })

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(
        as,
        client,
        oauth.None(),
        result.refresh_token!,
        options,
      ),
    )
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, oauth.None(), refreshed.refresh_token!, options),
    )
    expect((await call('/users/me', bearer(refreshed.access_token))).status).toBe(401)
  })

  it('refuses an authorization response without the right iss (RFC 9207)', async () => {
    const as = await discover()
    const client = { client_id: 'whatever' }
    const forged = new URL(
      'http://127.0.0.1/callback?code=x&state=s&iss=https%3A%2F%2Fevil.example',
    )
    expect(() => oauth.validateAuthResponse(as, client, forged, 's')).toThrow()
  })

  it('reads an error redirect with iss as an authorization error', async () => {
    const as = await discover()
    const { client } = await makeClient({ redirect_uris: [REDIRECT] })
    const url = new URL(as.authorization_endpoint!)
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      code_challenge_method: 'plain',
      code_challenge: 'x'.repeat(43),
      state: 's1',
    }).toString()
    const res = await call(url.pathname + url.search, { redirect: 'manual' })
    const back = new URL(res.headers.get('Location')!)
    let caught: unknown
    try {
      oauth.validateAuthResponse(as, { client_id: client.client_id }, back, 's1')
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(oauth.AuthorizationResponseError)
    expect((caught as oauth.AuthorizationResponseError).error).toBe('invalid_request')
  })

  it('drives a confidential client with client_secret_basic', async () => {
    const alice = await makeUser()
    const as = await discover()
    const { client: made, client_secret } = await makeClient({
      redirect_uris: ['https://app.example/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
    })
    const client: oauth.Client = { client_id: made.client_id }
    const verifier = oauth.generateRandomCodeVerifier()
    const url = new URL(as.authorization_endpoint!)
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: 'https://app.example/cb',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'conf',
    }).toString()
    const params = oauth.validateAuthResponse(
      as,
      client,
      await authorizeInBrowser(url, alice),
      'conf',
    )
    let sent = ''
    const tokenRes = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(client_secret!),
      params,
      'https://app.example/cb',
      verifier,
      {
        [oauth.customFetch]: (u: string, init: RequestInit) => {
          sent = new Headers(init.headers).get('authorization') ?? ''
          return options[oauth.customFetch](u, init)
        },
      },
    )
    // oauth4webapi form-urlencodes the id and secret before Basic (RFC 6749 §2.3.1).
    expect(sent).toMatch(/^Basic /)
    const result = await oauth.processAuthorizationCodeResponse(as, client, tokenRes)
    expect(result.access_token).toBeTruthy()
  })
})
