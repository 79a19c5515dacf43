import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { basicHeader, call, form, json, login, makeUser, uniqueName } from '../helpers'

const tryLogin = (username: string, password: string, headers: Record<string, string> = {}) => {
  const init = form({ grant_type: 'password', username, password })
  return call('/auth/token', { ...init, headers: { ...init.headers, ...headers } })
}

async function failTimes(n: number, username: string, headers?: Record<string, string>) {
  for (let i = 0; i < n; i++)
    expect((await tryLogin(username, `wrong-${i}`, headers)).status).toBe(400)
}

async function expectLocked(res: Response, retryAfter?: number) {
  expect(res.status).toBe(429)
  expect(await res.json()).toEqual({
    error: 'too_many_attempts',
    error_description: 'Too many failed attempts; try again later.',
  })
  const seconds = Number(res.headers.get('Retry-After'))
  expect(Number.isInteger(seconds) && seconds > 0).toBe(true)
  if (retryAfter !== undefined) expect(seconds).toBe(retryAfter)
  expect(res.headers.get('WWW-Authenticate')).toBeNull()
}

const advance = (seconds: number) => vi.setSystemTime(Date.now() + seconds * 1000)

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('per-username lockout', () => {
  it('locks a username after 5 failures: 429 with Retry-After, even for the right password', async () => {
    const u = await makeUser()
    await failTimes(5, u.username)
    await expectLocked(await tryLogin(u.username, u.password), 60)
    await expectLocked(await tryLogin(u.username, 'wrong'), 60)
  })

  it('counts case variants of a username together', async () => {
    const u = await makeUser({ username: uniqueName('Case') })
    for (const variant of [
      u.username,
      u.username.toUpperCase(),
      u.username.toLowerCase(),
      u.username.toUpperCase(),
      u.username,
    ]) {
      expect((await tryLogin(variant, 'wrong-password')).status).toBe(400)
    }
    await expectLocked(await tryLogin(u.username.toLowerCase(), u.password))
  })

  it('locks an unknown username exactly like a known one', async () => {
    const known = await makeUser()
    const unknown = uniqueName('ghost')
    await failTimes(5, known.username)
    await failTimes(5, unknown)
    const [a, b] = [await tryLogin(known.username, 'x'), await tryLogin(unknown, 'x')]
    expect([a.status, [...a.headers], await a.text()]).toEqual([
      b.status,
      [...b.headers],
      await b.text(),
    ])
    expect(a.status).toBe(429)
  })

  it('keeps no counter for a string that could not be a username (it may be a password), but the address counts it', async () => {
    const ip = { 'CF-Connecting-IP': '192.0.2.202' }
    const typed = ['my secret pass', 'Winter2026!', 'x', 'ü'.repeat(10), 'aa bb', 'p@ssw0rd']
    for (let i = 0; i < 2; i++)
      for (const t of typed) expect((await tryLogin(t, 'whatever', ip)).status).toBe(400)
    const { results } = await env.DB.prepare('SELECT key, failures FROM login_failures').all<{
      key: string
      failures: number
    }>()
    for (const { key } of results) expect(key).toMatch(/^(user:[a-z0-9._-]{3,64}|ip:.+)$/)
    expect(results.find((r) => r.key === 'ip:192.0.2.202')?.failures).toBe(12)
  })

  it('counts down Retry-After, and attempts made while locked do not extend the lock', async () => {
    const u = await makeUser()
    await failTimes(5, u.username)
    advance(20)
    await expectLocked(await tryLogin(u.username, 'wrong'), 40)
    advance(39)
    await expectLocked(await tryLogin(u.username, 'wrong'), 1)
    advance(1)
    expect((await tryLogin(u.username, u.password)).status).toBe(200)
  })

  it('doubles the lock for each further lockout, up to 900 s', async () => {
    const u = await makeUser()
    for (const seconds of [60, 120, 240, 480, 900, 900]) {
      await failTimes(5, u.username)
      await expectLocked(await tryLogin(u.username, u.password), seconds)
      advance(seconds)
    }
  })

  it('resets the count on a success', async () => {
    const u = await makeUser()
    await failTimes(4, u.username)
    await login(u)
    await failTimes(4, u.username)
    expect((await tryLogin(u.username, u.password)).status).toBe(200)
  })

  it('forgets earlier lockouts after a success, so the next lock is short again', async () => {
    const u = await makeUser()
    await failTimes(5, u.username)
    advance(60)
    await login(u)
    await failTimes(5, u.username)
    await expectLocked(await tryLogin(u.username, u.password), 60)
  })

  it('records a lockout audit event when a lock starts, never the password', async () => {
    const u = await makeUser()
    await failTimes(5, u.username)
    await tryLogin(u.username, 'while-locked')
    const { results } = await env.DB.prepare(
      "SELECT event, username, detail FROM audit_events WHERE event = 'lockout' AND username = ?1",
    )
      .bind(u.username)
      .all()
    expect(results).toEqual([
      { event: 'lockout', username: u.username, detail: 'username locked for 60 s' },
    ])
  })
})

describe('every password check is throttled', () => {
  it('shares one counter between /auth/token and /profile, and the Basic 429 carries no challenge', async () => {
    const u = await makeUser()
    await failTimes(3, u.username)
    for (let i = 0; i < 2; i++) {
      expect(
        (
          await call('/profile', {
            headers: { Authorization: basicHeader(u.username, `wrong-${i}`) },
          })
        ).status,
      ).toBe(401)
    }
    await expectLocked(
      await call('/profile', { headers: { Authorization: basicHeader(u.username, u.password) } }),
      60,
    )
    await expectLocked(await tryLogin(u.username, u.password), 60)
  })

  it('counts a wrong current password on /users/me/password', async () => {
    const u = await makeUser()
    const { access_token } = await login(u)
    for (let i = 0; i < 5; i++) {
      const res = await call(
        '/users/me/password',
        json(
          'POST',
          { current_password: `wrong-${i}`, new_password: 'a new passphrase' },
          access_token,
        ),
      )
      expect(res.status).toBe(400)
    }
    await expectLocked(
      await call(
        '/users/me/password',
        json(
          'POST',
          { current_password: u.password, new_password: 'a new passphrase' },
          access_token,
        ),
      ),
      60,
    )
    await expectLocked(await tryLogin(u.username, u.password), 60)
  })
})

describe('per-address ceiling', () => {
  it('answers 429 to an address after more than 100 failures in 15 minutes, whatever the username', async () => {
    const ip = { 'CF-Connecting-IP': '203.0.113.7' }
    const u = await makeUser()
    for (let i = 0; i < 101; i++) {
      // A fresh username each time, so no username lock is involved.
      expect((await tryLogin(uniqueName('spray'), 'Summer2026!', ip)).status).toBe(400)
    }
    await expectLocked(await tryLogin(u.username, u.password, ip), 900)
    const audited = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE event = 'lockout' AND ip = ?1",
    )
      .bind(ip['CF-Connecting-IP'])
      .all()
    expect(audited.results).toEqual([{ detail: 'client address locked for 900 s' }])
    // Another address is not affected, and X-Forwarded-For cannot pose as one.
    expect(
      (await tryLogin(u.username, u.password, { 'CF-Connecting-IP': '198.51.100.1' })).status,
    ).toBe(200)
    await expectLocked(
      await tryLogin(u.username, u.password, { ...ip, 'X-Forwarded-For': '198.51.100.1' }),
    )
    advance(900)
    expect((await tryLogin(u.username, u.password, ip)).status).toBe(200)
  })

  it('does not count successes: each refunds its own attempt, even the 101st, whose lock it lifts', async () => {
    const ip = { 'CF-Connecting-IP': '203.0.113.99' }
    const u = await makeUser()
    for (let i = 0; i < 100; i++)
      expect((await tryLogin(uniqueName('spray'), 'Summer2026!', ip)).status).toBe(400)
    for (let i = 0; i < 3; i++)
      expect((await tryLogin(u.username, u.password, ip)).status).toBe(200)
    // …but a success does not wipe the failures either: the next one is the 101st.
    expect((await tryLogin(uniqueName('spray'), 'Summer2026!', ip)).status).toBe(400)
    await expectLocked(await tryLogin(u.username, u.password, ip), 900)
  })

  it('reads the address from CF-Connecting-IP only, never X-Forwarded-For', async () => {
    const u = await makeUser()
    for (let i = 0; i < 101; i++) {
      // Same X-Forwarded-For, a different edge-reported address each time (IPv6 addresses count
      // by their /64, so a different /64 each time): nothing adds up.
      await tryLogin(uniqueName('xff'), 'wrong', {
        'X-Forwarded-For': '192.0.2.55',
        'CF-Connecting-IP': `2001:db8:${i.toString(16)}::1`,
      })
    }
    expect(
      (
        await tryLogin(u.username, u.password, {
          'X-Forwarded-For': '192.0.2.55',
          'CF-Connecting-IP': '2001:db8:ffff::1',
        })
      ).status,
    ).toBe(200)
  })
})

describe('attempts are charged before the compare', () => {
  it('lets a burst of 12 concurrent guesses make at most LOGIN_MAX_FAILURES compares; the rest are 429', async () => {
    const u = await makeUser()
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => tryLogin(u.username, `wrong-${i}`)),
    )
    expect(answers.map((r) => r.status).sort()).toEqual([
      ...Array(5).fill(400),
      ...Array(7).fill(429),
    ])
    for (const res of answers.filter((r) => r.status === 429)) await expectLocked(res, 60)
    await expectLocked(await tryLogin(u.username, u.password), 60)
    const lockouts = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE event = 'lockout' AND username = ?1",
    )
      .bind(u.username)
      .all()
    expect(lockouts.results).toEqual([{ detail: 'username locked for 60 s' }])
  })

  it('lets the attempt that reaches the limit succeed, and the success lifts the lock it started', async () => {
    const u = await makeUser()
    await failTimes(4, u.username)
    expect((await tryLogin(u.username, u.password)).status).toBe(200)
    await failTimes(4, u.username)
  })

  it('counts an attempt refused for a locked username against no key, not even the address', async () => {
    const ip = { 'CF-Connecting-IP': '192.0.2.201' }
    const u = await makeUser()
    await failTimes(5, u.username, ip)
    for (let i = 0; i < 10; i++)
      await expectLocked(await tryLogin(u.username, 'still guessing', ip))
    const counters = await env.DB.prepare(
      'SELECT key, failures, lockouts FROM login_failures WHERE key IN (?1, ?2) ORDER BY key',
    )
      .bind(`user:${u.username}`, 'ip:192.0.2.201')
      .all()
    expect(counters.results).toEqual([
      { key: 'ip:192.0.2.201', failures: 5, lockouts: 0 },
      { key: `user:${u.username}`, failures: 0, lockouts: 1 },
    ])
  })
})
