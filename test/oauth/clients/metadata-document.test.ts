import { describe, expect, it } from 'vitest'
import { fetches, publishedClient } from '../../client-metadata'
import { call, form, makeUser } from '../../helpers'
import {
  authorizeUrl,
  Browser,
  claims,
  exchange,
  getCode,
  REDIRECT,
  redirectParams,
  requestToken,
  tokens,
} from '../../oauth-client'

// A client nobody registered: its client_id is the https URL of its own metadata document
// (draft-ietf-oauth-client-id-metadata-document, MCP 2025-11-25), served by the fake worker that
// answers the Worker's outbound fetches. The attacks are in test/security/client-metadata.test.ts.

describe('Client ID Metadata Document clients', () => {
  it('says so in the authorization server metadata, with private_key_jwt and its algorithms', async () => {
    const meta: Record<string, unknown> = await (
      await call('/.well-known/oauth-authorization-server')
    ).json()
    expect(meta).toMatchObject({
      client_id_metadata_document_supported: true,
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256'],
    })
    expect(meta.token_endpoint_auth_methods_supported).toContain('private_key_jwt')
    expect(meta.token_endpoint_auth_methods_supported).toContain('none')
  })

  it('runs the code flow for a public one: unverified, its hosts shown, tokens, refresh, revoke', async () => {
    const alice = await makeUser()
    const url = await publishedClient({ client_name: 'Docs MCP Client' })
    const browser = new Browser()
    let res = await browser.get(await authorizeUrl(url))
    res = await browser.post('/auth/authorize/login', {
      request: requestToken(await res.text()),
      username: alice.username,
      password: alice.password,
    })
    const page = await res.text()
    // The consent page: the name it chose, where the code goes, who publishes the document.
    expect(page).toContain('Allow <strong>Docs MCP Client</strong>')
    expect(page).toContain('It sends you back to <strong>app.example</strong>.')
    expect(page).toContain(`It describes itself at <strong>${new URL(url).host}</strong>`)
    expect(page).toContain('Unverified app.')
    expect(page).not.toContain('Only for an app you just started yourself')
    res = await browser.post('/auth/authorize/consent', {
      request: requestToken(page),
      decision: 'allow',
    })
    const code = redirectParams(res).get('code')!

    const pair = await tokens(await exchange(code, { client_id: url }))
    expect(claims(pair.access_token)).toMatchObject({ client_id: url, sub: alice.id })
    const refreshed = await tokens(
      await call(
        '/auth/token',
        form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: url }),
      ),
    )
    expect(refreshed.scope).toBe('read write')
    const todos = await call('/api/todos', {
      headers: { Authorization: `Bearer ${refreshed.access_token}` },
    })
    expect(todos.status).toBe(200)
    // Revoked by the client it was issued to (RFC 7009): the whole session ends.
    const revoked = await call(
      '/auth/revoke',
      form({ token: refreshed.refresh_token, client_id: url }),
    )
    expect(revoked.status).toBe(200)
    const after = await call('/api/todos', {
      headers: { Authorization: `Bearer ${refreshed.access_token}` },
    })
    expect(after.status).toBe(401)
  })

  it('fetches a hot client’s document once while its Cache-Control holds', async () => {
    const alice = await makeUser()
    const url = await publishedClient()
    const browser = new Browser()
    await getCode(browser, url, alice)
    await getCode(browser, url, alice)
    await getCode(new Browser(), url, alice)
    expect(await fetches(url)).toBe(1)
  })

  it('fetches again when the document said no-store', async () => {
    const url = await publishedClient({}, { 'Cache-Control': 'no-store' })
    await new Browser().get(await authorizeUrl(url))
    await new Browser().get(await authorizeUrl(url))
    expect(await fetches(url)).toBe(2)
  })

  it('remembers consent per redirect host: another host of the document asks again', async () => {
    const alice = await makeUser()
    const other = 'https://other.example/cb'
    const url = await publishedClient({ redirect_uris: [REDIRECT, other] })
    const browser = new Browser()
    await getCode(browser, url, alice)
    // Same host: no page, the code at once.
    const again = await browser.get(await authorizeUrl(url))
    expect(redirectParams(again).get('code')).toBeTruthy()
    // Another host of the same client: the consent page, naming that host.
    const res = await browser.get(await authorizeUrl(url, { redirect_uri: other }))
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('It sends you back to <strong>other.example</strong>.')
  })

  it('warns when every redirect URI is on this device, and keys consent by loopback host', async () => {
    const alice = await makeUser()
    const loopback = 'http://127.0.0.1/callback'
    const url = await publishedClient({ redirect_uris: [loopback] })
    const browser = new Browser()
    const asked = { redirect_uri: 'http://127.0.0.1:49152/callback' }
    let res = await browser.get(await authorizeUrl(url, asked))
    res = await browser.post('/auth/authorize/login', {
      request: requestToken(await res.text()),
      username: alice.username,
      password: alice.password,
    })
    const page = await res.text()
    expect(page).toContain('Only for an app you just started yourself')
    expect(page).toContain('It is an app on this device.')
    res = await browser.post('/auth/authorize/consent', {
      request: requestToken(page),
      decision: 'allow',
    })
    redirectParams(res, asked.redirect_uri)
    // Any port of the same loopback host is the same app (RFC 8252 §7.3): consent holds.
    const next = { redirect_uri: 'http://127.0.0.1:50000/callback' }
    const code = redirectParams(await browser.get(await authorizeUrl(url, next)), next.redirect_uri)
    expect(code.get('code')).toBeTruthy()
  })
})
