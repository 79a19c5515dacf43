import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { basicHeader, bearer, call, makeUser } from '../helpers'
import { Browser, exchange, getCode, makeClient, tokens } from '../oauth-client'

// The second outside penetration test (docs/security.md): a spent code is kept a day to recognise a replay, and a
// replay ended the session it gave before anything else was checked. Anyone who saw the redirect
// URL (a proxy log, a browser history, a Referer) could sign the user out for a day with a
// garbage verifier. A replay now ends the session only when it proves possession: the PKCE
// verifier matches, or a confidential client authenticated (RFC 6749 §10.5, RFC 7636 §1).

const GARBAGE = 'g'.repeat(43)

async function spentCode(opts: Parameters<typeof makeClient>[0] = {}) {
  const user = await makeUser()
  const made = await makeClient({ first_party: true, ...opts })
  const code = await getCode(new Browser(), made.client.client_id, user)
  return { ...made, code }
}

const alive = async (accessToken: string) =>
  (await call('/users/me', bearer(accessToken))).status === 200

const reuseEvents = async () =>
  (
    await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'code_reuse_detected'",
    ).first<{ n: number }>()
  )?.n ?? 0

describe('a replayed authorization code', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('ends the session only when the replay proves possession of the code', async () => {
    const { code, client } = await spentCode()
    const pair = await tokens(await exchange(code, { client_id: client.client_id }))
    const before = await reuseEvents()

    // Whoever saw the redirect URL: no verifier, a wrong one, or another client's id.
    const other = await makeClient()
    const attempts: Record<string, string>[] = [
      { client_id: client.client_id, code_verifier: GARBAGE },
      { client_id: client.client_id, code_verifier: 'short' },
      { client_id: client.client_id, code_verifier: '' },
      { client_id: other.client.client_id },
    ]
    for (const fields of attempts) {
      const replay = await exchange(code, fields)
      expect(replay.status).toBe(400)
      expect((await replay.json<{ error: string }>()).error).toBe('invalid_grant')
    }
    expect(await alive(pair.access_token)).toBe(true)
    expect(await reuseEvents()).toBe(before)

    // The app's own verifier proves the replay came from whoever holds it: the session ends.
    const proven = await exchange(code, { client_id: client.client_id })
    expect(proven.status).toBe(400)
    expect(await alive(pair.access_token)).toBe(false)
    expect(await reuseEvents()).toBe(before + 1)

    // A confidential client proves it with its secret, whatever verifier it sends.
    const conf = await spentCode({ token_endpoint_auth_method: 'client_secret_basic' })
    const auth = { Authorization: basicHeader(conf.client.client_id, conf.client_secret!) }
    const confPair = await tokens(await exchange(conf.code, {}, auth))
    const byClient = await exchange(conf.code, { code_verifier: GARBAGE }, auth)
    expect(byClient.status).toBe(400)
    expect(await alive(confPair.access_token)).toBe(false)
  })

  it('does not end the session after the code expired, unless the verifier comes with it', async () => {
    const { code, client } = await spentCode()
    const pair = await tokens(await exchange(code, { client_id: client.client_id }))
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 10 * 60_000)
    const replay = await exchange(code, { client_id: client.client_id, code_verifier: GARBAGE })
    expect(replay.status).toBe(400)
    expect(await alive(pair.access_token)).toBe(true)
    // Spent codes are kept a day so that a proven replay still counts.
    expect((await exchange(code, { client_id: client.client_id })).status).toBe(400)
    expect(await alive(pair.access_token)).toBe(false)
  })
})
