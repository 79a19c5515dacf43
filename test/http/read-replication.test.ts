import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { recordD1 } from '../d1-recorder'
import { bearer, call, form, json, login, makeUser, uniqueName } from '../helpers'

const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/

/** The D1 session a request through the app was given. */
async function sessionFor(
  init: RequestInit & { path?: string } = {},
  bindings: Partial<typeof env> = {},
) {
  const recorder = recordD1(env.DB)
  const res = await createApp().request(`https://todo.test${init.path ?? '/healthz'}`, init, {
    ...env,
    ...bindings,
    DB: recorder.db,
  })
  return { res, sessions: recorder.sessions }
}

describe('D1 read replication', () => {
  it('answers a Bearer request from the primary and gives it no bookmark', async () => {
    const { access_token } = await login(await makeUser())
    const created = await call(
      '/api/todos',
      json('POST', { title: 'written on the primary' }, access_token),
    )
    expect(created.status).toBe(201)
    expect(created.headers.get('x-d1-bookmark')).toBeNull()
    const { id } = (await created.json()) as { id: string }

    // Even with a bookmark, the read is not served by a replica: it rides in the batch of the
    // session check, which must read the primary (docs/performance.md).
    const bookmark = (await call('/healthz')).headers.get('x-d1-bookmark')!
    expect(bookmark).toMatch(BOOKMARK)
    const { res, sessions } = await sessionFor({
      ...bearer(access_token, { headers: { 'x-d1-bookmark': bookmark } }),
      path: `/api/todos/${id}`,
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ id, title: 'written on the primary' })
    expect(sessions).toEqual([])
    expect(res.headers.get('x-d1-bookmark')).toBeNull()
  })

  it('checks the token on the primary even when the request sends a bookmark', async () => {
    const { access_token } = await login(await makeUser())
    const bookmark = (await call('/healthz')).headers.get('x-d1-bookmark')!
    // Every D1 session here is a replica that has not seen this login: its session check would
    // find no session row. The Bearer check opens none.
    const bind = <T extends object>(target: T, prop: string | symbol) => {
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
    const laggingReplica = (session: D1DatabaseSession) =>
      new Proxy(session, {
        get: (target, prop) =>
          prop === 'prepare'
            ? (sql: string) =>
                target.prepare(
                  sql.includes('FROM sessions s JOIN users u') ? 'SELECT ?1, ?2, ?3 WHERE 0' : sql,
                )
            : bind(target, prop),
      })
    const db = new Proxy(env.DB, {
      get: (target, prop) =>
        prop === 'withSession'
          ? (b?: string) => laggingReplica(target.withSession(b))
          : bind(target, prop),
    })
    const res = await createApp().request(
      'https://todo.test/api/todos',
      bearer(access_token, { headers: { 'x-d1-bookmark': bookmark } }),
      { ...env, DB: db },
    )
    expect(res.status).toBe(200)
  })

  it('checks remembered HTTP Basic credentials and their lock on the primary, bookmark or not', async () => {
    const app = createApp()
    const u = await makeUser()
    const basic = { Authorization: `Basic ${btoa(`${u.username}:${u.password}`)}` }
    const first = await app.request('https://todo.test/profile', { headers: basic }, env)
    expect(first.status).toBe(200)
    const bookmark = first.headers.get('x-d1-bookmark')!
    await env.DB.prepare(
      'INSERT INTO login_failures (key, window_start, locked_until, updated_at) VALUES (?1, 0, ?2, 0)',
    )
      .bind(`user:${u.username}`, Math.floor(Date.now() / 1000) + 60)
      .run()
    // A replica that has not seen the lock: its lock read finds nothing.
    const bind = <T extends object>(target: T, prop: string | symbol) => {
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
    const laggingReplica = (session: D1DatabaseSession) =>
      new Proxy(session, {
        get: (target, prop) =>
          prop === 'prepare'
            ? (sql: string) =>
                target.prepare(sql.includes('FROM login_failures') ? 'SELECT ?1, ?2 WHERE 0' : sql)
            : bind(target, prop),
      })
    const db = new Proxy(env.DB, {
      get: (target, prop) =>
        prop === 'withSession'
          ? (b?: string) => laggingReplica(target.withSession(b))
          : bind(target, prop),
    })
    const res = await app.request(
      'https://todo.test/profile',
      { headers: { ...basic, 'x-d1-bookmark': bookmark } },
      { ...env, DB: db },
    )
    expect(res.status).toBe(429)
  })

  it('continues the bookmark a read sends, and starts a read without one on the primary', async () => {
    const bookmark = (await call('/healthz')).headers.get('x-d1-bookmark')!
    expect((await sessionFor({ headers: { 'x-d1-bookmark': bookmark } })).sessions).toEqual([
      bookmark,
    ])
    expect(
      (await sessionFor({ method: 'HEAD', headers: { 'x-d1-bookmark': bookmark } })).sessions,
    ).toEqual([bookmark])
    expect((await sessionFor({ method: 'GET' })).sessions).toEqual(['first-primary'])
  })

  it('starts every other request on the primary, so its token check sees every revocation', async () => {
    const bookmark = (await call('/healthz')).headers.get('x-d1-bookmark')!
    const revoke = form({ token: 'not a token' })
    expect((await sessionFor({ ...revoke, path: '/auth/revoke' })).sessions).toEqual([
      'first-primary',
    ])
    expect(
      (
        await sessionFor({
          ...revoke,
          path: '/auth/revoke',
          headers: { ...revoke.headers, 'x-d1-bookmark': bookmark },
        })
      ).sessions,
    ).toEqual(['first-primary'])
  })

  it('gives no bookmark with an error, so that identical failures stay identical', async () => {
    const res = await call(
      '/auth/token',
      form({ grant_type: 'password', username: uniqueName('nobody'), password: 'not a password' }),
    )
    expect(res.status).toBe(400)
    expect(res.headers.get('x-d1-bookmark')).toBeNull()
  })

  it('opens no session for a request that does not touch D1', async () => {
    const { res, sessions } = await sessionFor({ path: '/.well-known/oauth-authorization-server' })
    expect(res.status).toBe(200)
    expect(sessions).toEqual([])
    expect(res.headers.get('x-d1-bookmark')).toBeNull()
  })

  it('treats a malformed bookmark as absent', async () => {
    for (const malformed of [
      'garbage',
      'first-primary',
      '00000000-00000001',
      `${'0'.repeat(8)}-${'0'.repeat(8)}-${'0'.repeat(8)}-${'0'.repeat(32)}x`,
    ]) {
      const { res, sessions } = await sessionFor({ headers: { 'x-d1-bookmark': malformed } })
      expect(res.status).toBe(200)
      expect(sessions).toEqual(['first-primary'])
    }
  })

  it('lets browsers send and read the bookmark across origins', async () => {
    const origin = 'https://app.example'
    const { res } = await sessionFor({ headers: { Origin: origin } }, { CORS_ORIGINS: origin })
    expect(res.headers.get('Access-Control-Expose-Headers')).toContain('x-d1-bookmark')
    const preflight = await createApp().request(
      'https://todo.test/api/todos',
      {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'x-d1-bookmark',
        },
      },
      { ...env, CORS_ORIGINS: origin },
    )
    expect(preflight.headers.get('Access-Control-Allow-Headers')).toContain('x-d1-bookmark')
  })
})
