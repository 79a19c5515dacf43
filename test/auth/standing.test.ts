import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  clientStandingOf,
  presumed,
  presumedOf,
  remember,
  sameStanding,
  standingOf,
} from '../../src/auth/standing'
import type { BearerSession } from '../../src/db/sessions'
import type { ClientClaims, UserClaims } from '../../src/domain/claims'
import { SCOPES, type Scope } from '../../src/domain/scopes'
import type { Standing } from '../../src/domain/standing'
import type { Role } from '../../src/domain/user'

// The presumption cache is per isolate and this file shares one: every test uses fresh ids.

const userClaims = (over: Partial<UserClaims> = {}): UserClaims => ({
  iss: 'https://todo.test',
  aud: 'todo-api',
  sub: crypto.randomUUID(),
  username: 'alice',
  sid: crypto.randomUUID(),
  scope: 'read write',
  role: 'admin',
  iat: 0,
  exp: 900,
  jti: crypto.randomUUID(),
  ...over,
})

const clientClaims = (scope: string): ClientClaims => ({
  iss: 'https://todo.test',
  aud: 'todo-api',
  sub: 'client:c1',
  client_id: 'c1',
  scope,
  iat: 0,
  exp: 900,
  jti: crypto.randomUUID(),
})

const session = (
  scope: string,
  user: { role?: Role; scopes?: Scope[] } = {},
  thirdPartyApp = false,
): BearerSession => ({
  sessionId: crypto.randomUUID(),
  scope,
  thirdPartyApp,
  user: {
    id: crypto.randomUUID(),
    username: 'alice',
    name: 'Alice',
    email: 'alice@example.com',
    role: user.role ?? 'user',
    scopes: user.scopes ?? ['read', 'write'],
    disabled: false,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
  },
})

describe('the standing a live session gives its token', () => {
  it("takes the user's role and the session's third-party flag now, not the token's", () => {
    const claims = userClaims({ role: 'admin' })
    expect(standingOf(session('read write', { role: 'user' }, true), claims)).toEqual({
      role: 'user',
      scopes: ['read', 'write'],
      thirdPartyApp: true,
    })
  })

  it('narrows the scopes to what the token, its session and its user all have', () => {
    const std = (token: string, sess: string, user: Scope[]) =>
      standingOf(session(sess, { scopes: user }), userClaims({ scope: token })).scopes
    expect(std('read write', 'read write', ['read'])).toEqual(['read'])
    expect(std('read write', 'read', ['read', 'write'])).toEqual(['read'])
    expect(std('write', 'read write', ['read', 'write'])).toEqual(['write'])
    expect(std('read write', 'read write', [])).toEqual([])
  })

  it('never gives a scope that any one of the three lacks', () => {
    const scopes = fc.subarray([...SCOPES])
    fc.assert(
      fc.property(scopes, scopes, scopes, (token, sess, user) => {
        const got = standingOf(
          session(sess.join(' '), { scopes: user }),
          userClaims({ scope: token.join(' ') }),
        ).scopes
        const expected = SCOPES.filter((s) => [token, sess, user].every((l) => l.includes(s)))
        expect(got).toEqual(expected)
      }),
    )
  })
})

describe("the standing of a client's own token", () => {
  it('keeps the machine scopes that the token has and the client is still registered for', () => {
    const claims = clientClaims('users:read audit:read')
    expect(clientStandingOf('users:read read', claims)).toEqual({ machineScopes: ['users:read'] })
    expect(clientStandingOf('', claims)).toEqual({ machineScopes: [] })
  })

  it('never gives a client token user scopes, even when registered for them', () => {
    const claims = clientClaims('read write audit:read')
    expect(clientStandingOf('read write audit:read', claims)).toEqual({
      machineScopes: ['audit:read'],
    })
  })

  it("reads a live client's registered scope, and a live session, each its own way", () => {
    const claims = clientClaims('audit:read users:read')
    expect(presumedOf({ registeredScope: 'audit:read' }, claims)).toEqual({
      machineScopes: ['audit:read'],
    })
    const user = userClaims({ scope: 'read' })
    expect(presumedOf(session('read write'), user)).toEqual({
      role: 'user',
      scopes: ['read'],
      thirdPartyApp: false,
    })
  })
})

describe('whether two standings are the same', () => {
  const base = { role: 'user', scopes: ['read', 'write'] as Scope[], thirdPartyApp: false }

  it('is the same for equal role, scopes and third-party flag', () => {
    expect(sameStanding(base, { ...base, scopes: ['read', 'write'] })).toBe(true)
  })

  it.each<[string, Partial<Standing>]>([
    ['the role', { role: 'admin' }],
    ['the scopes', { scopes: ['read'] }],
    ['the third-party flag', { thirdPartyApp: true }],
  ])('differs by %s', (_, change) => {
    expect(sameStanding(base, { ...base, ...change })).toBe(false)
  })

  it("compares a client's standing by its machine scopes, and never equals a user's", () => {
    const audit = { machineScopes: ['audit:read' as const] }
    expect(sameStanding(audit, { machineScopes: ['audit:read'] })).toBe(true)
    expect(sameStanding(audit, { machineScopes: [] })).toBe(false)
    expect(sameStanding(audit, base)).toBe(false)
    expect(sameStanding(base, audit)).toBe(false)
    expect(sameStanding({ machineScopes: [] }, { ...base, scopes: [] })).toBe(false)
  })
})

describe('what a token is presumed to hold before its check', () => {
  const demoted = { role: 'user', scopes: ['read'] as Scope[], thirdPartyApp: true }

  it("falls back to a user token's claims, unknown scopes dropped", () => {
    const claims = userClaims({ role: 'admin', scope: 'write root read' })
    expect(presumed(claims)).toEqual({
      role: 'admin',
      scopes: ['read', 'write'],
      thirdPartyApp: false,
    })
  })

  it("falls back to a client token's machine scopes", () => {
    const claims = clientClaims('read audit:read bogus users:read')
    expect(presumed(claims)).toEqual({ machineScopes: ['users:read', 'audit:read'] })
  })

  it('presumes what its session was last seen with, for every token of that session', () => {
    const claims = userClaims()
    remember(claims, demoted)
    expect(presumed(claims)).toEqual(demoted)
    expect(presumed(userClaims({ sid: claims.sid, jti: crypto.randomUUID() }))).toEqual(demoted)
    expect(presumed(userClaims())).toEqual({
      role: 'admin',
      scopes: ['read', 'write'],
      thirdPartyApp: false,
    })
  })

  it('keeps client tokens apart from each other and from a session named like them', () => {
    const first = clientClaims('audit:read users:read')
    remember(first, { machineScopes: [] })
    expect(presumed(first)).toEqual({ machineScopes: [] })
    const second = clientClaims('audit:read')
    expect(presumed(second)).toEqual({ machineScopes: ['audit:read'] })
    const namesake = userClaims({ sid: first.jti })
    expect(presumed(namesake)).toEqual({
      role: 'admin',
      scopes: ['read', 'write'],
      thirdPartyApp: false,
    })
  })

  /** Remembers fresh sessions until `claims` is forgotten; false if it never is. */
  const fillUntilForgotten = (claims: UserClaims) => {
    for (let i = 0; i < 100_000; i++) {
      if (!sameStanding(presumed(claims), demoted)) return true
      remember(userClaims(), demoted)
    }
    return false
  }

  it('is bounded, forgetting the least recently remembered session first', () => {
    const oldest = userClaims()
    const next = userClaims()
    remember(oldest, demoted)
    remember(next, demoted)
    expect(fillUntilForgotten(oldest)).toBe(true)
    expect(presumed(next)).toEqual(demoted)
  })

  it('counts a session remembered again as recent', () => {
    const refreshed = userClaims()
    const stale = userClaims()
    remember(refreshed, demoted)
    remember(stale, demoted)
    remember(refreshed, demoted)
    expect(fillUntilForgotten(stale)).toBe(true)
    expect(presumed(refreshed)).toEqual(demoted)
  })
})
