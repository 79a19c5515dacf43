import { env } from 'cloudflare:test'
import { describe, expect } from 'vitest'
import { call, it, json, type SignedIn, uniqueName } from '../helpers'
import { authorizeUrl, Browser, makeClient, redirectParams } from '../oauth-client'

// The second outside penetration test (docs/security.md): a provider's `allowed_domains` was checked against the
// part of the upstream email after its last `@`, so an upstream-verified `a@evil.test@corp.example`
// passed for `corp.example` and became an account there. Addresses are now parsed strictly (one
// `@`, an RFC 5321 dot-string local part, a host name): anything else matches no domain.
//
// The steps through the fake provider (test/fake-idp/worker.js) are those of
// test/integration/federation.test.ts, cut down to what these tests need.

const IDP_CLIENT = { client_id: 'todo-auth', client_secret: 'fake-idp-secret' }

async function addProvider(admin: SignedIn, allowed: string[]) {
  const id = uniqueName('idp').toLowerCase()
  const res = await call(
    '/admin/identity-providers',
    json(
      'POST',
      {
        id,
        name: `Corp ${id}`,
        issuer: `https://idp.test/${id}`,
        ...IDP_CLIENT,
        allow_signup: true,
        allowed_domains: allowed,
      },
      admin.token,
    ),
  )
  expect(res.status, await res.clone().text()).toBe(201)
  return id
}

const encodeFake = (fake: object) =>
  btoa(JSON.stringify(fake)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')

/** Signs in through the provider, which vouches for `email` (verified); the callback's answer. */
async function federate(providerId: string, email: string): Promise<Response> {
  const browser = new Browser()
  const app = (await makeClient({ first_party: true })).client.client_id
  const page = await (await browser.get(await authorizeUrl(app))).text()
  const link = page.match(new RegExp(`href="(/auth/federate/${providerId}\\?[^"]+)"`))
  expect(link, page).not.toBeNull()
  const start = await browser.get(link![1]!.replaceAll('&amp;', '&'))
  expect(start.status).toBe(303)
  const at = new URL(start.headers.get('Location')!)
  at.searchParams.set('fake', encodeFake({ sub: uniqueName('sub'), email, email_verified: true }))
  const back = await fetch(at, { redirect: 'manual' })
  expect(back.status).toBe(303)
  const callback = new URL(back.headers.get('Location')!)
  return browser.get(callback.pathname + callback.search)
}

const accountsWith = async (email: string) =>
  (
    await env.DB.prepare('SELECT COUNT(*) AS n FROM users WHERE email = ?1')
      .bind(email)
      .first<{ n: number }>()
  )?.n

describe('allowed_domains of an upstream identity provider', () => {
  it('matches no domain for anything but one plain address', async ({ admin }) => {
    const idp = await addProvider(admin, ['corp.example'])
    for (const email of [
      'a@evil.test@corp.example',
      '"a@evil.test"@corp.example',
      'a@evil.test%corp.example@corp.example',
      '@corp.example',
      '.a@corp.example',
      'a..b@corp.example',
      'a b@corp.example',
      'a@corp.example.',
      'a@corp..example',
      'a@-corp.example',
      'a@[192.0.2.1]',
      'corp.example',
    ]) {
      const res = await federate(idp, email)
      expect(res.status, email).toBe(400)
      expect(await res.text(), email).toMatch(/allowed domain/)
      expect(await accountsWith(email), email).toBe(0)
    }

    // A plain address still matches, its domain in any case, and only that exact domain.
    const email = `first.last+tag-${uniqueName('x')}@Mail.Corp.Example`
    expect((await federate(idp, email)).status).toBe(400)
    const sub = await addProvider(admin, ['mail.corp.example'])
    expect(redirectParams(await federate(sub, email)).get('code')).toBeTruthy()
    expect(await accountsWith(email)).toBe(1)
  })
})
