import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { dummyHash } from '../../src/domain/passwords'
import {
  accountHtml,
  accountSignIn,
  addPasskey,
  loginPage,
  submit,
  withPasskey,
} from '../account-pages'
import { bearer, call, form, login, makeUser } from '../helpers'
import {
  authorizeUrl,
  Browser,
  exchange,
  getCode,
  makeClient,
  requestToken,
  tokens,
} from '../oauth-client'
import { passkeyOptions, SoftAuthenticator } from '../webauthn'

/**
 * The account page (docs/api.md §13, src/account/): signed in with the authorization endpoint's
 * browser sign-in, forms protected like the login pages', every write behind the sign-in guard.
 */

afterEach(() => {
  vi.useRealTimers()
})

const todos = (token: string) => call('/api/todos', bearer(token))
const refresh = (refreshToken: string, clientId?: string) =>
  call(
    '/auth/token',
    form({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      ...(clientId && { client_id: clientId }),
    }),
  )

describe('signing in to /account', () => {
  it('shows the login page, with a passkey form, until the browser is signed in', async () => {
    const res = await call('/account')
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(res.headers.get('Content-Security-Policy')).toMatch(
      /^default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self';/,
    )
    const html = await res.text()
    expect(html).toContain('action="/account/login"')
    expect(html).toContain('data-ceremony="get"')
  })

  it('signs in with the password, throttled and audited as every password check', async () => {
    const user = await makeUser()
    const html = await accountSignIn(new Browser(), user)
    expect(html).toContain(`Signed in as <strong>${user.username}</strong>`)
    const wrong = await loginPage()
    const res = await submit(wrong.browser, wrong.html, '/account/login', {
      username: user.username,
      password: 'not the password',
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('Incorrect username or password.')
    const events = await env.DB.prepare(
      'SELECT event, detail FROM audit_events WHERE user_id = ?1 ORDER BY id',
    )
      .bind(user.id)
      .all()
    expect(events.results).toEqual([
      { event: 'login_success', detail: '/account/login' },
      { event: 'login_failure', detail: '/account/login' },
    ])
  })

  it('is the same sign-in as the authorization endpoint’s', async () => {
    const user = await makeUser()
    const browser = new Browser()
    await accountSignIn(browser, user)
    const { client } = await makeClient({ first_party: true })
    const res = await browser.get(await authorizeUrl(client.client_id))
    expect(res.status).toBe(303) // no login page: straight back with a code
  })
})

describe('the account page’s forms', () => {
  it('refuse a form from another site, another browser or another page', async () => {
    const user = await makeUser()
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const fields = { request: requestToken(html), name: 'Mallory', email: '' }
    const crossSite = await browser.post('/account/profile', fields, {
      Origin: 'https://evil.test',
    })
    expect(crossSite.status).toBe(403)
    const other = new Browser()
    await accountSignIn(other, await makeUser())
    expect((await other.post('/account/profile', fields)).status).toBe(403)
    // The authorization endpoint's token is sealed for another purpose.
    const { client } = await makeClient()
    const authorize = await (await browser.get(await authorizeUrl(client.client_id))).text()
    const wrongPurpose = { ...fields, request: requestToken(authorize) }
    expect((await browser.post('/account/profile', wrongPurpose)).status).toBe(403)
    const row = await env.DB.prepare('SELECT name FROM users WHERE id = ?1').bind(user.id).first()
    expect(row).toEqual({ name: `Name ${user.username}` })
  })

  it('act for the user the page was shown to, never another one signed in since', async () => {
    const alice = await makeUser()
    const browser = new Browser()
    const html = await accountSignIn(browser, alice)
    // Alice's page is still open when Bob signs in in the same browser (a new cookie); the
    // old page's token was sealed to the old cookie and to Alice.
    await accountSignIn(browser, await makeUser())
    const res = await submit(browser, html, '/account/profile', { name: 'Changed', email: '' })
    expect(res.status).toBe(403)
    const row = await env.DB.prepare('SELECT name FROM users WHERE id = ?1').bind(alice.id).first()
    expect(row).toEqual({ name: `Name ${alice.username}` })
  })
})

describe('the profile', () => {
  it('saves the name and email, marks the email self-set, and keeps every sign-in', async () => {
    const user = await makeUser()
    const browser = new Browser()
    const elsewhere = new Browser()
    await accountSignIn(elsewhere, user)
    const html = await accountSignIn(browser, user)
    const res = await submit(browser, html, '/account/profile', {
      name: '  Ada Lovelace ',
      email: 'ada@example.org',
    })
    expect(res.status).toBe(303)
    expect(res.headers.get('Location')).toBe('/account?done=profile#profile')
    const row = await env.DB.prepare('SELECT name, email, email_self_set FROM users WHERE id = ?1')
      .bind(user.id)
      .first()
    expect(row).toEqual({ name: 'Ada Lovelace', email: 'ada@example.org', email_self_set: 1 })
    expect(await accountHtml(browser, res)).toContain('Your profile is saved.')
    expect(await accountHtml(elsewhere)).toContain('value="Ada Lovelace"')
  })

  it('keeps an email an administrator set trusted when only the name changes', async () => {
    const user = await makeUser()
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const email = `${user.username}@example.com`
    expect((await submit(browser, html, '/account/profile', { name: 'N', email })).status).toBe(303)
    const row = await env.DB.prepare('SELECT email_self_set FROM users WHERE id = ?1')
      .bind(user.id)
      .first()
    expect(row).toEqual({ email_self_set: 0 })
  })

  it('refuses an email that is none, and a name with control characters', async () => {
    const user = await makeUser()
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const bad = await submit(browser, html, '/account/profile', { name: 'A', email: 'not-mail' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('Enter an email address, or nothing.')
    const ctl = await submit(browser, html, '/account/profile', { name: 'A\u0007', email: '' })
    expect(ctl.status).toBe(400)
  })
})

describe('the password', () => {
  it('changes with the current one, ends every session and other browser, keeps this one', async () => {
    const user = await makeUser()
    const app = await login(user)
    const elsewhere = new Browser()
    await accountSignIn(elsewhere, user)
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const res = await submit(browser, html, '/account/password', {
      current_password: user.password,
      new_password: 'a much newer passphrase',
      confirm_password: 'a much newer passphrase',
    })
    expect(res.status).toBe(303)
    expect((await todos(app.access_token)).status).toBe(401)
    expect(await (await elsewhere.get('/account')).text()).toContain('action="/account/login"')
    expect(await accountHtml(browser, res)).toContain('Your password is changed.')
    expect((await call('/auth/token', form({ grant_type: 'password', ...user }))).status).toBe(400)
    await login({ username: user.username, password: 'a much newer passphrase' })
  })

  it('refuses a wrong current password, a new one too common, and a mismatch', async () => {
    const user = await makeUser()
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const change = (current: string, next: string, again = next) =>
      submit(browser, html, '/account/password', {
        current_password: current,
        new_password: next,
        confirm_password: again,
      })
    const wrong = await change('wrong password', 'a much newer passphrase')
    expect(wrong.status).toBe(400)
    expect(await wrong.text()).toContain('The current password is incorrect.')
    expect((await change(user.password, 'password123')).status).toBe(400)
    const mismatch = await change(user.password, 'a much newer passphrase', 'something else')
    expect(await mismatch.text()).toContain('differ')
    await login(user)
  })
})

describe('sessions and devices', () => {
  it('lists this browser, other browsers and app sessions with where they came from', async () => {
    const user = await makeUser()
    await call('/auth/token', form({ grant_type: 'password', ...user })).then(async (r) =>
      expect(r.status).toBe(200),
    )
    const init = form({ grant_type: 'password', username: user.username, password: user.password })
    await call('/auth/token', {
      ...init,
      headers: {
        ...init.headers,
        'CF-Connecting-IP': '2001:db8:aa:bb::1',
        'User-Agent': 'curl/8.5.0',
      },
    })
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    expect(html).toContain('<strong>This browser</strong>')
    expect(html).toContain('A password login without an app')
    expect(html).toContain('curl from <code>2001:db8:aa::/48</code>')
    expect(html).not.toContain('2001:db8:aa:bb::1')
  })

  it('ends one app session: its access token is refused at the next request', async () => {
    const user = await makeUser()
    const app = await login(user)
    const other = await login(user)
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const sid = JSON.parse(atob(app.access_token.split('.')[1]!)).sid as string
    expect(html).toContain(`name="session" value="${sid}"`)
    const res = await submit(browser, html, '/account/sessions/end', { session: sid })
    expect(res.status).toBe(303)
    expect((await todos(app.access_token)).status).toBe(401)
    expect((await refresh(app.refresh_token)).status).toBe(400)
    expect((await todos(other.access_token)).status).toBe(200)
    const event = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE user_id = ?1 AND event = 'session_ended'",
    )
      .bind(user.id)
      .first()
    expect(event).toEqual({ detail: `account page: session ${sid}` })
  })

  it('ends another browser’s sign-in, never its own through that form', async () => {
    const user = await makeUser()
    const elsewhere = new Browser()
    await accountSignIn(elsewhere, user)
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const ids = [...html.matchAll(/name="signin" value="([0-9a-f]{16})"/g)].map((m) => m[1]!)
    expect(ids).toHaveLength(1) // the other browser's; this one has no such form
    const res = await submit(browser, html, '/account/sessions/end', { signin: ids[0]! })
    expect(res.status).toBe(303)
    expect(await (await elsewhere.get('/account')).text()).toContain('action="/account/login"')
    expect(await accountHtml(browser, res)).toContain('That session is ended')
  })

  it('signs out everywhere else: every session and every other browser, this one stays', async () => {
    const user = await makeUser()
    const app = await login(user)
    const elsewhere = new Browser()
    await accountSignIn(elsewhere, user)
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const res = await submit(browser, html, '/account/sessions/end-others')
    expect(res.status).toBe(303)
    expect((await todos(app.access_token)).status).toBe(401)
    expect(await (await elsewhere.get('/account')).text()).toContain('action="/account/login"')
    expect(await accountHtml(browser, res)).toContain('Every other browser and every app')
  })

  it('signs this browser out', async () => {
    const user = await makeUser()
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    expect((await submit(browser, html, '/account/logout')).status).toBe(303)
    expect(await (await browser.get('/account')).text()).toContain('action="/account/login"')
  })
})

describe('connected apps', () => {
  it('lists an app with what it may do, and withdrawing it ends its refresh token', async () => {
    const user = await makeUser()
    const { client } = await makeClient({ client_name: 'Planner Pro' })
    const browser = new Browser()
    const code = await getCode(browser, client.client_id, user, { scope: 'read' })
    const pair = await tokens(await exchange(code, { client_id: client.client_id }))
    const html = await accountHtml(browser)
    expect(html).toContain('Planner Pro')
    expect(html).toContain('See your todos, and the lists and teams you are in')
    expect(html).not.toContain('audit trail')
    const res = await submit(browser, html, '/account/apps/withdraw', {
      client_id: client.client_id,
    })
    expect(res.status).toBe(303)
    expect((await refresh(pair.refresh_token, client.client_id)).status).toBe(400)
    expect((await todos(pair.access_token)).status).toBe(401)
    expect(await accountHtml(browser)).toContain('No app has access to your account.')
  })
})

describe('adding or removing a way in', () => {
  it('needs a fresh sign-in: the password confirms it', async () => {
    const user = await makeUser()
    const { browser, auth } = await withPasskey(user)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 301_000)
    const stale = await accountHtml(browser)
    expect(stale).toContain('confirm it is you')
    expect(stale).not.toContain('data-ceremony="create"')
    const refused = await submit(browser, stale, '/account/passkeys/remove', { id: auth.id })
    expect(refused.status).toBe(403)
    const wrong = await submit(browser, stale, '/account/confirm', { password: 'nope nope' })
    expect(wrong.status).toBe(400)
    const confirmed = await submit(browser, stale, '/account/confirm', { password: user.password })
    expect(confirmed.status).toBe(303)
    const html = await accountHtml(browser)
    expect(html).toContain('data-ceremony="create"')
    expect((await submit(browser, html, '/account/passkeys/remove', { id: auth.id })).status).toBe(
      303,
    )
  })

  it('takes one of the user’s own passkeys as a confirmation, not another’s', async () => {
    const user = await makeUser()
    const { browser, auth } = await withPasskey(user)
    const { auth: strangers } = await withPasskey(await makeUser())
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 301_000)
    const stale = await accountHtml(browser)
    const options = passkeyOptions(stale, 'get')
    expect(options.allowCredentials).toEqual([
      { id: auth.id, type: 'public-key', transports: ['internal'] },
    ])
    const foreign = await strangers.assert(options)
    const refused = await submit(browser, stale, '/account/confirm', {
      passkey: JSON.stringify(foreign),
    })
    expect(refused.status).toBe(400)
    // That answer spent the page's challenge: a new page has a new one.
    const again = await accountHtml(browser)
    const own = await auth.assert(passkeyOptions(again, 'get'))
    const ok = await submit(browser, again, '/account/confirm', { passkey: JSON.stringify(own) })
    expect(ok.status).toBe(303)
    expect(await accountHtml(browser)).toContain('data-ceremony="create"')
  })

  it('never removes the last way in', async () => {
    const user = await makeUser()
    const { browser, auth } = await withPasskey(user)
    // An account a provider made has no password of its own; its only way in is the passkey.
    await env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1')
      .bind(user.id, dummyHash(4))
      .run()
    const html = await accountHtml(browser)
    const res = await submit(browser, html, '/account/passkeys/remove', { id: auth.id })
    expect(res.status).toBe(409)
    expect(await res.text()).toContain('your only way to sign in')
    const second = await SoftAuthenticator.create()
    expect((await addPasskey(browser, html, second, 'Backup')).status).toBe(303)
    const again = await accountHtml(browser)
    expect((await submit(browser, again, '/account/passkeys/remove', { id: auth.id })).status).toBe(
      303,
    )
  })

  it('unlinks a provider while a passkey is left, which is then the last way in', async () => {
    const user = await makeUser()
    const { browser, auth } = await withPasskey(user)
    const provider = `p${crypto.randomUUID().slice(0, 8)}`
    const issuer = `https://${provider}.example`
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO identity_providers
           (id, name, issuer, client_id, client_secret, created_at, updated_at)
         VALUES (?1, 'Example SSO', ?2, 'c', 'x', '2026-01-01', '2026-01-01')`,
      ).bind(provider, issuer),
      env.DB.prepare(
        `INSERT INTO identities (issuer, subject, provider_id, user_id, created_at)
         VALUES (?2, 'sub', ?1, ?3, '2026-01-01')`,
      ).bind(provider, issuer, user.id),
      // No password of its own, as an account a provider made.
      env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1').bind(
        user.id,
        dummyHash(4),
      ),
    ])
    const html = await accountHtml(browser)
    expect(html).toContain('Example SSO')
    const unlink = await submit(browser, html, '/account/identities/unlink', { provider })
    expect(unlink.status).toBe(303)
    const remove = await submit(browser, html, '/account/passkeys/remove', { id: auth.id })
    expect(remove.status).toBe(409)
  })

  it('renames a passkey without a fresh sign-in', async () => {
    const user = await makeUser()
    const { browser, auth } = await withPasskey(user)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 301_000)
    const html = await accountHtml(browser)
    const res = await submit(browser, html, '/account/passkeys/rename', {
      id: auth.id,
      name: 'Work laptop',
    })
    expect(res.status).toBe(303)
    expect(await accountHtml(browser)).toContain('<strong>Work laptop</strong>')
  })
})

describe('a passkey sign-in through the page', () => {
  it('is offered at a domain, never at an IP address, where browsers refuse it', async () => {
    const res = await call('/account')
    expect(await res.text()).toContain('/passkey.js')
    const { createApp } = await import('../../src/app')
    const local = await createApp().request(
      'http://127.0.0.1:8787/account',
      {},
      { ...env, ISSUER: 'http://127.0.0.1:8787' },
    )
    expect(local.headers.get('Content-Security-Policy')).not.toContain('script-src')
    expect(await local.text()).not.toContain('<script')
  })
})
