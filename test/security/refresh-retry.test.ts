import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../src/app'
import { purgeExpired } from '../../src/db/purge'
import { sha256Hex } from '../../src/lib/crypto'
import { bearer, call, form, makeUser, type TokenPair } from '../helpers'
import { Browser, exchange, getCode, makeClient, tokens } from '../oauth-client'

// docs/security.md, "A refresh that survives a lost response": a refresh whose response is lost (a mobile network, an agent's timeout) is retried
// with the token the client still holds, which rotation had already spent: reuse, and the user
// was signed out everywhere. With REFRESH_RETRY_SECONDS set (off by default), the same client
// presenting the token it just rotated, within the window and while the successor is unused, gets
// the very same response again: no second branch of the chain.

const WINDOW = { ...env, REFRESH_RETRY_SECONDS: '30' }

/** A request to the Worker's app with `bindings` (the window on, unless told otherwise). */
const send = (path: string, init: RequestInit, bindings: object = WINDOW) =>
  createApp().request(`https://todo.test${path}`, init, bindings)

/** A session of a public client through the code flow: its client id and its first tokens. */
async function session() {
  const { client } = await makeClient({ first_party: true })
  const code = await getCode(new Browser(), client.client_id, await makeUser())
  const pair = await tokens(await exchange(code, { client_id: client.client_id }))
  return { clientId: client.client_id, pair }
}

const refresh = (refreshToken: string, clientId: string, bindings?: object) =>
  send(
    '/auth/token',
    form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
    bindings,
  )

const alive = async (accessToken: string) =>
  (await call('/users/me', bearer(accessToken))).status === 200

/** The refresh tokens of the session a token belongs to that have not been used. */
async function unusedInSession(refreshToken: string): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT COUNT(*) AS n FROM refresh_tokens WHERE used_at IS NULL AND session_id =
       (SELECT session_id FROM refresh_tokens WHERE token_hash = ?1)`,
  )
    .bind(await sha256Hex(refreshToken))
    .first<{ n: number }>()
  return row?.n ?? -1
}

describe('REFRESH_RETRY_SECONDS: a retried refresh', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('gets the very same response again, kept where only the old token opens it', async () => {
    const { clientId, pair } = await session()
    const first = await refresh(pair.refresh_token, clientId)
    expect(first.status).toBe(200)
    const sent = await first.json<TokenPair>()
    const again = await refresh(pair.refresh_token, clientId)
    expect(again.status, await again.clone().text()).toBe(200)
    expect(again.headers.get('Cache-Control')).toBe('no-store')
    // The same tokens; expires_in counts down from the first answer (a second may have passed).
    const { expires_in, ...rest } = await again.json<TokenPair>()
    const { expires_in: firstExpiresIn, ...sentRest } = sent
    expect(rest).toEqual(sentRest)
    expect(firstExpiresIn - expires_in).toBeGreaterThanOrEqual(0)
    expect(firstExpiresIn - expires_in).toBeLessThanOrEqual(2)
    expect(await alive(sent.access_token)).toBe(true)
    expect(await unusedInSession(sent.refresh_token)).toBe(1)

    // Stored on the old token's row, sealed: neither token is readable from the database.
    const stored = await env.DB.prepare(
      'SELECT retry_response FROM refresh_tokens WHERE token_hash = ?1',
    )
      .bind(await sha256Hex(pair.refresh_token))
      .first<{ retry_response: string }>()
    expect(stored?.retry_response).toMatch(/^[\w-]+\.[\w-]+$/)
    expect(stored?.retry_response).not.toContain(sent.refresh_token)
    expect(stored?.retry_response).not.toContain(sent.access_token.split('.')[1])

    // Once the successor is used, the old token is reuse as before: the session ends.
    const next = await refresh(sent.refresh_token, clientId)
    expect(next.status).toBe(200)
    const late = await refresh(pair.refresh_token, clientId)
    expect(late.status).toBe(400)
    expect(await alive((await next.json<TokenPair>()).access_token)).toBe(false)
  })

  it('answers racing retries with one chain: one successor, the same for all', async () => {
    const { clientId, pair } = await session()
    const results = await Promise.all(
      Array.from({ length: 6 }, () => refresh(pair.refresh_token, clientId)),
    )
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200])
    const bodies = await Promise.all(results.map((r) => r.json<TokenPair>()))
    expect(new Set(bodies.map((b) => b.refresh_token)).size).toBe(1)
    expect(new Set(bodies.map((b) => b.access_token)).size).toBe(1)
    expect(await unusedInSession(bodies[0]!.refresh_token)).toBe(1)
    expect(await alive(bodies[0]!.access_token)).toBe(true)
    expect((await refresh(bodies[0]!.refresh_token, clientId)).status).toBe(200)

    // With the window off (the default), racing refreshes are reuse, as documented.
    const off = await session()
    const raced = await Promise.all(
      Array.from({ length: 3 }, () => refresh(off.pair.refresh_token, off.clientId, env)),
    )
    expect(raced.map((r) => r.status).sort()).toEqual([200, 400, 400])
    const winner = await raced.find((r) => r.status === 200)!.json<TokenPair>()
    expect(await alive(winner.access_token)).toBe(false)
  })

  it('is reuse once the window has passed', async () => {
    const { clientId, pair } = await session()
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = Date.now()
    const sent = await (await refresh(pair.refresh_token, clientId)).json<TokenPair>()
    vi.setSystemTime(start + 10_000)
    const within = await refresh(pair.refresh_token, clientId)
    expect(within.status).toBe(200)
    const retried = await within.json<TokenPair>()
    expect(retried.refresh_token).toBe(sent.refresh_token)
    // The same access token, which has 10 s less to live.
    expect(retried.access_token).toBe(sent.access_token)
    expect(retried.expires_in).toBe(sent.expires_in - 10)

    vi.setSystemTime(start + 31_000)
    expect((await refresh(pair.refresh_token, clientId)).status).toBe(400)
    expect(await alive(sent.access_token)).toBe(false)
  })

  it('is reuse from another client, and ends the session', async () => {
    const { clientId, pair } = await session()
    const sent = await (await refresh(pair.refresh_token, clientId)).json<TokenPair>()
    expect((await refresh(pair.refresh_token, clientId)).status).toBe(200)
    const other = await makeClient()
    expect((await refresh(pair.refresh_token, other.client.client_id)).status).toBe(400)
    expect(await alive(sent.access_token)).toBe(false)
    expect((await refresh(pair.refresh_token, clientId)).status).toBe(400)
  })

  it('leaves nothing to open once the window is over: the hourly purge drops it', async () => {
    const { clientId, pair } = await session()
    expect((await refresh(pair.refresh_token, clientId)).status).toBe(200)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 60_000)
    await purgeExpired(WINDOW)
    const stored = await env.DB.prepare(
      'SELECT retry_response FROM refresh_tokens WHERE token_hash = ?1',
    )
      .bind(await sha256Hex(pair.refresh_token))
      .first<{ retry_response: string | null }>()
    expect(stored).toEqual({ retry_response: null })
  })
})
