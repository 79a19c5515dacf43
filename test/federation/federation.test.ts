import { env } from 'cloudflare:test'
import { describe, expect } from 'vitest'
import { createApp } from '../../src/app'
import { insertProvider } from '../../src/db/identity-providers'
import { member } from '../api/lists/helpers'
import {
  bearer,
  call,
  it,
  json,
  makeUser,
  quietConsoleError,
  type SignedIn,
  uniqueName,
} from '../helpers'
import {
  authorizeUrl,
  Browser,
  exchange,
  makeClient,
  redirectParams,
  tokens,
} from '../oauth-client'

// The fake provider (test/fake-idp/worker.js) answers every outbound fetch; its client is this.
const IDP_CLIENT = { client_id: 'todo-auth', client_secret: 'fake-idp-secret' }

type Fake = {
  sub?: string
  email?: string
  email_verified?: boolean
  preferred_username?: string
  name?: string
  error?: string
  state?: string
  iss?: string | null
  id?: {
    iss?: string
    aud?: string | string[]
    azp?: string
    nonce?: string
    exp_offset?: number
    key?: string
    alg?: string
  }
}

/** A provider at its own issuer on the fake, through the admin API. */
async function addProvider(admin: SignedIn, fields: Record<string, unknown> = {}) {
  const id = uniqueName('idp').toLowerCase()
  const res = await call(
    '/admin/identity-providers',
    json(
      'POST',
      { id, name: `Corp ${id}`, issuer: `https://idp.test/${id}`, ...IDP_CLIENT, ...fields },
      admin.token,
    ),
  )
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as { id: string; name: string; issuer: string; redirect_uri: string }
}

const encodeFake = (fake: Fake) =>
  btoa(JSON.stringify(fake)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')

/** The person at the provider: it answers at once with what `fake` says. Returns the callback. */
async function atProvider(location: string, fake: Fake): Promise<string> {
  const url = new URL(location)
  url.searchParams.set('fake', encodeFake(fake))
  const res = await fetch(url, { redirect: 'manual' })
  expect(res.status).toBe(303)
  const back = new URL(res.headers.get('Location')!)
  return back.pathname + back.search
}

/** The login page's "Continue with" link to a provider. */
function linkTo(page: string, providerId: string): string {
  const link = page.match(new RegExp(`href="(/auth/federate/${providerId}\\?[^"]+)"`))
  expect(link, page).not.toBeNull()
  return link![1]!.replaceAll('&amp;', '&')
}

/** From an app's authorization request, "Continue with" the provider; the callback's answer. */
async function federate(browser: Browser, providerId: string, fake: Fake, clientId?: string) {
  const app = clientId ?? (await makeClient({ first_party: true })).client.client_id
  const page = await (await browser.get(await authorizeUrl(app))).text()
  const start = await browser.get(linkTo(page, providerId))
  expect(start.status).toBe(303)
  const location = start.headers.get('Location')!
  expect(location.startsWith('https://idp.test/')).toBe(true)
  return { res: await browser.get(await atProvider(location, fake)), app, location }
}

/** The user a successful callback signed in, through the code it sent the app. */
async function signedInAs(res: Response, app: string) {
  const code = redirectParams(res).get('code')!
  const { access_token } = await tokens(await exchange(code, { client_id: app }))
  const me = await call('/users/me', bearer(access_token))
  expect(me.status).toBe(200)
  return { ...((await me.json()) as { id: string; username: string; email: string }), access_token }
}

/** The login page again, with the message a person reads, and no code for the app. */
async function refused(res: Response, message: RegExp) {
  expect(res.status).toBe(400)
  const html = await res.text()
  expect(html).toMatch(message)
  return html
}

const events = async (event: string) =>
  (
    await env.DB.prepare('SELECT user_id, detail FROM audit_events WHERE event = ?1 ORDER BY id')
      .bind(event)
      .all<{ user_id: string | null; detail: string }>()
  ).results

describe('signing in with an upstream OpenID provider', () => {
  it('creates a new user on first sign-in and signs them in to the app', async ({ admin }) => {
    const idp = await addProvider(admin, { allow_signup: true })
    const sub = uniqueName('sub')
    const browser = new Browser()
    const { res, app } = await federate(browser, idp.id, {
      sub,
      preferred_username: 'Ada Lovelace!',
      email: 'ada@corp.example',
      email_verified: true,
    })
    const me = await signedInAs(res, app)
    expect(me.username).toBe('AdaLovelace')
    expect(me.email).toBe('ada@corp.example')
    expect((await events('federated_login')).some((e) => e.user_id === me.id)).toBe(true)
    expect((await events('user_created')).some((e) => e.user_id === me.id)).toBe(true)

    // The new account has a default list (the users_default_list trigger), so it can add a todo.
    const created = await call('/api/todos', json('POST', { title: 'First' }, me.access_token))
    expect(created.status, await created.clone().text()).toBe(201)
    const todos = await call('/api/todos', bearer(me.access_token))
    expect((await todos.json<{ title: string }[]>()).map((t) => t.title)).toEqual(['First'])
    const lists = await call('/api/lists', bearer(me.access_token))
    expect(await lists.json()).toEqual([expect.objectContaining({ default: true, role: 'owner' })])

    // The next sign-in with the same (issuer, sub) is the same user, under a unique username.
    const again = await federate(new Browser(), idp.id, { sub, preferred_username: 'x' })
    expect((await signedInAs(again.res, again.app)).id).toBe(me.id)
    const other = await federate(new Browser(), idp.id, {
      sub: `${sub}-b`,
      preferred_username: 'Ada Lovelace',
    })
    expect((await signedInAs(other.res, other.app)).username).toBe('AdaLovelace-2')
  })

  it('signs in the account a concurrent first sign-in of the same identity made', async ({
    admin,
  }) => {
    const idp = await addProvider(admin, { allow_signup: true })
    const sub = uniqueName('sub')
    const name = uniqueName('twin')
    const winner = await makeUser({ username: `${name}-first` })
    // The other sign-in links the identity between this one's lookup and its transaction.
    let racing = false
    const inject = () =>
      env.DB.prepare(
        `INSERT INTO identities (issuer, subject, provider_id, user_id, created_at)
         VALUES (?1, ?2, ?3, ?4, '2026-12-01T00:00:00.000Z')`,
      )
        .bind(idp.issuer, sub, idp.id, winner.id)
        .run()
    // The real D1 (and its sessions, src/http/database.ts), with the other sign-in's write
    // landing just before this one's first transaction.
    const racingDb = <T extends object>(real: T): T =>
      new Proxy(real, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target) as (...args: unknown[]) => unknown
          if (prop === 'withSession')
            return (...args: unknown[]) => racingDb(value.apply(target, args) as object)
          if (prop === 'batch')
            return async (statements: D1PreparedStatement[]) => {
              if (racing) {
                racing = false
                await inject()
              }
              return value.call(target, statements)
            }
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    const db = racingDb(env.DB)
    const app = createApp()
    const browser = new Browser(
      async (path, init) => await app.request(`https://todo.test${path}`, init, { ...env, DB: db }),
    )
    const { client } = await makeClient({ first_party: true })
    const page = await (await browser.get(await authorizeUrl(client.client_id))).text()
    const location = (await browser.get(linkTo(page, idp.id))).headers.get('Location')!
    const callback = await atProvider(location, { sub, preferred_username: name })
    racing = true
    const res = await browser.get(callback)
    expect(racing).toBe(false)
    expect((await signedInAs(res, client.client_id)).id).toBe(winner.id)
    // No account was made without its identity.
    const orphan = await env.DB.prepare('SELECT 1 FROM users WHERE username = ?1')
      .bind(name)
      .first()
    expect(orphan).toBeNull()
  })

  it('shows a "Continue with" link only for enabled providers', async ({ admin }) => {
    const on = await addProvider(admin)
    const off = await addProvider(admin, { enabled: false })
    const { client } = await makeClient()
    const html = await (await new Browser().get(await authorizeUrl(client.client_id))).text()
    expect(html).toContain(`Continue with ${on.name}`)
    expect(html).not.toContain(off.name)
  })

  it('sends the person to the provider with PKCE S256, state and nonce', async ({ admin }) => {
    const idp = await addProvider(admin)
    const browser = new Browser()
    const { client } = await makeClient()
    const page = await (await browser.get(await authorizeUrl(client.client_id))).text()
    const href = linkTo(page, idp.id)
    const to = new URL((await browser.get(href)).headers.get('Location')!)
    expect(to.origin + to.pathname).toBe(`${idp.issuer}/authorize`)
    const q = to.searchParams
    expect(q.get('response_type')).toBe('code')
    expect(q.get('client_id')).toBe('todo-auth')
    expect(q.get('redirect_uri')).toBe(`https://todo.test/auth/federate/${idp.id}/callback`)
    expect(q.get('scope')).toBe('openid email profile')
    expect(q.get('code_challenge_method')).toBe('S256')
    expect(q.get('code_challenge')).toMatch(/^[\w-]{43}$/)
    expect(q.get('state')!.length).toBeGreaterThan(20)
    expect(q.get('nonce')!.length).toBeGreaterThan(20)
    expect(idp.redirect_uri).toBe(q.get('redirect_uri'))
  })

  it('refuses a sign-in without the login page token', async ({ admin }) => {
    const idp = await addProvider(admin)
    const res = await new Browser().get(`/auth/federate/${idp.id}?request=forged`)
    expect(res.status).toBe(403)
  })
})

describe('every check of the provider’s answer', () => {
  // What the person is shown is one plain sentence; the audit trail says which check refused
  // (oauth4webapi's words), so each case proves its own check ran.
  const failures: [string, Fake, RegExp][] = [
    ['a wrong state', { state: 'not-the-state-we-sent-0123456789' }, /: state$/],
    ['a missing iss', { iss: null }, /"iss" \(issuer\) missing/],
    ['a wrong iss', { iss: 'https://evil.test' }, /unexpected "iss" \(issuer\) response parameter/],
    ['an ID token for another audience', { id: { aud: 'someone-else' } }, /JWT "aud"/],
    ['an ID token from another issuer', { id: { iss: 'https://evil.test' } }, /JWT "iss"/],
    [
      'an ID token authorized for another party (azp)',
      { id: { aud: ['todo-auth', 'other-app'], azp: 'other-app' } },
      /"azp"/,
    ],
    ['a wrong nonce', { id: { nonce: 'replayed-nonce' } }, /"nonce" claim value/],
    ['an expired ID token', { id: { exp_offset: -600 } }, /JWT "exp"/],
    ['an ID token signed by another key', { id: { key: 'other' } }, /signature verification/],
    ['an unsigned ID token (alg none)', { id: { alg: 'none' } }, /"alg" header parameter/],
    [
      'an error from the provider',
      { error: 'access_denied' },
      /response from the server is an error/,
    ],
  ]
  for (const [what, fake, reason] of failures)
    it(`ends on the login page with a plain message after ${what}`, async ({ admin }) => {
      quietConsoleError()
      const idp = await addProvider(admin, { allow_signup: true })
      const sub = uniqueName('sub')
      const { res } = await federate(new Browser(), idp.id, { sub, ...fake })
      if (fake.state) {
        // A state we never issued names no pending request: nothing to go back to.
        await refused(res, /expired or was started in another browser/)
      } else {
        const html = await refused(res, /did not work/)
        expect(html).toContain('action="/auth/authorize/login"')
      }
      const noUser = await env.DB.prepare('SELECT 1 FROM identities WHERE subject = ?1')
        .bind(sub)
        .first()
      expect(noUser).toBeNull()
      const failed = (await events('federated_login_failure')).filter((e) =>
        e.detail.startsWith(`${idp.id}: `),
      )
      expect(failed).toHaveLength(1)
      expect(failed[0]!.detail).toMatch(reason)
    })

  it('takes a callback once, and only in the browser that started it', async ({ admin }) => {
    const idp = await addProvider(admin, { allow_signup: true })
    const browser = new Browser()
    const { client } = await makeClient({ first_party: true })
    const page = await (await browser.get(await authorizeUrl(client.client_id))).text()
    const href = linkTo(page, idp.id)
    const location = (await browser.get(href)).headers.get('Location')!
    const callback = await atProvider(location, { sub: uniqueName('sub') })

    const elsewhere = new Browser()
    await elsewhere.get(await authorizeUrl(client.client_id))
    await refused(await elsewhere.get(callback), /started in another browser/)
    // The row was spent by that attempt: the right browser cannot use it either now.
    await refused(await browser.get(callback), /expired/)
  })
})

describe('linking rules', () => {
  it('links a verified email only on a provider trusted for it', async ({ admin }) => {
    const person = await makeUser()
    const email = `${person.username}@example.com`
    const untrusted = await addProvider(admin)
    await refused(
      (
        await federate(new Browser(), untrusted.id, {
          sub: uniqueName('s'),
          email,
          email_verified: true,
        })
      ).res,
      /No account here is linked/,
    )
    const trusted = await addProvider(admin, { trusted_email: true })
    await refused(
      (
        await federate(new Browser(), trusted.id, {
          sub: uniqueName('s'),
          email,
          email_verified: false,
        })
      ).res,
      /No account here is linked/,
    )
    const ok = await federate(new Browser(), trusted.id, {
      sub: uniqueName('s'),
      email,
      email_verified: true,
    })
    expect((await signedInAs(ok.res, ok.app)).id).toBe(person.id)
    expect((await events('identity_linked')).some((e) => e.user_id === person.id)).toBe(true)
  })

  it('never links by an email the account’s user set themselves', async ({ admin }) => {
    // Self-registration with a victim's address: the trusted provider's sign-in of the victim
    // must not land in this account.
    const username = uniqueName('squatter')
    const email = `${uniqueName('victim')}@example.com`
    const registered = await createApp().request(
      'https://todo.test/auth/register',
      json('POST', { username, password: 'a long enough password', email }),
      { ...env, ALLOW_SIGNUP: 'true' },
    )
    expect(registered.status).toBe(201)
    const row = await env.DB.prepare('SELECT email_self_set FROM users WHERE username = ?1')
      .bind(username)
      .first()
    expect(row).toEqual({ email_self_set: 1 })
    const trusted = await addProvider(admin, { trusted_email: true })
    const victim = { sub: uniqueName('s'), email, email_verified: true }
    await refused(
      (await federate(new Browser(), trusted.id, victim)).res,
      /No account here is linked/,
    )
    // An administrator setting that email makes it one the server vouches for.
    const { id } = (await registered.json()) as { id: string }
    await call(`/users/${id}`, json('PATCH', { email }, admin.token))
    const ok = await federate(new Browser(), trusted.id, victim)
    expect((await signedInAs(ok.res, ok.app)).id).toBe(id)
  })

  it('creates no account when the provider does not allow sign-up', async ({ admin }) => {
    const idp = await addProvider(admin, { allow_signup: false })
    const sub = uniqueName('sub')
    await refused(
      (await federate(new Browser(), idp.id, { sub })).res,
      /Sign in with your password/,
    )
    const any = await env.DB.prepare('SELECT 1 FROM identities WHERE subject = ?1')
      .bind(sub)
      .first()
    expect(any).toBeNull()
  })

  it('creates accounts only for verified emails of the allowed domains', async ({ admin }) => {
    const idp = await addProvider(admin, { allow_signup: true, allowed_domains: ['Corp.Example'] })
    const wrong = { sub: uniqueName('s'), email: 'eve@other.example', email_verified: true }
    await refused((await federate(new Browser(), idp.id, wrong)).res, /allowed domain/)
    const unverified = { sub: uniqueName('s'), email: 'eve@corp.example', email_verified: false }
    await refused((await federate(new Browser(), idp.id, unverified)).res, /allowed domain/)
    const ok = { sub: uniqueName('s'), email: 'bob@CORP.example', email_verified: true }
    const { res, app } = await federate(new Browser(), idp.id, ok)
    expect((await signedInAs(res, app)).email).toBe('bob@CORP.example')
  })
})

/** Starts linking from the account, as the web app would, and follows it in that browser. */
async function link(browser: Browser, token: string, providerId: string, fake: Fake) {
  const res = await call(`/users/me/identities/${providerId}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      ...(browser.cookie && { Cookie: browser.cookie }),
    },
  })
  expect(res.status, await res.clone().text()).toBe(200)
  const set = res.headers.get('Set-Cookie')
  if (set) browser.cookie = set.split(';')[0]!
  const { authorization_url } = (await res.json()) as { authorization_url: string }
  return browser.get(await atProvider(authorization_url, fake))
}

const identities = async (token: string) =>
  (await (await call('/users/me/identities', bearer(token))).json()) as { provider_id: string }[]

describe('identities of an account', () => {
  it('links two providers to one account, and unlinks them', async ({ admin, signedIn }) => {
    const a = await addProvider(admin)
    const b = await addProvider(admin)
    const browser = new Browser()
    const sub = uniqueName('sub')
    const linked = await link(browser, signedIn.token, a.id, { sub })
    expect(linked.status).toBe(303)
    expect(linked.headers.get('Location')).toBe('/account?done=linked#identities')
    expect((await link(browser, signedIn.token, b.id, { sub: uniqueName('sub') })).status).toBe(303)
    expect((await identities(signedIn.token)).map((i) => i.provider_id).sort()).toEqual(
      [a.id, b.id].sort(),
    )

    // The linked identity now signs this account in, without a password.
    const { res, app } = await federate(new Browser(), a.id, { sub })
    expect((await signedInAs(res, app)).id).toBe(signedIn.user.id)

    const del = await call(
      `/users/me/identities/${a.id}`,
      bearer(signedIn.token, { method: 'DELETE' }),
    )
    expect(del.status).toBe(204)
    expect((await identities(signedIn.token)).map((i) => i.provider_id)).toEqual([b.id])
    expect((await events('identity_unlinked')).some((e) => e.user_id === signedIn.user.id)).toBe(
      true,
    )
    const gone = await call(
      `/users/me/identities/${a.id}`,
      bearer(signedIn.token, { method: 'DELETE' }),
    )
    expect(gone.status).toBe(404)
  })

  it('lets only the user, not a third-party app, link or unlink an identity', async ({ admin }) => {
    const idp = await addProvider(admin)
    const alice = await member()
    const app = await alice.appToken()
    const start = await call(`/users/me/identities/${idp.id}`, bearer(app, { method: 'POST' }))
    expect(start.status).toBe(403)
    expect(((await start.json()) as { error: string }).error).toBe('forbidden')
    const pending = await env.DB.prepare('SELECT 1 FROM federation_requests WHERE user_id = ?1')
      .bind(alice.id)
      .first()
    expect(pending).toBeNull()

    expect(
      (await link(new Browser(), alice.token, idp.id, { sub: uniqueName('sub') })).status,
    ).toBe(303)
    const unlink = await call(`/users/me/identities/${idp.id}`, bearer(app, { method: 'DELETE' }))
    expect(unlink.status).toBe(403)
    expect((await identities(alice.token)).map((i) => i.provider_id)).toEqual([idp.id])
    // The app still reads them: listing is the account's own data, any scope.
    expect((await call('/users/me/identities', bearer(app))).status).toBe(200)
  })

  it('answers 503 and keeps no sign-in when the provider cannot be reached', async () => {
    const id = uniqueName('idp').toLowerCase()
    // Its discovery document names another issuer (no trailing slash): discovery fails.
    await insertProvider(env.DB, {
      id,
      name: 'Down',
      issuer: `https://idp.test/${id}/`,
      ...IDP_CLIENT,
      scopes: 'openid',
      allow_signup: false,
      allowed_domains: [],
      trusted_email: false,
      enabled: true,
    })
    const alice = await member()
    quietConsoleError()
    const start = await call(`/users/me/identities/${id}`, bearer(alice.token, { method: 'POST' }))
    expect(start.status).toBe(503)
    expect(((await start.json()) as { error: string }).error).toBe('temporarily_unavailable')
    const pending = await env.DB.prepare('SELECT 1 FROM federation_requests WHERE user_id = ?1')
      .bind(alice.id)
      .first()
    expect(pending).toBeNull()
  })

  it('refuses to link an identity that another account holds', async ({ admin, signedIn }) => {
    const idp = await addProvider(admin, { allow_signup: true })
    const sub = uniqueName('sub')
    await federate(new Browser(), idp.id, { sub })
    await refused(
      await link(new Browser(), signedIn.token, idp.id, { sub }),
      /linked to another account/,
    )
    expect(await identities(signedIn.token)).toEqual([])
  })

  it('refuses to unlink the last way to sign in of an account without a password', async ({
    admin,
  }) => {
    const a = await addProvider(admin, { allow_signup: true })
    const b = await addProvider(admin)
    const { res, app } = await federate(new Browser(), a.id, { sub: uniqueName('sub') })
    const me = await signedInAs(res, app)
    const unlinkA = () =>
      call(`/users/me/identities/${a.id}`, bearer(me.access_token, { method: 'DELETE' }))
    const unlinked = async () =>
      (await events('identity_unlinked')).filter((e) => e.user_id === me.id).map((e) => e.detail)
    const last = await unlinkA()
    expect(last.status).toBe(409)
    expect(((await last.json()) as { error: string }).error).toBe('conflict')
    expect(await unlinked()).toEqual([])

    expect(
      (await link(new Browser(), me.access_token, b.id, { sub: uniqueName('sub') })).status,
    ).toBe(303)
    expect((await unlinkA()).status).toBe(204)
    const unlinkB = await call(
      `/users/me/identities/${b.id}`,
      bearer(me.access_token, { method: 'DELETE' }),
    )
    expect(unlinkB.status).toBe(409)
    expect((await unlinkA()).status).toBe(404)
    // Each event records an unlink that happened, never a refused one.
    expect(await unlinked()).toEqual([a.id])
  })
})

describe('disabling', () => {
  it('ends the sessions and sign-ins a provider made, and refuses its callbacks', async ({
    admin,
  }) => {
    const idp = await addProvider(admin, { allow_signup: true })
    const sub = uniqueName('sub')
    const browser = new Browser()
    const { res, app } = await federate(browser, idp.id, { sub })
    const me = await signedInAs(res, app)
    const password = await makeUser()
    const pwTokens = await (await import('../helpers')).login(password)

    const patch = await call(
      `/admin/identity-providers/${idp.id}`,
      json('PATCH', { enabled: false }, admin.token),
    )
    expect(patch.status).toBe(200)
    expect((await call('/users/me', bearer(me.access_token))).status).toBe(401)
    expect((await call('/users/me', bearer(pwTokens.access_token))).status).toBe(200)
    // The browser's sign-in ended too: the app gets the login page again, without the link.
    const page = await browser.get(await authorizeUrl(app))
    expect(page.status).toBe(200)
    expect(await page.text()).not.toContain(idp.name)
    await refused(await browser.get(`/auth/federate/${idp.id}/callback?state=x&code=y`), /expired/)
  })

  it('ends a provider’s sessions when its issuer changes, and keeps its identities apart', async ({
    admin,
  }) => {
    const idp = await addProvider(admin, { allow_signup: true })
    const sub = uniqueName('sub')
    const first = await federate(new Browser(), idp.id, { sub })
    const me = await signedInAs(first.res, first.app)
    const moved = `https://idp.test/${idp.id}-moved`
    const patch = await call(
      `/admin/identity-providers/${idp.id}`,
      json('PATCH', { issuer: moved }, admin.token),
    )
    expect(patch.status).toBe(200)
    expect((await call('/users/me', bearer(me.access_token))).status).toBe(401)
    // The same sub at another issuer is another identity: not this account.
    const again = await federate(new Browser(), idp.id, { sub })
    expect((await signedInAs(again.res, again.app)).id).not.toBe(me.id)
  })

  it('ends the sessions of a disabled user signed in through a provider', async ({ admin }) => {
    const idp = await addProvider(admin, { allow_signup: true })
    const sub = uniqueName('sub')
    const { res, app } = await federate(new Browser(), idp.id, { sub })
    const me = await signedInAs(res, app)
    const off = await call(`/users/${me.id}`, json('PATCH', { disabled: true }, admin.token))
    expect(off.status).toBe(200)
    expect((await call('/users/me', bearer(me.access_token))).status).toBe(401)
    await refused((await federate(new Browser(), idp.id, { sub })).res, /disabled/)
  })
})

describe('the admin API for identity providers', () => {
  it('never shows the client secret, and stores it encrypted', async ({ admin }) => {
    const idp = await addProvider(admin)
    for (const path of [`/admin/identity-providers/${idp.id}`, '/admin/identity-providers']) {
      const text = await (await call(path, bearer(admin.token))).text()
      expect(text).toContain(idp.id)
      expect(text).not.toContain('fake-idp-secret')
      expect(text).not.toContain('client_secret')
    }
    const stored = await env.DB.prepare(
      'SELECT client_secret FROM identity_providers WHERE id = ?1',
    )
      .bind(idp.id)
      .first<string>('client_secret')
    expect(stored).not.toContain('fake-idp-secret')
    expect(stored).toMatch(/^[\w-]{16}\.[\w-]+$/)
  })

  it('refuses an issuer that is not https, but allows loopback while ALLOW_INSECURE_IDP', async ({
    admin,
  }) => {
    const bad = await call(
      '/admin/identity-providers',
      json(
        'POST',
        { id: 'plain', name: 'Plain', issuer: 'http://idp.example', ...IDP_CLIENT },
        admin.token,
      ),
    )
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_request')
    const local = await addProvider(admin, { issuer: 'http://127.0.0.1:9000/realm' })
    expect(local.issuer).toBe('http://127.0.0.1:9000/realm')
  })

  it('answers 409 for a taken id and 404 for an unknown one', async ({ admin }) => {
    const idp = await addProvider(admin)
    const again = await call(
      '/admin/identity-providers',
      json(
        'POST',
        { id: idp.id, name: 'x', issuer: 'https://idp.test/x', ...IDP_CLIENT },
        admin.token,
      ),
    )
    expect(again.status).toBe(409)
    const missing = await call('/admin/identity-providers/nope', bearer(admin.token))
    expect(missing.status).toBe(404)
    const del = await call(
      `/admin/identity-providers/${idp.id}`,
      bearer(admin.token, { method: 'DELETE' }),
    )
    expect(del.status).toBe(204)
  })

  it('is for admins only', async ({ signedIn }) => {
    const res = await call('/admin/identity-providers', bearer(signedIn.token))
    expect(res.status).toBe(403)
  })
})
