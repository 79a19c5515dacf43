import { describe, expect, it } from 'vitest'
import {
  type ClientClaims,
  clientSubject,
  isClientToken,
  tokenUsername,
  type UserClaims,
} from '../../src/domain/claims'

const common = { iss: 'https://todo.test', aud: 'todo-api', iat: 0, exp: 900, jti: 'j1' }
const user: UserClaims = {
  ...common,
  sub: crypto.randomUUID(),
  username: 'alice',
  sid: 's1',
  scope: 'read',
  role: 'user',
  client_id: 'web',
}
const client: ClientClaims = { ...common, sub: clientSubject('c1'), client_id: 'c1', scope: '' }

describe('access token claims', () => {
  it("names a client's own token client:<id>, a subject no user id can have", () => {
    expect(clientSubject('c1')).toBe('client:c1')
    expect(crypto.randomUUID()).not.toContain(':')
  })

  it('tells a client token by its lack of a session, not by its client_id', () => {
    expect(isClientToken(client)).toBe(true)
    expect(isClientToken(user)).toBe(false)
  })

  it("names the user of a user's token, and no one for a client's own or no token", () => {
    expect(tokenUsername(user)).toBe('alice')
    expect(tokenUsername(client)).toBeUndefined()
    expect(tokenUsername(undefined)).toBeUndefined()
  })
})
