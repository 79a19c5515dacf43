import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { toBase64Url } from '../../../src/lib/crypto'
import { type Pending, seal, unseal } from '../../../src/oauth/browser/pending'

// The form token of the login, consent and device pages (docs/api.md: valid 10 minutes, bound to
// the browser's cookie). `env` holds the test JWT_SECRET from vitest.config.ts.

const request: Pending = {
  client_id: 'client-1',
  redirect_uri: 'https://app.example/cb',
  state: 'xyz',
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  scope: 'read',
}
const BROWSER = 'browser-cookie-1'
const TEN_MINUTES = 600

const encoder = new TextEncoder()
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** Another base64url character, differing in the highest of its six bits (never only padding). */
const flip = (ch: string) => BASE64URL[BASE64URL.indexOf(ch) ^ 32]!
const decodeBody = (token: string) =>
  JSON.parse(atob(token.split('.')[0]!.replaceAll('-', '+').replaceAll('_', '/')))
const encodeBody = (claims: object) => toBase64Url(encoder.encode(JSON.stringify(claims)))

afterEach(() => {
  vi.useRealTimers()
})

describe('pending authorization requests in a form token', () => {
  it('gives the sealed request back in the browser it was shown to', async () => {
    const token = await seal(env, request, BROWSER)
    expect(await unseal(env, token, BROWSER)).toEqual(request)
  })

  it('gives back a device page request sealed for the device page', async () => {
    const token = await seal(env, { user_code: 'BDWP-HQPK' }, BROWSER, 'device')
    expect(await unseal(env, token, BROWSER, 'device')).toEqual({ user_code: 'BDWP-HQPK' })
  })

  it('does not carry the browser binding in the clear', async () => {
    const token = await seal(env, request, BROWSER)
    expect(JSON.stringify(decodeBody(token))).not.toContain(BROWSER)
  })

  it('is refused in another browser, or with no browser cookie', async () => {
    const token = await seal(env, request, BROWSER)
    expect(await unseal(env, token, 'browser-cookie-2')).toBeNull()
    expect(await unseal(env, token, null)).toBeNull()
    // Not even one sealed for a binding that a missing cookie would read as, were it stringified.
    expect(await unseal(env, await seal(env, request, 'null'), null)).toBeNull()
  })

  it('is refused for the other purpose, either way round', async () => {
    const forAuthorize = await seal(env, request, BROWSER)
    const forDevice = await seal(env, request, BROWSER, 'device')
    expect(await unseal(env, forAuthorize, BROWSER, 'device')).toBeNull()
    expect(await unseal(env, forDevice, BROWSER, 'authorize')).toBeNull()
  })

  it('is good until ten minutes have passed, and refused from then on', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = Date.UTC(2026, 11, 1, 12, 0, 0)
    vi.setSystemTime(start)
    const token = await seal(env, request, BROWSER)
    vi.setSystemTime(start + (TEN_MINUTES - 1) * 1000)
    expect(await unseal(env, token, BROWSER)).toEqual(request)
    vi.setSystemTime(start + TEN_MINUTES * 1000)
    expect(await unseal(env, token, BROWSER)).toBeNull()
  })

  it('is refused when any character of it is changed', async () => {
    const token = await seal(env, request, BROWSER)
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue
      const changed = token.slice(0, i) + flip(token[i]!) + token.slice(i + 1)
      expect(await unseal(env, changed, BROWSER), `character ${i}`).toBeNull()
    }
  })

  it('is refused when its request or expiry is rewritten under the old MAC', async () => {
    const token = await seal(env, request, BROWSER)
    const mac = token.split('.')[1]
    const claims = decodeBody(token)
    for (const rewritten of [
      { ...claims, redirect_uri: 'https://evil.test/cb' },
      { ...claims, exp: claims.exp + 86_400 },
    ])
      expect(await unseal(env, `${encodeBody(rewritten)}.${mac}`, BROWSER)).toBeNull()
  })

  it('is refused under another JWT_SECRET, including the one it rotated from', async () => {
    const token = await seal(env, request, BROWSER)
    const rotated = {
      ...env,
      JWT_SECRET: 'another-test-secret-0123456789abcdef0123456789',
      JWT_SECRET_PREVIOUS: env.JWT_SECRET,
    }
    expect(await unseal(rotated, token, BROWSER)).toBeNull()
    expect(await unseal(rotated, await seal(rotated, request, BROWSER), BROWSER)).toEqual(request)
  })

  it('is refused when MACed with the access token signing key itself', async () => {
    const signing = await crypto.subtle.importKey(
      'raw',
      encoder.encode(env.JWT_SECRET),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    const body = (await seal(env, request, BROWSER)).split('.')[0]!
    const mac = await crypto.subtle.sign('HMAC', signing, encoder.encode(body))
    const forged = `${body}.${toBase64Url(new Uint8Array(mac))}`
    expect(await unseal(env, forged, BROWSER)).toBeNull()
  })

  it('is refused with a part added, even to a genuine token', async () => {
    const token = await seal(env, request, BROWSER)
    expect(await unseal(env, `${token}.${token.split('.')[1]}`, BROWSER)).toBeNull()
  })

  it('is refused when longer than 8 KiB, even when genuine', async () => {
    const token = await seal(env, { ...request, state: 's'.repeat(8192) }, BROWSER)
    expect(await unseal(env, token, BROWSER)).toBeNull()
  })

  it.each([
    ['no token', undefined],
    ['an empty token', ''],
    ['one part', 'abc'],
    ['parts that are not base64url', '!!!.???'],
  ])('is refused as %s', async (_, token) => {
    expect(await unseal(env, token, BROWSER)).toBeNull()
  })
})
