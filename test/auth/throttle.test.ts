import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type Attempt,
  clientRegistrationAttempt,
  passwordAttempt,
  signupAttempt,
  userCodeAttempt,
} from '../../src/auth/throttle'
import { config } from '../../src/config'
import type { Requester } from '../../src/domain/requester'

// Which counters an attempt is charged to, and by which rule. Counting, locking and refunds run
// in D1: test/security/throttle.test.ts. Limits are configuration, read here from the rules.

const from = (address: string | null): Requester => ({ address, userAgent: null, path: '/t' })
const keys = (a: Attempt) => a.keys.map((k) => k.key)
const cfg = { ...config(env), loginMaxFailures: 7, loginLockoutSeconds: 42 }

afterEach(() => {
  vi.useRealTimers()
})

describe('a password attempt', () => {
  it('is charged to the username, lowercased, and to the client address', () => {
    const a = passwordAttempt(cfg, from('192.0.2.1'), 'Alice.Smith')
    expect(keys(a)).toEqual(['user:alice.smith', 'ip:192.0.2.1'])
  })

  it('locks the username by the configured limit and lockout, and forgets it on success', () => {
    const [user, address] = passwordAttempt(cfg, from('192.0.2.1'), 'alice').keys
    expect(user!.rule).toMatchObject({ limit: 7, lockSeconds: 42, onSuccess: 'forget' })
    // One valid account must not wipe a spray's failures from its address.
    expect(address!.rule.onSuccess).toBe('refund')
    expect(address!.rule.limit).toBeGreaterThan(user!.rule.limit)
  })

  it('counts a string that no username can be against the address only, never storing it', () => {
    for (const typed of ['correct horse battery staple', 'ab', 'x'.repeat(65), 'Pa$$w0rd!']) {
      const a = passwordAttempt(cfg, from('192.0.2.1'), typed)
      expect(keys(a)).toEqual(['ip:192.0.2.1'])
    }
  })

  it('has no address counter without CF-Connecting-IP, and nothing at all with neither', () => {
    expect(keys(passwordAttempt(cfg, from(null), 'alice'))).toEqual(['user:alice'])
    expect(keys(passwordAttempt(cfg, from(null), 'a b'))).toEqual([])
  })

  it('charges one IPv6 /64 as one address, however it is spelt', () => {
    const key = (address: string) => keys(passwordAttempt(cfg, from(address), 'alice'))[1]
    expect(key('2001:db8:77:1::1')).toBe('ip:2001:db8:77:1::/64')
    expect(key('2001:DB8:77:1:ffff:ffff:ffff:ffff')).toBe('ip:2001:db8:77:1::/64')
    expect(key('2001:0db8:0077:0001:0:0:0:abc')).toBe('ip:2001:db8:77:1::/64')
    expect(key('2001:db8:77:2::1')).toBe('ip:2001:db8:77:2::/64')
    expect(key('::ffff:192.0.2.1')).toBe('ip:192.0.2.1')
  })

  it('is judged at the time it is made', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.UTC(2026, 11, 1, 12, 0, 0, 999))
    expect(passwordAttempt(cfg, from(null), 'alice').now).toBe(Date.UTC(2026, 11, 1, 12) / 1000)
  })
})

describe('registrations', () => {
  it('charge a self-registration to sign-ups from the address key', () => {
    expect(keys(signupAttempt(from('2001:db8::5')))).toEqual(['signup:2001:db8:0:0::/64'])
    expect(keys(signupAttempt(from(null)))).toEqual([])
  })

  it('charge a client registration to its own counter for the address key', () => {
    expect(keys(clientRegistrationAttempt(from('192.0.2.1')))).toEqual(['client-signup:192.0.2.1'])
    expect(keys(clientRegistrationAttempt(from(null)))).toEqual([])
  })
})

describe('a user code typed on the device page', () => {
  it('is charged to the browser and to the address key', () => {
    const a = userCodeAttempt(from('2001:db8:1:2::9'), 'digest-of-cookie')
    expect(keys(a)).toEqual(['device:digest-of-cookie', 'device-ip:2001:db8:1:2::/64'])
  })

  it('is still charged to the browser without an address', () => {
    expect(keys(userCodeAttempt(from(null), 'digest-of-cookie'))).toEqual([
      'device:digest-of-cookie',
    ])
  })

  it('never shares a counter with password attempts or sign-ups from the same address', () => {
    const all = [
      ...keys(userCodeAttempt(from('192.0.2.1'), 'b')),
      ...keys(passwordAttempt(cfg, from('192.0.2.1'), 'device')),
      ...keys(signupAttempt(from('192.0.2.1'))),
      ...keys(clientRegistrationAttempt(from('192.0.2.1'))),
    ]
    expect(new Set(all).size).toBe(all.length)
  })
})
