import { afterEach, describe, expect, vi } from 'vitest'
import { basicHeader, bearer, call, form, it, json, type SignedIn } from '../helpers'
import { makeClient } from '../oauth-client'

// The second outside penetration test (docs/security.md): a client's own token (client credentials) has no session;
// it was held only against its client's row as it is now, so it stopped while the client was
// disabled and worked again once it was enabled, and rotating the secret did not end the tokens
// issued with the old one. The client now records the second from which its tokens count.

type Service = { id: string; secret: string }

async function service(): Promise<Service> {
  const { client, client_secret } = await makeClient({
    grant_types: ['client_credentials'],
    scope: 'audit:read',
    token_endpoint_auth_method: 'client_secret_basic',
  })
  return { id: client.client_id, secret: client_secret! }
}

async function tokenOf(s: Service): Promise<string> {
  const res = await call('/auth/token', {
    ...form({ grant_type: 'client_credentials' }),
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: basicHeader(s.id, s.secret),
    },
  })
  expect(res.status, await res.clone().text()).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

const reads = async (token: string) => (await call('/admin/audit', bearer(token))).status

const patch = (admin: SignedIn, s: Service, body: Record<string, unknown>) =>
  call(`/admin/clients/${s.id}`, json('PATCH', body, admin.token))

describe('a client’s own token', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('stays dead once its client was disabled, also after it is enabled again', async ({
    admin,
  }) => {
    const s = await service()
    const token = await tokenOf(s)
    expect(await reads(token)).toBe(200)
    expect((await patch(admin, s, { disabled: true })).status).toBe(200)
    expect(await reads(token)).toBe(401)
    expect((await patch(admin, s, { disabled: false })).status).toBe(200)
    expect(await reads(token)).toBe(401)
    // A token issued after the client is enabled again works at once.
    expect(await reads(await tokenOf(s))).toBe(200)
  })

  it('ends with the secret it was issued under', async ({ admin }) => {
    const s = await service()
    const token = await tokenOf(s)
    const rotated = await call(`/admin/clients/${s.id}/secret`, {
      ...bearer(admin.token),
      method: 'POST',
    })
    expect(rotated.status).toBe(200)
    const { client_secret } = (await rotated.json()) as { client_secret: string }
    expect(await reads(token)).toBe(401)
    expect(await reads(await tokenOf({ id: s.id, secret: client_secret }))).toBe(200)
  })

  it('stays dead once its client lost the grant, also after getting it back', async ({ admin }) => {
    const s = await service()
    const token = await tokenOf(s)
    expect((await patch(admin, s, { grant_types: ['authorization_code'] })).status).toBe(200)
    expect((await patch(admin, s, { grant_types: ['client_credentials'] })).status).toBe(200)
    expect(await reads(token)).toBe(401)
  })

  it('issued in the same second as the disable does not survive it', async ({ admin }) => {
    const s = await service()
    // Within one second: issued, disabled, enabled, used. `iat` counts whole seconds.
    const second = Math.ceil(Date.now() / 1000) * 1000 + 5_000
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(second + 100)
    const token = await tokenOf(s)
    vi.setSystemTime(second + 300)
    await patch(admin, s, { disabled: true })
    vi.setSystemTime(second + 500)
    await patch(admin, s, { disabled: false })
    vi.setSystemTime(second + 700)
    expect(await reads(token)).toBe(401)
    // One issued after the enable, still in that second, works, and goes on working.
    const fresh = await tokenOf(s)
    expect(await reads(fresh)).toBe(200)
    vi.setSystemTime(second + 1_500)
    expect(await reads(fresh)).toBe(200)
  })

  it('is not issued when the secret was rotated while the old one was being checked', async ({
    admin,
  }) => {
    const s = await service()
    // Deterministic interleaving: the rotation lands after the grant read the client's row and
    // before it dates the token, and the clock crosses into the next second meanwhile, so that
    // the token's `iat` alone would be late enough to pass.
    const second = Math.ceil(Date.now() / 1000) * 1000 + 5_000
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(second - 100)
    const digest = crypto.subtle.digest.bind(crypto.subtle)
    let rotated = false
    vi.spyOn(crypto.subtle, 'digest').mockImplementation(async (algorithm, data) => {
      const hashing = new TextDecoder().decode(data as ArrayBuffer) === s.secret
      if (hashing && !rotated) {
        rotated = true
        const res = await call(`/admin/clients/${s.id}/secret`, {
          ...bearer(admin.token),
          method: 'POST',
        })
        expect(res.status).toBe(200)
        vi.setSystemTime(second + 100)
      }
      return digest(algorithm, data)
    })
    const res = await call('/auth/token', {
      ...form({ grant_type: 'client_credentials' }),
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: basicHeader(s.id, s.secret),
      },
    })
    expect(rotated).toBe(true)
    expect(res.status).toBe(401)
  })
})
