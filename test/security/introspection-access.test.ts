import { env } from 'cloudflare:test'
import { describe, expect } from 'vitest'
import { createApp } from '../../src/app'
import { call, form, it, json, login, makeUser, type TokenPair } from '../helpers'
import { makeClient } from '../oauth-client'

// The second outside penetration test (docs/security.md): any confidential client could
// introspect anyone's tokens, refresh tokens included, which made introspection a validity oracle
// that never trips reuse detection and names the user. RFC 7662 §4: the server must decide who
// may introspect. Only
// resource servers may: confidential clients an admin granted the machine scope `introspect`;
// and a refresh token is described only to the client it was issued to.

type Credentials = { client_id: string; client_secret: string }

async function confidential(
  scope: string,
  grants: ('authorization_code' | 'client_credentials' | 'password' | 'refresh_token')[] = [
    'client_credentials',
  ],
): Promise<Credentials> {
  const { client, client_secret } = await makeClient({
    grant_types: grants,
    scope,
    token_endpoint_auth_method: 'client_secret_post',
  })
  return { client_id: client.client_id, client_secret: client_secret! }
}

const introspect = async (token: string, by: Record<string, string>) => {
  const res = await call('/auth/introspect', form({ token, ...by }))
  return { res, body: (await res.json()) as Record<string, unknown> }
}

async function passwordTokens(client: Credentials, username: string, password: string) {
  const res = await call(
    '/auth/token',
    form({ grant_type: 'password', username, password, ...client }),
  )
  expect(res.status).toBe(200)
  return (await res.json()) as TokenPair
}

describe('who may introspect (RFC 7662 §4)', () => {
  it('refuses a confidential client an admin did not grant introspect, whatever the token', async ({
    signedIn,
  }) => {
    const notRs = await confidential('read write users:read audit:read', [
      'client_credentials',
      'password',
      'refresh_token',
    ])
    for (const token of [signedIn.token, signedIn.tokens.refresh_token, 'garbage']) {
      const { res, body } = await introspect(token, notRs)
      expect(res.status).toBe(403)
      expect(body.error).toBe('insufficient_scope')
      expect(body).not.toHaveProperty('active')
    }
    // A public client holding the scope still cannot authenticate: 401, as before.
    const { client: pub } = await makeClient({ scope: 'read introspect' })
    const { res } = await introspect(signedIn.token, { client_id: pub.client_id })
    expect(res.status).toBe(401)
  })

  it('describes a refresh token only to the client it was issued to', async () => {
    const rs = await confidential('introspect')
    const app = await confidential('read write introspect', ['password', 'refresh_token'])
    const user = await makeUser()
    const tokens = await passwordTokens(app, user.username, user.password)

    expect((await introspect(tokens.refresh_token, rs)).body).toEqual({ active: false })
    const own = await introspect(tokens.refresh_token, app)
    expect(own.body).toMatchObject({ active: true, client_id: app.client_id, sub: user.id })

    // A session of the legacy password grant without a client: no client may see its token.
    const legacy = await login(await makeUser())
    expect((await introspect(legacy.refresh_token, rs)).body).toEqual({ active: false })
    expect((await introspect(legacy.refresh_token, app)).body).toEqual({ active: false })
    // Access tokens are what a resource server is sent: it may introspect every one.
    expect((await introspect(legacy.access_token, rs)).body.active).toBe(true)
    expect((await introspect(tokens.access_token, rs)).body.active).toBe(true)
  })

  it('names the RFC 6749 token type: bearer for an access token, none for a refresh token', async () => {
    const app = await confidential('read write introspect', ['password', 'refresh_token'])
    const user = await makeUser()
    const tokens = await passwordTokens(app, user.username, user.password)
    const access = await introspect(tokens.access_token, {
      ...app,
      token_type_hint: 'access_token',
    })
    expect(access.body).toMatchObject({ active: true, token_type: 'bearer' })
    const refresh = await introspect(tokens.refresh_token, {
      ...app,
      token_type_hint: 'refresh_token',
    })
    expect(refresh.body.active).toBe(true)
    expect(refresh.body).not.toHaveProperty('token_type')
  })

  it('lets only an admin grant introspect, to any confidential client; discovery lists it', async ({
    admin,
    signedIn,
  }) => {
    const made = await call(
      '/admin/clients',
      json(
        'POST',
        {
          client_name: 'Todo resource server',
          redirect_uris: ['https://rs.example/cb'],
          grant_types: ['authorization_code'],
          scope: 'introspect',
          token_endpoint_auth_method: 'client_secret_post',
        },
        admin.token,
      ),
    )
    expect(made.status, await made.clone().text()).toBe(201)
    const rs = (await made.json()) as Credentials & { scope: string }
    expect(rs.scope).toBe('introspect')
    const { res, body } = await introspect(signedIn.token, {
      client_id: rs.client_id,
      client_secret: rs.client_secret,
    })
    expect(res.status).toBe(200)
    expect(body).toMatchObject({ active: true, token_type: 'bearer' })

    // A permission at this endpoint, not a token's: client credentials never issue it.
    const svc = await confidential('users:read introspect')
    const issued = await call('/auth/token', form({ grant_type: 'client_credentials', ...svc }))
    expect(((await issued.json()) as { scope: string }).scope).toBe('users:read')
    const asked = await call(
      '/auth/token',
      form({ grant_type: 'client_credentials', scope: 'introspect', ...svc }),
    )
    expect(asked.status).toBe(400)

    const registration = await createApp().request(
      'https://todo.test/auth/clients',
      json('POST', { redirect_uris: ['https://app.example/cb'], scope: 'read introspect' }),
      { ...env, ALLOW_CLIENT_REGISTRATION: 'true' },
    )
    expect(registration.status).toBe(400)

    const metadata = await call('/.well-known/oauth-authorization-server')
    const { scopes_supported } = (await metadata.json()) as { scopes_supported: string[] }
    expect(scopes_supported).toContain('introspect')
  })
})
