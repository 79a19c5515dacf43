import { env } from 'cloudflare:test'
import bcrypt from 'bcryptjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../src/app'
import { credentialCache } from '../../src/auth/credential-cache'
import { config } from '../../src/config'
import { COMMON_PASSWORDS } from '../../src/domain/common-passwords'
import { dummyHash, utf8Length } from '../../src/domain/passwords'
import { recordD1 } from '../d1-recorder'
import { basicHeader, call, form, json, login, makeUser, uniqueName } from '../helpers'

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

/** Everything a client can see of a response. */
const observable = async (res: Response) => ({
  status: res.status,
  headers: [...res.headers],
  body: await res.text(),
})

const tokenAttempt = (username: string, password: string) =>
  call('/auth/token', form({ grant_type: 'password', username, password }))
const profileAttempt = (username: string, password: string) =>
  call('/profile', { headers: { Authorization: basicHeader(username, password) } })

describe('failures do not tell which part was wrong', () => {
  it.each([
    ['/auth/token', tokenAttempt, 400],
    ['/profile', profileAttempt, 401],
  ] as const)(
    '%s: unknown user, wrong password and disabled account give byte-identical responses',
    async (_, attempt, status) => {
      const known = await makeUser()
      const disabled = await makeUser({ disabled: true })
      const unknown = await observable(await attempt(uniqueName('nobody'), 'some password'))
      const wrong = await observable(await attempt(known.username, 'not the password'))
      const off = await observable(await attempt(disabled.username, disabled.password))
      expect(unknown.status).toBe(status)
      expect(wrong).toEqual(unknown)
      expect(off).toEqual(unknown)
    },
  )
})

describe('the dummy hash paid by unknown and disabled users', () => {
  it.each([4, 10, 12])(
    'is a well-formed bcrypt hash of cost %i that runs a full compare and never matches',
    async (cost) => {
      const hash = dummyHash(cost)
      expect(hash).toHaveLength(60)
      expect(bcrypt.getRounds(hash)).toBe(cost)
      // bcrypt accepts its salt and hashes with it: the compare below is real work, not an early exit.
      const salt = hash.slice(0, 29)
      expect(bcrypt.hashSync('a guess', salt).slice(0, 29)).toBe(salt)
      if (cost <= 10) expect(await bcrypt.compare('a guess', hash)).toBe(false)
    },
  )

  it('uses the configured cost', () => {
    const cost = config(env).bcryptCost
    expect(cost).toBe(4)
    expect(bcrypt.getRounds(dummyHash(cost))).toBe(cost)
  })
})

describe('bcrypt cost changes', () => {
  it('re-hashes a password made at another cost on the next successful login', async () => {
    const u = await makeUser()
    await env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1')
      .bind(u.id, bcrypt.hashSync(u.password, 5))
      .run()
    await login(u)
    const { password_hash } = (await env.DB.prepare('SELECT password_hash FROM users WHERE id = ?1')
      .bind(u.id)
      .first<{ password_hash: string }>())!
    expect(bcrypt.getRounds(password_hash)).toBe(4)
    expect(bcrypt.compareSync(u.password, password_hash)).toBe(true)
    await login(u)
  })

  it('leaves a hash of the configured cost untouched', async () => {
    const u = await makeUser()
    const read = () =>
      env.DB.prepare('SELECT password_hash FROM users WHERE id = ?1')
        .bind(u.id)
        .first<{ password_hash: string }>()
    const before = await read()
    await login(u)
    expect(await read()).toEqual(before)
  })
})

describe('password policy', () => {
  it('bundles a list of at least 2,000 common passwords, all lowercase and 8–72 bytes', () => {
    expect(COMMON_PASSWORDS.size).toBeGreaterThanOrEqual(2000)
    for (const p of COMMON_PASSWORDS) {
      expect(p).toBe(p.toLowerCase())
      expect(utf8Length(p)).toBeGreaterThanOrEqual(8)
      expect(utf8Length(p)).toBeLessThanOrEqual(72)
    }
  })

  const change = async (newPassword: string) => {
    const u = await makeUser()
    const { access_token } = await login(u)
    return call(
      '/users/me/password',
      json('POST', { current_password: u.password, new_password: newPassword }, access_token),
    )
  }

  it.each([
    ['a common password', 'password1', 'Password is too common.'],
    ['a common password in other case', 'BaseBall1', 'Password is too common.'],
    ['the service name', 'todo-auth', 'Password is too common.'],
    ['7 bytes', 'x7Q!z9k', 'Password must be at least 8 bytes.'],
    [
      '73 bytes (never silently cut to 72)',
      'a'.repeat(73),
      'Password must be at most 72 bytes of UTF-8.',
    ],
    [
      '72 bytes of which the last character is split by the limit',
      `${'a'.repeat(70)}€`,
      'Password must be at most 72 bytes of UTF-8.',
    ],
  ])('refuses %s', async (_, password, message) => {
    const res = await change(password)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { issues: unknown }).issues).toEqual([
      { path: 'new_password', message },
    ])
  })

  it.each([
    ['exactly 72 bytes', 'b'.repeat(72)],
    ['a passphrase without any composition rule', 'correct horse battery staple'],
    ['UTF-8 and colons', 'pä:ss:wörd 🔑 ok'],
  ])('accepts %s', async (_, password) => {
    expect((await change(password)).status).toBe(204)
  })
})

describe('remembered Basic credentials end at once', () => {
  async function rememberedUser() {
    const u = await makeUser()
    expect((await profileAttempt(u.username, u.password)).status).toBe(200)
    expect((await profileAttempt(u.username, u.password)).status).toBe(200)
    return u
  }

  it('when the password changes', async () => {
    const u = await rememberedUser()
    const { access_token } = await login(u)
    expect(
      (
        await call(
          '/users/me/password',
          json(
            'POST',
            { current_password: u.password, new_password: 'a brand new passphrase' },
            access_token,
          ),
        )
      ).status,
    ).toBe(204)
    expect((await profileAttempt(u.username, u.password)).status).toBe(401)
    expect((await profileAttempt(u.username, 'a brand new passphrase')).status).toBe(200)
  })

  it('when the user is disabled', async () => {
    const u = await rememberedUser()
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(u.id).run()
    expect((await profileAttempt(u.username, u.password)).status).toBe(401)
  })

  it('when the user is deleted', async () => {
    const u = await rememberedUser()
    await env.DB.prepare('DELETE FROM users WHERE id = ?1').bind(u.id).run()
    expect((await profileAttempt(u.username, u.password)).status).toBe(401)
  })

  it('when the username is locked', async () => {
    const u = await rememberedUser()
    for (let i = 0; i < 5; i++) await tokenAttempt(u.username, `wrong-${i}`)
    expect((await profileAttempt(u.username, u.password)).status).toBe(429)
  })
})

describe('repeated HTTP Basic credentials are served from the cache', () => {
  // This file's app, whose modules (bcryptjs, the cache) are the ones the spy and the test share.
  const app = createApp()
  const profile = async (username: string, password: string) => {
    const recorder = recordD1(env.DB)
    const res = await app.request(
      'https://todo.test/profile',
      { headers: { Authorization: basicHeader(username, password) } },
      { ...env, DB: recorder.db },
    )
    return { status: res.status, sql: recorder.trips }
  }
  const spyOnCompare = () => vi.spyOn(bcrypt, 'compare')

  it('with no compare and one read-only round trip for the second identical request', async () => {
    const u = await makeUser()
    const compare = spyOnCompare()
    const first = await profile(u.username, u.password)
    expect(first.status).toBe(200)
    expect(compare).toHaveBeenCalledTimes(1)
    // The miss: the user read with the attempt's charge, then the success's counter reset and audit event.
    expect(first.sql).toHaveLength(2)

    const second = await profile(u.username, u.password)
    expect(second.status).toBe(200)
    expect(compare).toHaveBeenCalledTimes(1)
    expect(second.sql).toHaveLength(1)
    expect(second.sql.flat().every((sql) => sql.startsWith('SELECT'))).toBe(true)
  })

  it('takes turns for concurrent identical requests: one compare, one charge, no 429', async () => {
    const u = await makeUser()
    const compare = spyOnCompare()
    // More than LOGIN_MAX_FAILURES at once: charged separately, the excess would meet the lock.
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => profile(u.username, u.password)),
    )
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200))
    expect(compare).toHaveBeenCalledTimes(1)
  })

  it.each([
    [
      'the password changes',
      (u: { id: string }) =>
        env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1')
          .bind(u.id, bcrypt.hashSync('a brand new passphrase', 4))
          .run(),
      401,
      1,
    ],
    [
      'the user is disabled',
      (u: { id: string }) =>
        env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(u.id).run(),
      401,
      1,
    ],
    // Locked: refused before any compare, and still refused from the cache.
    [
      'the username is locked',
      (u: { username: string }) =>
        env.DB.prepare(
          'INSERT INTO login_failures (key, window_start, locked_until, updated_at) VALUES (?1, 0, ?2, 0)',
        )
          .bind(`user:${u.username}`, Math.floor(Date.now() / 1000) + 60)
          .run(),
      429,
      0,
    ],
  ] as const)('but not once %s', async (_, change, status, compares) => {
    const u = await makeUser()
    expect((await profile(u.username, u.password)).status).toBe(200)
    await change(u)
    const compare = spyOnCompare()
    expect((await profile(u.username, u.password)).status).toBe(status)
    expect(compare).toHaveBeenCalledTimes(compares)
  })
})

describe('the credential cache', () => {
  it('matches only the same credentials against the same hash, for at most 60 s', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const name = uniqueName()
    const entry = await credentialCache(name, 'pass:word')
    expect(entry.verifiedAgainst('$2b$04$hash')).toBe(false)
    entry.remember('$2b$04$hash')
    expect((await credentialCache(name, 'pass:word')).verifiedAgainst('$2b$04$hash')).toBe(true)
    expect((await credentialCache(name, 'pass:word')).verifiedAgainst('$2b$04$other')).toBe(false)
    expect((await credentialCache(name, 'pass:Word')).verifiedAgainst('$2b$04$hash')).toBe(false)
    // The pair is not ambiguous across the colon.
    expect((await credentialCache(`${name}:pass`, 'word')).verifiedAgainst('$2b$04$hash')).toBe(
      false,
    )
    vi.setSystemTime(Date.now() + 59_000)
    expect((await credentialCache(name, 'pass:word')).verifiedAgainst('$2b$04$hash')).toBe(true)
    vi.setSystemTime(Date.now() + 1_000)
    expect((await credentialCache(name, 'pass:word')).verifiedAgainst('$2b$04$hash')).toBe(false)
  })

  it('holds a bounded number of entries, dropping the oldest', async () => {
    const first = await credentialCache(uniqueName(), 'first')
    first.remember('h')
    for (let i = 0; i < 1000; i++) (await credentialCache(uniqueName(), `p${i}`)).remember('h')
    expect(first.verifiedAgainst('h')).toBe(false)
  })
})
