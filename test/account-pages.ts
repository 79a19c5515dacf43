import { expect } from 'vitest'
import type { TestUser } from './helpers'
import { Browser, requestToken } from './oauth-client'
import { passkeyOptions, SoftAuthenticator } from './webauthn'

/**
 * The account page (src/account/) driven as a browser would: the cookie kept by Browser, forms
 * posted from our origin with the page's token.
 */

/** Signs `user` in on /account with the password; the account page's HTML. */
export async function accountSignIn(browser: Browser, user: TestUser): Promise<string> {
  const login = await browser.get('/account')
  expect(login.status).toBe(200)
  const res = await browser.post('/account/login', {
    request: requestToken(await login.text()),
    username: user.username,
    password: user.password,
  })
  expect(res.status, await res.clone().text()).toBe(303)
  expect(res.headers.get('Location')).toBe('/account')
  return accountHtml(browser)
}

/** The account page as this browser sees it now (where `after`, a 303 of the page, sends it). */
export async function accountHtml(browser: Browser, after?: Response): Promise<string> {
  const page = await browser.get(after?.headers.get('Location') ?? '/account')
  expect(page.status).toBe(200)
  return page.text()
}

/** Posts a form of the account page (its token from `html`). */
export const submit = (
  browser: Browser,
  html: string,
  path: string,
  fields: Record<string, string> = {},
) => browser.post(path, { request: requestToken(html), ...fields })

/** Adds a passkey made by `auth` from the page `html`; the answer of POST /account/passkeys. */
export const addPasskey = async (
  browser: Browser,
  html: string,
  auth: SoftAuthenticator,
  name = 'Laptop',
) => {
  const credential = await auth.register(passkeyOptions(html, 'create'))
  return submit(browser, html, '/account/passkeys', { name, passkey: JSON.stringify(credential) })
}

/** A user with a passkey of a new authenticator, signed in with the password in `browser`. */
export async function withPasskey(user: TestUser) {
  const browser = new Browser()
  const html = await accountSignIn(browser, user)
  const auth = await SoftAuthenticator.create()
  const added = await addPasskey(browser, html, auth)
  expect(added.status, await added.clone().text()).toBe(303)
  expect(added.headers.get('Location')).toBe('/account?done=passkey-added#passkeys')
  return { browser, auth }
}

/** A fresh browser's /account login page: its HTML (token and sign-in options). */
export async function loginPage(browser = new Browser()) {
  const res = await browser.get('/account')
  expect(res.status).toBe(200)
  return { browser, html: await res.text() }
}

/**
 * Every route of the account page, once, as a person goes through it (for the tours of the API:
 * test/http/openapi.test.ts, test/db/query-plans.test.ts). `send` takes the method, the path and
 * the init; the cookie and Origin are kept here. `provider` names the identity provider whose
 * link the tour starts (the tours' own, or any).
 */
export async function tourTheAccountPage(
  send: (method: string, path: string, init?: RequestInit) => Promise<Response>,
  user: TestUser,
  provider: string,
) {
  let cookie = ''
  const keep = (res: Response) => {
    const set = res.headers.get('Set-Cookie')
    if (set && !set.includes('Max-Age=0')) cookie = set.split(';')[0]!
    return res
  }
  const get = async (path: string) =>
    keep(await send('GET', path, { redirect: 'manual', headers: { Cookie: cookie } }))
  const post = async (path: string, fields: Record<string, string>) =>
    keep(
      await send('POST', path, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams(fields),
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Origin: 'https://todo.test',
          Cookie: cookie,
        },
      }),
    )
  const page = async () => (await get('/account')).text()

  const login = await page()
  await post('/account/login', {
    request: requestToken(login),
    username: user.username,
    password: user.password,
  })
  let html = await page()
  const token = () => requestToken(html)
  await post('/account/profile', { request: token(), name: 'Toured', email: '' })
  const auth = await SoftAuthenticator.create()
  const credential = await auth.register(passkeyOptions(html, 'create'))
  await post('/account/passkeys', {
    request: token(),
    name: 'Tour',
    passkey: JSON.stringify(credential),
  })
  await post('/account/passkeys/rename', { request: token(), id: auth.id, name: 'Tour 2' })
  // Out, and in again with the passkey (its read, its challenge spent, the counter and sign-in).
  await post('/account/logout', { request: token() })
  const again = await page()
  const assertion = await auth.assert(passkeyOptions(again, 'get'))
  await post('/account/login', { request: requestToken(again), passkey: JSON.stringify(assertion) })
  html = await page()
  await post('/account/sessions/end', { request: token(), session: crypto.randomUUID() }) // 400
  await post('/account/apps/withdraw', { request: token(), client_id: 'none' }) // 400
  await get(`/account/link/${provider}?request=${encodeURIComponent(token())}`)
  await post('/account/identities/unlink', { request: token(), provider }) // 400: none linked
  // A fresh sign-in with the password, so that removing the passkey leaves this one standing.
  await post('/account/confirm', { request: token(), password: user.password })
  html = await page()
  await post('/account/passkeys/remove', { request: token(), id: auth.id })
  const next = 'a newer tour passphrase'
  await post('/account/password', {
    request: token(),
    current_password: user.password,
    new_password: next,
    confirm_password: next,
  })
  html = await page()
  await post('/account/sessions/end-others', { request: token() })
  await post('/account/logout', { request: token() })
  return { password: next }
}
