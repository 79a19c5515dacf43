import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { clientIdUrl, fetches, metadataDocument, publishedClient, serve } from '../client-metadata'
import { call, form, makeUser, quietConsoleError } from '../helpers'
import { authorizeUrl, Browser, exchange, getCode, REDIRECT } from '../oauth-client'

// Attacks on Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, MCP
// 2025-11-25): each is refused with the HTML page at the authorization endpoint (never a
// redirect) or invalid_client at the token endpoint, and each case fails without its check.

/** The authorization endpoint's answer to a request naming `clientId`: a 400 page, no redirect. */
async function refusedPage(clientId: string, params: Record<string, string> = {}) {
  const res = await call(await authorizeUrl(clientId, params), { redirect: 'manual' })
  expect(res.status).toBe(400)
  expect(res.headers.get('Location')).toBeNull()
  expect(res.headers.get('Content-Type')).toMatch(/^text\/html/)
  return res.text()
}

describe('documents that are refused at the authorization endpoint', () => {
  it('refuses a document whose client_id is another URL', async () => {
    const url = clientIdUrl()
    await serve(url, { body: metadataDocument('https://famous-app.example/client.json') })
    expect(await refusedPage(url)).toContain('Its client_id is not the URL it was fetched from.')
  })

  it('refuses a document holding a client_secret', async () => {
    const url = clientIdUrl()
    await serve(url, { body: metadataDocument(url, { client_secret: 'shh' }) })
    expect(await refusedPage(url)).toContain('It must not contain a client_secret')
  })

  for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt']) {
    it(`refuses token_endpoint_auth_method ${method}`, async () => {
      const url = clientIdUrl()
      await serve(url, { body: metadataDocument(url, { token_endpoint_auth_method: method }) })
      expect(await refusedPage(url)).toContain('Its token_endpoint_auth_method must be')
    })
  }

  it('refuses private or symmetric key material in jwks', async () => {
    const url = clientIdUrl()
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
    ])
    const priv = await crypto.subtle.exportKey('jwk', (pair as CryptoKeyPair).privateKey)
    await serve(url, {
      body: metadataDocument(url, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [priv] },
      }),
    })
    expect(await refusedPage(url)).toContain('public keys only')
  })

  it('refuses a document over 5 KiB, declared or streamed', async () => {
    const big = clientIdUrl()
    await serve(big, { body: metadataDocument(big, { padding: 'x'.repeat(5200) }) })
    expect(await refusedPage(big)).toContain('It is larger than 5 KiB.')
    const streamed = clientIdUrl()
    await serve(streamed, {
      body: metadataDocument(streamed, { padding: 'x'.repeat(5200) }),
      chunked: true,
    })
    expect(await refusedPage(streamed)).toContain('It is larger than 5 KiB.')
  })

  it('does not follow a redirect, even to a valid document', async () => {
    const url = clientIdUrl()
    const target = await publishedClient()
    await serve(url, { body: '', status: 302, headers: { Location: target } })
    expect(await refusedPage(url)).toContain('It answered 302, a redirect, which is not followed.')
    expect(await fetches(target)).toBe(0)
  })

  it('gives up on a document that takes longer than 2 s', async () => {
    const url = clientIdUrl()
    await serve(url, { body: metadataDocument(url), delayMs: 3000 })
    expect(await refusedPage(url)).toContain('It did not arrive within 2 s.')
  })

  it('refuses a 404 and caches no error: the fixed document is fetched next time', async () => {
    const url = clientIdUrl()
    await serve(url, { body: { error: 'gone' }, status: 404 })
    expect(await refusedPage(url)).toContain('It answered 404, not 200.')
    await serve(url, { body: metadataDocument(url) })
    const res = await call(await authorizeUrl(url))
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('action="/auth/authorize/login"')
  })

  it('refuses a redirect_uri the document does not list, without redirecting', async () => {
    const url = await publishedClient()
    expect(await refusedPage(url, { redirect_uri: 'https://attacker.example/cb' })).toContain(
      'This redirect URI is not registered for this app.',
    )
  })

  it('refuses a document that takes the name of a vetted app', async () => {
    const url = clientIdUrl()
    await serve(url, { body: metadataDocument(url, { client_name: 'TODO-AUTH Web App' }) })
    expect(await refusedPage(url)).toContain('takes the name of an app of this service')
  })

  it('refuses a name with a bidirectional override and a non-canonical redirect URI', async () => {
    const a = clientIdUrl()
    await serve(a, { body: metadataDocument(a, { client_name: 'evil\u202Eppa' }) })
    expect(await refusedPage(a)).toContain('client_name without control or format characters')
    const b = clientIdUrl()
    await serve(b, { body: metadataDocument(b, { redirect_uris: ['https://app.example'] }) })
    expect(await refusedPage(b)).toContain('canonical form: https://app.example/')
  })
})

describe('what is never fetched (SSRF)', () => {
  const never = [
    ['http, not https', 'http://app.example/client.json', 'It must be an https URL.'],
    ['loopback http', 'http://127.0.0.1:8787/client.json', 'It must be an https URL.'],
    ['a loopback address', 'https://127.0.0.1/client.json', 'not an IP address'],
    ['a loopback address spelt in hex', 'https://0x7f.1/client.json', 'not an IP address'],
    ['the link-local metadata address', 'https://169.254.169.254/latest', 'not an IP address'],
    ['a private address', 'https://10.0.0.1/client.json', 'not an IP address'],
    ['an IPv6 loopback', 'https://[::1]/client.json', 'not an IP address'],
    ['localhost', 'https://localhost/client.json', 'It must name a public host.'],
    ['a .localhost name', 'https://app.localhost/client.json', 'It must name a public host.'],
    ['a single-label name', 'https://metadata/client.json', 'It must name a public host.'],
    ['a .internal name', 'https://db.internal/client.json', 'It must name a public host.'],
    ['no path', 'https://app.example', 'It must contain a path.'],
    ['a dot segment', 'https://app.example/a/../client.json', 'canonical form'],
  ]
  for (const [what, url, message] of never) {
    it(`refuses ${what} in production without fetching it`, async () => {
      // Served as a valid document, so only the URL check stands between it and the flow.
      await serve(url!, { body: metadataDocument(url!) })
      expect(await refusedPage(url!)).toContain(message!)
      expect(await fetches(url!)).toBe(0)
    })
  }

  it('refuses userinfo in the URL', async () => {
    const page = await refusedPage('https://user@app.example/client.json')
    expect(page).toContain('It must not contain userinfo.')
  })

  it('fetches loopback http only with ALLOW_INSECURE_CLIENT_METADATA (npm run dev)', async () => {
    const url = 'http://127.0.0.1:9123/dev-client.json'
    await serve(url, { body: metadataDocument(url) })
    const app = createApp()
    const dev = new Browser(async (path, init) =>
      app.request(`https://todo.test${path}`, init, {
        ...env,
        ALLOW_INSECURE_CLIENT_METADATA: 'true',
      }),
    )
    const res = await dev.get(await authorizeUrl(url))
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('action="/auth/authorize/login"')
    expect(await fetches(url)).toBe(1)
    // Still nothing else: not another scheme, not a private address.
    const other = 'http://10.0.0.1:9123/dev-client.json'
    await serve(other, { body: metadataDocument(other) })
    expect((await dev.get(await authorizeUrl(other))).status).toBe(400)
    expect(await fetches(other)).toBe(0)
  })
})

describe('metadata-document clients at the token endpoint', () => {
  it('fetches nothing for a URL the authorization endpoint never saw', async () => {
    const url = await publishedClient()
    const res = await exchange('some-code', { client_id: url })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: 'invalid_client' })
    expect(await fetches(url)).toBe(0)
  })

  it('refuses a secret sent with a metadata-document client_id', async () => {
    const alice = await makeUser()
    const url = await publishedClient()
    const code = await getCode(new Browser(), url, alice)
    const post = await exchange(code, { client_id: url, client_secret: 'guess' })
    expect(post.status).toBe(401)
    const basic = await exchange(
      code,
      {},
      { Authorization: `Basic ${btoa(`${encodeURIComponent(url)}:guess`)}` },
    )
    expect(basic.status).toBe(401)
    // Neither burnt the code.
    expect((await exchange(code, { client_id: url })).status).toBe(200)
  })

  it('refuses the client once its expired document turns invalid (invalid_client)', async () => {
    const alice = await makeUser()
    const url = await publishedClient({}, { 'Cache-Control': 'no-store' })
    const code = await getCode(new Browser(), url, alice)
    await serve(url, { body: metadataDocument('https://someone-else.example/c.json') })
    const res = await exchange(code, { client_id: url })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringContaining('not the URL it was fetched from'),
    })
  })

  it('refuses a disabled metadata client at both endpoints, whatever its document says', async () => {
    const alice = await makeUser()
    const url = await publishedClient()
    const code = await getCode(new Browser(), url, alice)
    await env.DB.prepare('UPDATE clients SET disabled = 1 WHERE client_id = ?1').bind(url).run()
    expect((await exchange(code, { client_id: url })).status).toBe(401)
    // The document does not enable it again: the authorization endpoint refuses it too.
    expect(await refusedPage(url)).toContain('This app is disabled on this server.')
  })
})

describe('a metadata-document client is never vetted nor first-party', () => {
  it('refuses the admin API and the database alike', async () => {
    const url = await publishedClient()
    await call(await authorizeUrl(url))
    const admin = await makeUser({ role: 'admin' })
    const login = await call(
      '/auth/token',
      form({ grant_type: 'password', username: admin.username, password: admin.password }),
    )
    const { access_token } = (await login.json()) as { access_token: string }
    for (const patch of [{ vetted: true }, { first_party: true }]) {
      const res = await call(`/admin/clients/${encodeURIComponent(url)}`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${access_token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(patch),
      })
      expect(res.status).toBe(400)
    }
    quietConsoleError()
    await expect(
      env.DB.prepare('UPDATE clients SET vetted = 1 WHERE client_id = ?1').bind(url).run(),
    ).rejects.toThrow(/never vetted or first-party/)
    const row = await env.DB.prepare('SELECT vetted, first_party FROM clients WHERE client_id = ?1')
      .bind(url)
      .first()
    expect(row).toEqual({ vetted: 0, first_party: 0 })
  })

  it('sends an error of a client nobody consented to nowhere but the HTML page', async () => {
    const url = await publishedClient()
    // A bad scope would be redirected for a vetted client; never for this one before consent.
    const page = await refusedPage(url, { scope: 'admin' })
    expect(page).toContain('invalid_scope')
  })

  it('does not carry consent for one redirect host over to an attacker’s host', async () => {
    const alice = await makeUser()
    const url = await publishedClient({
      redirect_uris: [REDIRECT, 'http://127.0.0.1/callback'],
    })
    const browser = new Browser()
    await getCode(browser, url, alice)
    const res = await browser.get(
      await authorizeUrl(url, { redirect_uri: 'http://127.0.0.1:4444/callback' }),
    )
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('action="/auth/authorize/consent"')
  })
})
