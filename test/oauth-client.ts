import { env } from 'cloudflare:test'
import { expect } from 'vitest'
import { insertClient, type NewClient } from '../src/db/clients'
import { s256 } from '../src/oauth/authorize/pkce'
import { call, form, type TestUser, type TokenPair } from './helpers'

export const ORIGIN = 'https://todo.test'
export const REDIRECT = 'https://app.example/cb'

/** A client straight through the Worker's own query; public unless given a secret method. */
export async function makeClient(opts: Partial<NewClient> = {}) {
  return insertClient(env.DB, {
    client_name: 'Example App',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'read write',
    token_endpoint_auth_method: 'none',
    first_party: false,
    ...opts,
  })
}

export const VERIFIER = 'verifier-0123456789-abcdefghijklmnopqrstuvwxyz'

/**
 * A browser: keeps the one cookie the authorization pages set. Its requests go to the Worker
 * (`call`), or to `send` (a test file's own app, whose module a spy can reach).
 */
export class Browser {
  cookie = ''

  constructor(private readonly send: typeof call = call) {}

  async get(path: string): Promise<Response> {
    return this.keep(await this.send(path, { headers: this.headers(), redirect: 'manual' }))
  }

  async post(path: string, fields: Record<string, string>, extra: Record<string, string> = {}) {
    const init = form(fields)
    return this.keep(
      await this.send(path, {
        ...init,
        redirect: 'manual',
        headers: { ...init.headers, Origin: ORIGIN, ...this.headers(), ...extra },
      }),
    )
  }

  private headers(): Record<string, string> {
    return this.cookie ? { Cookie: this.cookie } : {}
  }

  private keep(res: Response): Response {
    const set = res.headers.get('Set-Cookie')
    if (set) this.cookie = set.split(';')[0]!
    return res
  }
}

/** The pending-request token a page's form carries. */
export const requestToken = (html: string): string => {
  const m = html.match(/name="request" value="([^"]+)"/)
  if (!m) throw new Error(`no request token in: ${html.slice(0, 400)}`)
  return m[1]!
}

export async function authorizeUrl(
  clientId: string,
  params: Record<string, string> = {},
): Promise<string> {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: await s256(VERIFIER),
    code_challenge_method: 'S256',
    state: 'st-123',
    ...params,
  })
  return `/auth/authorize?${q}`
}

/** The parameters of a 303 back to the app. */
export function redirectParams(res: Response, base = REDIRECT): URLSearchParams {
  expect(res.status).toBe(303)
  const location = res.headers.get('Location')!
  expect(location.startsWith(`${base}?`), location).toBe(true)
  return new URL(location).searchParams
}

/** Runs the pages as a person would: login (if asked), consent (if asked); returns the code. */
export async function getCode(
  browser: Browser,
  clientId: string,
  user: Pick<TestUser, 'username' | 'password'>,
  params: Record<string, string> = {},
): Promise<string> {
  let res = await browser.get(await authorizeUrl(clientId, params))
  if (res.status === 200 && (await res.clone().text()).includes('action="/auth/authorize/login"')) {
    res = await browser.post('/auth/authorize/login', {
      request: requestToken(await res.text()),
      username: user.username,
      password: user.password,
    })
  }
  if (res.status === 200) {
    res = await browser.post('/auth/authorize/consent', {
      request: requestToken(await res.text()),
      decision: 'allow',
    })
  }
  const back = redirectParams(res, params.redirect_uri ?? REDIRECT)
  expect(back.get('state')).toBe(params.state ?? 'st-123')
  expect(back.get('iss')).toBe(ORIGIN)
  return back.get('code')!
}

export const exchange = (code: string, fields: Record<string, string>, headers = {}) => {
  const init = form({
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: VERIFIER,
    ...fields,
  })
  return call('/auth/token', { ...init, headers: { ...init.headers, ...headers } })
}

export const tokens = async (res: Response): Promise<TokenPair> => {
  expect(res.status, await res.clone().text()).toBe(200)
  return res.json()
}

export const claims = (accessToken: string) =>
  JSON.parse(atob(accessToken.split('.')[1]!.replaceAll('-', '+').replaceAll('_', '/')))
