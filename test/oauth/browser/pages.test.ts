import { describe, expect, it } from 'vitest'
import { scopeText } from '../../../src/oauth/browser/scope-text'
import { makeUser } from '../../helpers'
import { authorizeUrl, Browser, makeClient, requestToken } from '../../oauth-client'

/**
 * Pages people trust (docs/web.md, "The server's pages"): Allow and Deny look different and Deny
 * is what an accidental Enter chooses; a success looks like one; the consent page says only
 * what this user's role lets an app do, and points to /account for withdrawing it.
 */

/** The consent page of a third-party app for `user`, shown after the password. */
async function consentPage(role: 'user' | 'admin') {
  const user = await makeUser({ role })
  const { client } = await makeClient({ client_name: 'Planner Pro' })
  const browser = new Browser()
  const login = await (await browser.get(await authorizeUrl(client.client_id))).text()
  const res = await browser.post('/auth/authorize/login', {
    request: requestToken(login),
    username: user.username,
    password: user.password,
  })
  expect(res.status).toBe(200)
  return res.text()
}

/** The submit buttons of the page's `decision` form, in document order. */
const decisionButtons = (html: string) =>
  [...html.matchAll(/<button[^>]*name="decision"[^>]*>/g)].map(([tag]) => tag)

describe('the consent page', () => {
  it('puts Deny first (the form’s default), focuses nothing, and styles Allow alone', async () => {
    const html = await consentPage('user')
    const [first, second] = decisionButtons(html)
    expect(first).toContain('value="deny"')
    expect(first).toContain('class="deny"')
    expect(second).toContain('value="allow"')
    expect(second).toContain('class="allow"')
    expect(html).not.toContain('autofocus')
  })

  it('tells a user only what their own account lets the app do', async () => {
    const html = await consentPage('user')
    expect(html).toContain('See your todos, and the lists and teams you are in')
    expect(html).not.toMatch(/audit trail|user accounts|as an admin/)
  })

  it('tells an admin what an admin’s app may do besides', async () => {
    const html = await consentPage('admin')
    expect(html).toContain(
      'as an admin, also see the user accounts, the audit trail, the registered apps and the ' +
        'identity providers',
    )
  })

  it('points to the account page for withdrawing access, not an API path', async () => {
    const html = await consentPage('user')
    expect(html).toContain('<a href="/account#apps">')
    expect(html).not.toContain('DELETE /users/me/clients')
  })
})

describe('the scope texts', () => {
  it('follow the policy for each role', () => {
    expect(scopeText('write', 'user')).toBe(
      'Create, change and delete your todos and lists, and create teams',
    )
    expect(scopeText('write', 'admin')).toMatch(/as an admin, also manage user accounts, apps/)
    expect(scopeText('other', 'user')).toBe('other')
  })
})

describe('the device page', () => {
  async function approval() {
    const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'
    const user = await makeUser()
    const { client } = await makeClient({ grant_types: [DEVICE] })
    const started = (await (
      await new Browser().post('/auth/device_authorization', { client_id: client.client_id })
    ).json()) as { user_code: string }
    const browser = new Browser()
    const code = await (await browser.get('/device')).text()
    const loginPage = await (
      await browser.post('/device/code', {
        request: requestToken(code),
        user_code: started.user_code,
      })
    ).text()
    const page = await (
      await browser.post('/device/login', {
        request: requestToken(loginPage),
        username: user.username,
        password: user.password,
      })
    ).text()
    return { browser, page }
  }

  it('puts Deny first and focused, Allow styled apart', async () => {
    const { page } = await approval()
    const [first, second] = decisionButtons(page)
    expect(first).toMatch(/value="deny".*class="deny".*autofocus/)
    expect(second).toContain('class="allow"')
    expect(second).not.toContain('autofocus')
    expect(page).not.toContain('audit trail')
  })

  it('styles "Device connected" as a success, not as an error', async () => {
    const { browser, page } = await approval()
    const done = await (
      await browser.post('/device/decision', { request: requestToken(page), decision: 'allow' })
    ).text()
    expect(done).toContain('Device connected')
    expect(done).toContain('<p class="notice success" role="status">')
    expect(done).not.toContain('id="message"')
  })
})
