import { describe, expect, it } from 'vitest'
import { call, login, makeUser, bearer } from '../helpers'

describe('smoke', () => {
  it('logs in and lists todos', async () => {
    const u = await makeUser()
    const t = await login(u)
    const res = await call('/api/todos', bearer(t.access_token))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual([])
  })
})
