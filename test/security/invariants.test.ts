import { env } from 'cloudflare:test'
import bcrypt from 'bcryptjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../src/app'
import { createSession } from '../../src/db/sessions'
import { addressKey, escapeControls } from '../../src/domain/requester'
import {
  basicHeader,
  bearer,
  duringNextCompare,
  form,
  json,
  login,
  makeUser,
  quietConsoleError,
  uniqueName,
} from '../helpers'
import { claimsOf, forge } from './forge'

/**
 * Invariants an outside review probed (docs/security.md), one case or more each. Requests go through this
 * file's own app, so that a spy on bcryptjs sees the compares the app makes.
 */
const app = createApp()
const ORIGIN = 'https://todo.test'
const send = (path: string, init: RequestInit = {}, vars: Record<string, string> = {}) =>
  app.request(`${ORIGIN}${path}`, init, { ...env, ...vars })
const tokenFor = (username: string, password: string, headers: Record<string, string> = {}) => {
  const init = form({ grant_type: 'password', username, password })
  return send('/auth/token', { ...init, headers: { ...init.headers, ...headers } })
}

/** The cost of every hash bcrypt was asked to compare against, in order. */
function comparedCosts() {
  const spy = vi.spyOn(bcrypt, 'compare')
  return () => spy.mock.calls.map(([, hash]) => bcrypt.getRounds(hash as string))
}

const sessionsOf = async (userId: string) =>
  (
    await env.DB.prepare('SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL')
      .bind(userId)
      .all()
  ).results

const eventsOf = async (username: string, event: string) =>
  (
    await env.DB.prepare('SELECT user_agent FROM audit_events WHERE username = ?1 AND event = ?2')
      .bind(username, event)
      .all<{ user_agent: string | null }>()
  ).results

type Answer = {
  error?: string
  error_description?: string
  issues?: unknown
  access_token: string
  paths: Record<string, unknown>
}
const answer = async (res: Response): Promise<Answer> => (await res.json()) as Answer

afterEach(() => {
  vi.restoreAllMocks()
})

describe('a session is only created for the credentials that are still current', () => {
  const expectFailedLogin = async (res: Response) => {
    expect(res.status).toBe(400)
    expect(await answer(res)).toEqual({
      error: 'invalid_grant',
      error_description: 'Incorrect username or password.',
    })
  }

  it('refuses a login whose compare raced a password change: no session, no login_success', async () => {
    const u = await makeUser()
    duringNextCompare(() =>
      env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1')
        .bind(u.id, bcrypt.hashSync('an entirely new passphrase', 4))
        .run(),
    )
    await expectFailedLogin(await tokenFor(u.username, u.password))
    expect(await sessionsOf(u.id)).toEqual([])
    expect(await eventsOf(u.username, 'login_success')).toEqual([])
  })

  it('refuses a login whose compare raced a disable, and nothing of it returns on re-enable', async () => {
    const admin = await makeUser({ role: 'admin' })
    const adminToken = (await login(admin)).access_token
    const u = await makeUser()
    const patch = (disabled: boolean) =>
      send(`/users/${u.id}`, json('PATCH', { disabled }, adminToken))
    duringNextCompare(async () => expect((await patch(true)).status).toBe(200))
    await expectFailedLogin(await tokenFor(u.username, u.password))
    expect((await patch(false)).status).toBe(200)
    expect(await sessionsOf(u.id)).toEqual([])
    expect(await eventsOf(u.username, 'login_success')).toEqual([])
  })

  it('answers a login that raced the deletion of its user as a failed login, not a 500', async () => {
    const u = await makeUser()
    duringNextCompare(() => env.DB.prepare('DELETE FROM users WHERE id = ?1').bind(u.id).run())
    await expectFailedLogin(await tokenFor(u.username, u.password))
    expect(await eventsOf(u.username, 'login_success')).toEqual([])
  })

  it('creates no session (and no refresh token) for a hash the user no longer holds', async () => {
    const u = await makeUser()
    const { password_hash: verified } = (await env.DB.prepare(
      'SELECT password_hash FROM users WHERE id = ?1',
    )
      .bind(u.id)
      .first<{ password_hash: string }>())!
    const session = (verifiedHash: string, refreshHash: string) =>
      createSession(env.DB, {
        userId: u.id,
        verifiedHash,
        scope: 'read',
        refreshHash,
        now: Math.floor(Date.now() / 1000),
        ttl: 60,
      })
    await env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1')
      .bind(u.id, bcrypt.hashSync('yet another passphrase', 4))
      .run()
    expect(await session(verified, 'a'.repeat(64))).toBeNull()
    const tokens = await env.DB.prepare('SELECT 1 FROM refresh_tokens WHERE token_hash = ?1')
      .bind('a'.repeat(64))
      .all()
    expect(tokens.results).toEqual([])
    expect(await sessionsOf(u.id)).toEqual([])
  })

  it('ends sessions for good on disable: re-enabling brings back neither token', async () => {
    const admin = await makeUser({ role: 'admin' })
    const adminToken = (await login(admin)).access_token
    const u = await makeUser()
    const pair = await login(u)
    for (const disabled of [true, false])
      expect((await send(`/users/${u.id}`, json('PATCH', { disabled }, adminToken))).status).toBe(
        200,
      )
    expect((await send('/users/me', bearer(pair.access_token))).status).toBe(401)
    const refreshed = await send(
      '/auth/token',
      form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
    )
    expect(refreshed.status).toBe(400)
  })
})

describe('every failure costs what a real user would, whatever BCRYPT_COST is now', () => {
  it('compares an unknown username at the cost of stored hashes, not at a new BCRYPT_COST', async () => {
    await makeUser()
    await env.DB.prepare(
      'UPDATE users SET password_hash = ?1 WHERE id = (SELECT min(id) FROM users)',
    )
      .bind(bcrypt.hashSync('a dormant password', 5))
      .run()
    const stored = (
      await env.DB.prepare('SELECT password_hash FROM users').all<{ password_hash: string }>()
    ).results.map((r) => bcrypt.getRounds(r.password_hash))
    const costs = comparedCosts()
    const names = Array.from({ length: 12 }, () => uniqueName('nobody'))
    for (const name of [...names, ...names])
      expect((await tokenFor(name, 'a guess')).status).toBe(400)
    // BCRYPT_COST is 4 in the tests; raise it, as an operator would, and try again.
    for (const name of names) {
      const init = form({ grant_type: 'password', username: name, password: 'a guess' })
      expect((await send('/auth/token', init, { BCRYPT_COST: '9' })).status).toBe(400)
    }
    const seen = costs()
    expect(seen).toHaveLength(36)
    for (const cost of seen) expect(stored).toContain(cost)
    // One username always costs the same: repeating it tells nothing.
    expect(seen.slice(12, 24)).toEqual(seen.slice(0, 12))
    expect(seen.slice(24)).toEqual(seen.slice(0, 12))
  })

  it('compares a disabled account against its own stored hash, at its own cost', async () => {
    const u = await makeUser({ disabled: true })
    await env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1')
      .bind(u.id, bcrypt.hashSync(u.password, 6))
      .run()
    const costs = comparedCosts()
    expect((await tokenFor(u.username, u.password)).status).toBe(400)
    expect(costs()).toEqual([6])
  })
})

describe('IPv6 clients are counted by their /64', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['2001:DB8:0:1:aaaa::1', '2001:db8:0:1::/64'],
    ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['::FFFF:c633:6407', '198.51.100.7'],
    ['::1', '0:0:0:0::/64'],
    ["'; DROP TABLE x; --", "'; drop table x; --"],
  ])('keys %s as %s', (address, key) => {
    expect(addressKey(address)).toBe(key)
  })

  it('locks the whole /64 after 100 failures from it, whatever the spelling; another /64 is free', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const u = await makeUser()
      for (let i = 0; i < 101; i++) {
        const from = { 'CF-Connecting-IP': `2001:db8:77:1::${(i + 1).toString(16)}` }
        expect((await tokenFor(uniqueName('spray'), 'Summer2026!', from)).status).toBe(400)
      }
      for (const sameNet of ['2001:db8:77:1:ffff:ffff:ffff:ffff', '2001:DB8:77:1:0:0:0:abc']) {
        const res = await tokenFor(u.username, u.password, { 'CF-Connecting-IP': sameNet })
        expect(res.status).toBe(429)
      }
      const other = await tokenFor(u.username, u.password, {
        'CF-Connecting-IP': '2001:db8:77:2::1',
      })
      expect(other.status).toBe(200)
    } finally {
      vi.useRealTimers()
    }
  })

  it('counts sign-ups from an IPv4-mapped address and from the /64 with the address itself', async () => {
    const signup = (address: string) =>
      send(
        '/auth/register',
        {
          ...json('POST', { username: uniqueName('reg'), password: 'a fine passphrase' }),
          headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': address },
        },
        { ALLOW_SIGNUP: 'true' },
      )
    const spellings = ['198.51.100.77', '::ffff:198.51.100.77', '::FFFF:C633:644D']
    // The 10th in an hour starts the lock; the 11th is refused.
    for (let i = 0; i < 10; i++) expect((await signup(spellings[i % 3]!)).status).toBe(201)
    expect((await signup('::ffff:198.51.100.77')).status).toBe(429)
    for (let i = 0; i < 10; i++) expect((await signup(`2001:db8:99:1::${i + 1}`)).status).toBe(201)
    expect((await signup('2001:db8:99:1:dead:beef::1')).status).toBe(429)
    expect((await signup('2001:db8:99:2::1')).status).toBe(201)
  })
})

describe('administration cannot be lost, nor taken for good with one stolen token', () => {
  it("refuses an admin's PATCH of its own password: that needs the current password", async () => {
    const admin = await makeUser({ role: 'admin' })
    const token = (await login(admin)).access_token
    const res = await send(
      `/users/${admin.id}`,
      json('PATCH', { password: 'a takeover pass' }, token),
    )
    expect(res.status).toBe(403)
    expect((await answer(res)).error).toBe('forbidden')
    await login(admin)
    // Another user's password is still the admin's to reset.
    const other = await makeUser()
    const reset = await send(
      `/users/${other.id}`,
      json('PATCH', { password: 'a reset passphrase' }, token),
    )
    expect(reset.status).toBe(200)
  })
})

describe('credentials are taken exactly as sent', () => {
  it('refuses Basic credentials that are not UTF-8 even where U+FFFD would match', async () => {
    const u = await makeUser({ password: 'replace\uFFFDme please' })
    const ok = await send('/profile', {
      headers: { Authorization: basicHeader(u.username, u.password) },
    })
    expect(ok.status).toBe(200)
    const bytes = [
      ...new TextEncoder().encode(`${u.username}:replace`),
      0xff,
      ...new TextEncoder().encode('me please'),
    ]
    const lossy = `Basic ${btoa(String.fromCharCode(...bytes))}`
    const res = await send('/profile', { headers: { Authorization: lossy } })
    expect(res.status).toBe(401)
    expect((await answer(res)).error).toBe('invalid_credentials')
    expect(res.headers.get('WWW-Authenticate')).toBe('Basic realm="todo-auth", charset="UTF-8"')
  })

  it.each([
    [
      'a new password',
      (current: string) => ({ current_password: current, new_password: 'ab\\ud800cdefghij' }),
      'new_password',
    ],
    [
      'the current password',
      () => ({ current_password: '\\udfffabc', new_password: 'a fine passphrase' }),
      'current_password',
    ],
  ])('refuses a lone surrogate in %s with 400, storing nothing', async (_, body, path) => {
    const u = await makeUser()
    const { access_token } = await login(u)
    // Written by hand: JSON.stringify would escape the surrogate the same way, but say it plainly.
    const raw = JSON.stringify(body(u.password)).replaceAll('\\\\u', '\\u')
    const res = await send('/users/me/password', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${access_token}` },
      body: raw,
    })
    expect(res.status).toBe(400)
    const got = await answer(res)
    expect(got.error).toBe('invalid_request')
    expect(got.issues).toEqual([{ path, message: expect.stringMatching(/lone surrogate/) }])
    await login(u)
  })

  it('refuses a lone surrogate in a name', async () => {
    const admin = await makeUser({ role: 'admin' })
    const { access_token } = await login(admin)
    const res = await send('/users', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${access_token}` },
      body: `{"username":"${uniqueName('sur')}","password":"a fine passphrase","name":"Al\\ud83dce"}`,
    })
    expect(res.status).toBe(400)
    expect((await answer(res)).issues).toEqual([{ path: 'name', message: expect.any(String) }])
  })
})

describe('the issuer is configured, never taken from the Host header', () => {
  it('refuses to sign or describe itself on a public host without ISSUER', async () => {
    const logged = quietConsoleError()
    const u = await makeUser()
    const noIssuer = { ...env, ISSUER: '' }
    const res = await app.request(
      'https://evil.test/auth/token',
      form({ grant_type: 'password', username: u.username, password: u.password }),
      noIssuer,
    )
    expect(res.status).toBe(500)
    expect((await answer(res)).error).toBe('server_error')
    expect(await sessionsOf(u.id)).toEqual([])
    const meta = await app.request(
      'https://evil.test/.well-known/oauth-authorization-server',
      {},
      noIssuer,
    )
    expect(meta.status).toBe(500)
    const doc = await app.request('https://evil.test/openapi.json', {}, noIssuer)
    expect(JSON.stringify(await answer(doc))).not.toContain('evil.test')
    expect(logged).toHaveBeenCalledWith('server_error:', expect.stringContaining('ISSUER is unset'))
  })

  it('uses the loopback origin in local development', async () => {
    const u = await makeUser()
    const res = await app.request(
      'http://127.0.0.1:8787/auth/token',
      form({ grant_type: 'password', username: u.username, password: u.password }),
      { ...env, ISSUER: '' },
    )
    expect(res.status).toBe(200)
    const { access_token } = await answer(res)
    expect(claimsOf(access_token).payload.iss).toBe('http://127.0.0.1:8787')
  })

  it('takes no lookalike host for a loopback origin it has seen', async () => {
    const logged = quietConsoleError()
    const noIssuer = { ...env, ISSUER: '' }
    const metadata = (origin: string) =>
      app.request(`${origin}/.well-known/oauth-authorization-server`, {}, noIssuer)
    const local = await metadata('http://localhost:8787')
    expect(((await local.json()) as { issuer: string }).issuer).toBe('http://localhost:8787')
    for (const origin of ['http://localhost.evil.test', 'http://localhost.evil.test:8787'])
      expect((await metadata(origin)).status).toBe(500)
    expect(logged).toHaveBeenCalledWith('server_error:', expect.stringContaining('ISSUER is unset'))
  })
})

describe('a Bearer token is exactly what we signed, and bounded by its session', () => {
  it.each([
    ['a trailing "="', (sig: string) => `${sig}=`],
    [
      'spare bits set in the last character',
      (sig: string) => {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        return sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.at(-1)!) | 1]
      },
    ],
  ])('refuses a signature spelt with %s', async (_, respell) => {
    const { access_token } = await login(await makeUser())
    expect((await send('/users/me', bearer(access_token))).status).toBe(200)
    const [header, payload, sig] = access_token.split('.')
    const other = `${header}.${payload}.${respell(sig!)}`
    expect(other).not.toBe(access_token)
    expect((await send('/users/me', bearer(other))).status).toBe(401)
  })

  it("keeps a key holder's token within the session's narrowed scope", async () => {
    const u = await makeUser()
    const { access_token } = await login(u, 'read')
    const { header, payload } = claimsOf(access_token)
    const widened = await forge(header, { ...payload, scope: 'read write' })
    const res = await send('/api/todos', json('POST', { title: 'not allowed' }, widened))
    expect(res.status).toBe(403)
    expect((await answer(res)).error).toBe('insufficient_scope')
  })

  it('refuses a token whose exp is further from iat than ACCESS_TOKEN_TTL', async () => {
    const { access_token } = await login(await makeUser())
    const { header, payload } = claimsOf(access_token)
    const long = await forge(header, { ...payload, exp: (payload.iat as number) + 10 * 86_400 })
    expect((await send('/users/me', bearer(long))).status).toBe(401)
    const exact = await forge(header, { ...payload, exp: (payload.iat as number) + 900 })
    expect((await send('/users/me', bearer(exact))).status).toBe(200)
  })
})

describe('what the audit trail and the documents say', () => {
  it('escapes control characters of the User-Agent before storing it', async () => {
    const u = await makeUser()
    const ua = 'curl\x1b[2J\x07\tx\x7f\\n'
    expect((await tokenFor(u.username, u.password, { 'User-Agent': ua })).status).toBe(200)
    expect(await eventsOf(u.username, 'login_success')).toEqual([
      { user_agent: 'curl\\x1b[2J\\x07\\x09x\\x7f\\\\n' },
    ])
    expect(escapeControls('a\u202ebc')).toBe('a\\u{202e}bc')
  })

  it('documents /auth/register only while self-registration is on', async () => {
    const paths = async (vars: Record<string, string>) =>
      Object.keys((await answer(await send('/openapi.json', {}, vars))).paths)
    expect(await paths({ ALLOW_SIGNUP: 'false' })).not.toContain('/auth/register')
    expect(await paths({ ALLOW_SIGNUP: 'true' })).toContain('/auth/register')
  })
})

describe('clear answers for malformed input', () => {
  it('says what is wrong with a raw "%" in a form body', async () => {
    const res = await send('/auth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=alice&password=100%',
    })
    expect(res.status).toBe(400)
    expect((await answer(res)).error_description).toMatch(/percent-escape/)
  })

  it('accepts offset up to its documented maximum', async () => {
    const { access_token } = await login(await makeUser())
    expect((await send('/api/todos?offset=999999999', bearer(access_token))).status).toBe(200)
    expect((await send('/api/todos?offset=1000000000', bearer(access_token))).status).toBe(400)
  })

  it('answers a malformed multipart body to /auth/token with 415', async () => {
    const res = await send('/auth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'multipart/form-data; boundary=xyz' },
      body: 'this is not multipart at all',
    })
    expect(res.status).toBe(415)
    expect((await answer(res)).error).toBe('unsupported_media_type')
  })
})
