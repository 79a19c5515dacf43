import { env } from 'cloudflare:test'
import bcrypt from 'bcryptjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../src/app'
import { issueCode } from '../../src/db/codes'
import { duringNextCompare, json, login, makeUser, quietConsoleError } from '../helpers'
import {
  authorizeUrl,
  Browser,
  exchange,
  getCode,
  makeClient,
  REDIRECT,
  requestToken,
  VERIFIER,
} from '../oauth-client'

/**
 * The rule of docs/security.md for the code flow: a sign-in, a code and the session it is
 * exchanged for exist only while the user is enabled and still holds the credentials that were
 * verified, checked in the very statement that writes each. Requests go through this file's own
 * app, so that a spy on bcryptjs sees the compares the login page makes.
 */
const app = createApp()
const ORIGIN = 'https://todo.test'
const send = async (path: string, init: RequestInit = {}) =>
  app.request(`${ORIGIN}${path}`, init, env)

const rowsOf = async (table: 'signins' | 'authorization_codes' | 'sessions', userId: string) =>
  (await env.DB.prepare(`SELECT 1 FROM ${table} WHERE user_id = ?1`).bind(userId).all()).results

const loginSuccesses = async (username: string) =>
  (
    await env.DB.prepare(
      "SELECT 1 FROM audit_events WHERE username = ?1 AND event = 'login_success'",
    )
      .bind(username)
      .all()
  ).results

/** An admin's token, to change other users over the API as an operator would. */
const adminToken = async () => (await login(await makeUser({ role: 'admin' }))).access_token

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the login page signs no one in for credentials that changed during the check', () => {
  /** Shows the login page to a fresh browser and submits `user`'s password on it. */
  async function submitLogin(user: { username: string; password: string }, clientId: string) {
    const browser = new Browser(send)
    const page = await browser.get(await authorizeUrl(clientId))
    expect(page.status).toBe(200)
    const res = await browser.post('/auth/authorize/login', {
      request: requestToken(await page.text()),
      username: user.username,
      password: user.password,
    })
    return { browser, res }
  }

  it('shows the page again, with no sign-in and no code, when the password changed', async () => {
    const u = await makeUser()
    const { client } = await makeClient({ first_party: true })
    duringNextCompare(() =>
      env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1')
        .bind(u.id, bcrypt.hashSync('an entirely new passphrase', 4))
        .run(),
    )
    const { browser, res } = await submitLogin(u, client.client_id)
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('Incorrect username or password.')
    expect(await rowsOf('signins', u.id)).toEqual([])
    expect(await rowsOf('authorization_codes', u.id)).toEqual([])
    expect(await loginSuccesses(u.username)).toEqual([])
    // Nor is the browser signed in: the app's next request gets the login page again.
    const again = await browser.get(await authorizeUrl(client.client_id))
    expect(again.status).toBe(200)
    expect(await again.text()).toContain('action="/auth/authorize/login"')
  })

  it('signs no one in when the account was disabled, and re-enabling brings nothing back', async () => {
    const admin = await adminToken()
    const u = await makeUser()
    const { client } = await makeClient({ first_party: true })
    const patch = (disabled: boolean) => send(`/users/${u.id}`, json('PATCH', { disabled }, admin))
    duringNextCompare(async () => expect((await patch(true)).status).toBe(200))
    const { browser, res } = await submitLogin(u, client.client_id)
    expect(res.status).toBe(400)
    expect((await patch(false)).status).toBe(200)
    expect(await rowsOf('signins', u.id)).toEqual([])
    expect(await rowsOf('authorization_codes', u.id)).toEqual([])
    const again = await browser.get(await authorizeUrl(client.client_id))
    expect(await again.text()).toContain('action="/auth/authorize/login"')
  })
})

describe('a code gives no session once its user changed after the sign-in', () => {
  /** A fresh user signed in through the login page of a first-party client, and a code. */
  async function signedInWithCode() {
    const u = await makeUser()
    const { client } = await makeClient({ first_party: true })
    const browser = new Browser()
    const code = await getCode(browser, client.client_id, u)
    return { u, client, browser, code }
  }

  const expectRefused = async (res: Response, userId: string) => {
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant')
    expect(await rowsOf('sessions', userId)).toEqual([])
  }

  it('refuses the exchange after an admin reset the password', async () => {
    const admin = await adminToken()
    const { u, client, code } = await signedInWithCode()
    const reset = await send(
      `/users/${u.id}`,
      json('PATCH', { password: 'a password set by the admin' }, admin),
    )
    expect(reset.status).toBe(200)
    await expectRefused(await exchange(code, { client_id: client.client_id }), u.id)
  })

  it('refuses the exchange after a disable, even once the account is enabled again', async () => {
    const admin = await adminToken()
    const { u, client, code } = await signedInWithCode()
    for (const disabled of [true, false])
      expect((await send(`/users/${u.id}`, json('PATCH', { disabled }, admin))).status).toBe(200)
    await expectRefused(await exchange(code, { client_id: client.client_id }), u.id)
  })

  it('issues no code for a sign-in whose user changed after it was checked', async () => {
    const { u, client, browser } = await signedInWithCode()
    // A change that lands between the sign-in's read and the code's insert: the insert itself
    // must see it. Every account change stamps updated_at (src/db/users.ts: updateUser).
    await env.DB.prepare('UPDATE users SET updated_at = ?2 WHERE id = ?1')
      .bind(u.id, new Date(Date.now() + 1000).toISOString())
      .run()
    const before = await rowsOf('authorization_codes', u.id)
    const code = await issueCode(env.DB, {
      clientId: client.client_id,
      userId: u.id,
      signin: browser.cookie.split('=')[1]!,
      redirectUri: REDIRECT,
      challenge: 'x'.repeat(43),
      scope: 'read',
    })
    expect(code).toBeNull()
    expect(await rowsOf('authorization_codes', u.id)).toEqual(before)
    // The verifier is not the problem: a fresh sign-in gets a code and a session as usual.
    const fresh = await getCode(new Browser(), client.client_id, u)
    const res = await exchange(fresh, { client_id: client.client_id, code_verifier: VERIFIER })
    expect(res.status).toBe(200)
  })
})

describe('without ISSUER, off loopback', () => {
  it('answers 500 on the authorization endpoint and its forms, and signs no one in', async () => {
    const logged = quietConsoleError()
    const u = await makeUser()
    const { client } = await makeClient({ first_party: true })
    const browser = new Browser(send)
    const page = await browser.get(await authorizeUrl(client.client_id))
    const request = requestToken(await page.text())
    // The same browser and host, on a deployment that forgot ISSUER.
    const unconfigured = new Browser(async (path, init = {}) =>
      app.request(`${ORIGIN}${path}`, init, { ...env, ISSUER: '' }),
    )
    unconfigured.cookie = browser.cookie
    expect((await unconfigured.get(await authorizeUrl(client.client_id))).status).toBe(500)
    const res = await unconfigured.post('/auth/authorize/login', {
      request,
      username: u.username,
      password: u.password,
    })
    expect(res.status).toBe(500)
    expect(await rowsOf('signins', u.id)).toEqual([])
    expect(await rowsOf('authorization_codes', u.id)).toEqual([])
    expect(await loginSuccesses(u.username)).toEqual([])
    expect(String(logged.mock.calls[0])).toContain('set ISSUER')
  })
})
