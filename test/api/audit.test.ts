import {
  createExecutionContext,
  createScheduledController,
  env,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import worker from '../../src'
import { basicHeader, bearer, call, form, json, login, makeUser, uniqueName } from '../helpers'

type Entry = {
  at: string
  event: string
  username: string | null
  ip: string | null
  user_agent: string | null
  detail: string | null
}

const FROM = { 'CF-Connecting-IP': '203.0.113.7', 'User-Agent': 'audit-test/1.0' }
const withClient = (init: RequestInit): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), ...FROM },
})

async function adminToken() {
  return (await login(await makeUser({ role: 'admin' }))).access_token
}

const auditOf = async (token: string, query: string) => {
  const res = await call(`/admin/audit?${query}`, bearer(token))
  expect(res.status).toBe(200)
  return res.json<Entry[]>()
}

describe('the audit trail', () => {
  it('records each auth event with time, client IP and user agent, newest first', async () => {
    const user = await makeUser()
    await call(
      '/auth/token',
      withClient(form({ username: user.username, password: 'wrong password' })),
    )
    const pair = await (
      await call(
        '/auth/token',
        withClient(form({ username: user.username, password: user.password })),
      )
    ).json<{ refresh_token: string; access_token: string }>()
    const rotated = await (
      await call(
        '/auth/token',
        withClient(form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })),
      )
    ).json<{ access_token: string }>()
    await call(
      '/auth/token',
      withClient(form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })),
    )

    const entries = await auditOf(await adminToken(), `username=${user.username.toUpperCase()}`)
    expect(entries.map((e) => e.event)).toEqual([
      'refresh_reuse_detected',
      'refresh',
      'login_success',
      'login_failure',
    ])
    for (const e of entries) {
      expect(e).toMatchObject({
        username: user.username,
        ip: '203.0.113.7',
        user_agent: 'audit-test/1.0',
      })
      expect(new Date(e.at).toISOString()).toBe(e.at)
      expect(Date.now() - Date.parse(e.at)).toBeLessThan(3_600_000)
    }
    expect(rotated.access_token).toBeTruthy()
  })

  it('records who created, changed and deleted a user, naming fields but never values', async () => {
    const admin = await makeUser({ role: 'admin' })
    const token = (await login(admin)).access_token
    const username = uniqueName()
    const created = await (
      await call('/users', json('POST', { username, password: 'first password here' }, token))
    ).json<{ id: string }>()
    await call(
      `/users/${created.id}`,
      json('PATCH', { password: 'second password here', disabled: true }, token),
    )
    await call(`/users/${created.id}`, bearer(token, { method: 'DELETE' }))

    const entries = await auditOf(token, `username=${username}`)
    expect(entries.map((e) => [e.event, e.detail])).toEqual([
      ['user_deleted', `by ${admin.username}`],
      ['user_updated', `by ${admin.username}: disabled, password`],
      ['user_created', `by ${admin.username}`],
    ])
  })

  it('records self-service password changes, logout and revocation', async () => {
    const user = await makeUser()
    const first = await login(user)
    await call(
      '/users/me/password',
      json(
        'POST',
        { current_password: 'not it at all', new_password: 'a new password 1' },
        first.access_token,
      ),
    )
    await call('/auth/logout', bearer(first.access_token, { method: 'POST' }))
    const second = await login(user)
    await call('/auth/revoke', form({ token: second.refresh_token }))
    const third = await login(user)
    await call(
      '/users/me/password',
      json(
        'POST',
        { current_password: user.password, new_password: 'a new password 1' },
        third.access_token,
      ),
    )

    const events = (await auditOf(await adminToken(), `username=${user.username}`)).map((e) => [
      e.event,
      e.detail,
    ])
    expect(events).toEqual([
      ['password_change', null],
      ['login_success', '/users/me/password'],
      ['login_success', '/auth/token'],
      ['revoke', null],
      ['login_success', '/auth/token'],
      ['logout', null],
      ['login_failure', '/users/me/password'],
      ['login_success', '/auth/token'],
    ])
  })

  it('records every password check in one place: the token endpoint, HTTP Basic and the password change', async () => {
    const user = await makeUser()
    const basic = (password: string) =>
      call(
        '/profile',
        withClient({ headers: { Authorization: basicHeader(user.username, password) } }),
      )
    const change = (current: string, token: string) =>
      call(
        '/users/me/password',
        withClient(
          json('POST', { current_password: current, new_password: 'a new password 1' }, token),
        ),
      )
    expect(
      (
        await call(
          '/auth/token',
          withClient(form({ username: user.username.toUpperCase(), password: 'wrong' })),
        )
      ).status,
    ).toBe(400)
    expect((await basic('wrong')).status).toBe(401)
    expect((await basic(user.password)).status).toBe(200)
    const { access_token } = await login(user)
    expect((await change('wrong', access_token)).status).toBe(400)

    const entries = await auditOf(await adminToken(), `username=${user.username}`)
    expect(entries.map((e) => [e.event, e.detail, e.username])).toEqual([
      ['login_failure', '/users/me/password', user.username],
      ['login_success', '/auth/token', user.username],
      ['login_success', '/profile', user.username],
      ['login_failure', '/profile', user.username],
      ['login_failure', '/auth/token', user.username],
    ])
    expect(
      entries
        .slice(2)
        .every((e) => e.ip === FROM['CF-Connecting-IP'] && e.user_agent === FROM['User-Agent']),
    ).toBe(true)
  })

  it('writes no event for HTTP Basic credentials served from the credential cache: only a compare is audited', async () => {
    const user = await makeUser()
    const basic = () =>
      call('/profile', { headers: { Authorization: basicHeader(user.username, user.password) } })
    for (let i = 0; i < 3; i++) expect((await basic()).status).toBe(200)
    const { results } = await env.DB.prepare('SELECT event FROM audit_events WHERE username = ?1')
      .bind(user.username)
      .all()
    expect(results).toEqual([{ event: 'login_success' }])
  })

  it.each([
    ['a password typed as the username', 'Hunter2 is my password'],
    ['a string with a "!"', 'Winter2026!'],
    ['a string of 65 characters', 'a'.repeat(65)],
    ['a string of 2 characters', 'ab'],
  ])(
    'stores no username for a failed login whose username could not be one: %s',
    async (_, typed) => {
      const ua = `audit-test/${crypto.randomUUID()}`
      await call('/auth/token', {
        ...form({ username: typed, password: 'whatever it is' }),
        headers: { ...form({}).headers, 'User-Agent': ua },
      })
      await call('/profile', {
        headers: { Authorization: basicHeader(typed, 'whatever it is'), 'User-Agent': ua },
      })
      const { results } = await env.DB.prepare(
        'SELECT event, username, detail FROM audit_events WHERE user_agent = ?1 ORDER BY id',
      )
        .bind(ua)
        .all()
      expect(results).toEqual([
        { event: 'login_failure', username: null, detail: '/auth/token' },
        { event: 'login_failure', username: null, detail: '/profile' },
      ])
    },
  )

  it('stores a typed username that could be one, known or not', async () => {
    const typed = uniqueName('No.such_user-')
    await call('/auth/token', withClient(form({ username: typed, password: 'whatever it is' })))
    const entries = await auditOf(await adminToken(), `username=${typed}`)
    expect(entries.map((e) => [e.event, e.username])).toEqual([['login_failure', typed]])
  })

  it('never stores a password or a token', async () => {
    const user = await makeUser({ password: 'Secret-Password-One' })
    const admin = await makeUser({ role: 'admin', password: 'Secret-Password-Admin' })
    const adminPair = await login(admin)
    const pair = await login(user)
    const rotated = await (
      await call(
        '/auth/token',
        form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
      )
    ).json<{ access_token: string; refresh_token: string }>()
    await call(
      '/auth/token',
      form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
    )
    await call('/auth/token', form({ username: user.username, password: 'Secret-Wrong-Guess' }))
    await call(
      `/users/${user.id}`,
      json('PATCH', { password: 'Secret-Password-Two' }, adminPair.access_token),
    )
    await call(
      '/users',
      json(
        'POST',
        { username: uniqueName(), password: 'Secret-Password-Three' },
        adminPair.access_token,
      ),
    )
    await call('/auth/revoke', form({ token: rotated.access_token }))

    const { results } = await env.DB.prepare('SELECT * FROM audit_events').all()
    const stored = JSON.stringify(results)
    expect(results.length).toBeGreaterThanOrEqual(7)
    for (const secret of [
      'Secret-',
      pair.access_token,
      pair.refresh_token,
      rotated.access_token,
      rotated.refresh_token,
      adminPair.access_token,
      adminPair.refresh_token,
    ]) {
      expect(stored).not.toContain(secret)
    }
    const listed = await (
      await call('/admin/audit?limit=500', bearer(adminPair.access_token))
    ).text()
    expect(listed).not.toContain('Secret-')
  })

  it('pages with limit and offset and validates the query', async () => {
    const token = await adminToken()
    const all = await auditOf(token, 'limit=500')
    const page = await auditOf(token, 'limit=2&offset=1')
    expect(page).toEqual(all.slice(1, 3))
    expect((await call('/admin/audit?limit=501', bearer(token))).status).toBe(400)
    expect((await call('/admin/audit?user=x', bearer(token))).status).toBe(400)
  })

  it('is purged by the hourly cron after AUDIT_RETENTION_DAYS', async () => {
    const now = Math.floor(Date.now() / 1000)
    const insert = env.DB.prepare(
      "INSERT INTO audit_events (at, event, username) VALUES (?1, 'login_success', ?2)",
    )
    const old = uniqueName('old')
    const recent = uniqueName('recent')
    await env.DB.batch([
      insert.bind(now - 91 * 86_400, old),
      insert.bind(now - 89 * 86_400, recent),
    ])

    const ctx = createExecutionContext()
    await worker.scheduled(
      createScheduledController({ cron: '17 * * * *', scheduledTime: Date.now() }),
      env,
      ctx,
    )
    await waitOnExecutionContext(ctx)

    const left = await env.DB.prepare(
      'SELECT username FROM audit_events WHERE username IN (?1, ?2)',
    )
      .bind(old, recent)
      .all<{ username: string }>()
    expect(left.results.map((r) => r.username)).toEqual([recent])
  })
})
