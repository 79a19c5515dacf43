import { env } from 'cloudflare:test'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { basicHeader, call, login, makeUser, type TestUser } from '../helpers'
import { claimsOf, currentKid, encodePart, forge, type Hash } from './forge'

type Claims = Record<string, unknown>

let user: TestUser
let token: string
let header: Claims
let payload: Claims
let otherUserToken: string

beforeAll(async () => {
  user = await makeUser()
  token = (await login(user)).access_token
  ;({ header, payload } = claimsOf(token))
  otherUserToken = (await login(await makeUser())).access_token
})

afterEach(() => {
  vi.useRealTimers()
})

const todosWith = (authorization: string) =>
  call('/api/todos', { headers: { Authorization: authorization } })

async function expectInvalidToken(res: Response) {
  expect(res.status).toBe(401)
  expect(res.headers.get('WWW-Authenticate')).toBe(
    'Bearer realm="todo-auth", error="invalid_token", resource_metadata="https://todo.test/.well-known/oauth-protected-resource"',
  )
  expect(await res.json()).toEqual({
    error: 'invalid_token',
    error_description: 'The access token is invalid, expired or revoked.',
  })
}

async function expectNoCredentials(res: Response) {
  expect(res.status).toBe(401)
  expect(res.headers.get('WWW-Authenticate')).toBe(
    'Bearer realm="todo-auth", resource_metadata="https://todo.test/.well-known/oauth-protected-resource"',
  )
  expect(((await res.json()) as { error: string }).error).toBe('unauthorized')
}

const now = () => Math.floor(Date.now() / 1000)

describe('the forge used by these tests', () => {
  it('makes a token the service accepts when nothing is changed, so every refusal below is due to the one change', async () => {
    const res = await todosWith(`Bearer ${await forge(header, payload)}`)
    expect(res.status).toBe(200)
  })
})

describe('alg "none" is refused in every casing', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('alg %s with an empty signature', async (alg) => {
    await expectInvalidToken(
      await todosWith(`Bearer ${encodePart({ ...header, alg })}.${encodePart(payload)}.`),
    )
  })
  it.each(['none', 'NONE'])('alg %s keeping a valid HS256 signature', async (alg) => {
    await expectInvalidToken(await todosWith(`Bearer ${await forge({ ...header, alg }, payload)}`))
  })
})

describe('algorithm confusion is refused', () => {
  const cases: [string, Claims, Hash][] = [
    ['RS256 header, HMAC-signed with the secret', { alg: 'RS256' }, 'SHA-256'],
    ['ES256 header, HMAC-signed with the secret', { alg: 'ES256' }, 'SHA-256'],
    ['PS256 header, HMAC-signed with the secret', { alg: 'PS256' }, 'SHA-256'],
    ['EdDSA header, HMAC-signed with the secret', { alg: 'EdDSA' }, 'SHA-256'],
    ['HS512 header, HMAC-SHA-512 with the right secret', { alg: 'HS512' }, 'SHA-512'],
    ['HS384 header, HMAC-SHA-384 with the right secret', { alg: 'HS384' }, 'SHA-384'],
    ['HS512 header over an HS256 signature', { alg: 'HS512' }, 'SHA-256'],
    ['lowercase hs256', { alg: 'hs256' }, 'SHA-256'],
    ['no alg at all', { alg: undefined }, 'SHA-256'],
    ['a crit header', { crit: ['exp'] }, 'SHA-256'],
    ['typ other than JWT', { typ: 'at+jwt+evil' }, 'SHA-256'],
  ]
  it.each(cases)('%s', async (_, change, hash) => {
    await expectInvalidToken(
      await todosWith(`Bearer ${await forge({ ...header, ...change }, payload, { hash })}`),
    )
  })
})

describe('tokens signed with weak, empty or wrong keys are refused', () => {
  const secrets: [string, string | Uint8Array][] = [
    ['"secret"', 'secret'],
    ['a one-byte key', 'a'],
    ['32 zero bytes', new Uint8Array(32)],
    ['the secret minus its last byte', 'test-only-secret-0123456789abcdef0123456789abcde'],
    ['the secret plus one byte', 'test-only-secret-0123456789abcdef0123456789abcdefX'],
    ['the secret in upper case', 'TEST-ONLY-SECRET-0123456789ABCDEF0123456789ABCDEF'],
  ]
  it.each(secrets)('%s', async (_, secret) => {
    await expectInvalidToken(await todosWith(`Bearer ${await forge(header, payload, { secret })}`))
  })
  it('an embedded attacker jwk or jku, signed with the attacker key', async () => {
    const jwk = { kty: 'oct', k: 'YXR0YWNrZXI', alg: 'HS256' }
    await expectInvalidToken(
      await todosWith(`Bearer ${await forge({ ...header, jwk }, payload, { secret: 'attacker' })}`),
    )
    await expectInvalidToken(
      await todosWith(
        `Bearer ${await forge({ ...header, jku: 'https://evil.test/jwks' }, payload, { secret: 'attacker' })}`,
      ),
    )
  })
})

describe('hostile kid values are refused even with the right signature', () => {
  it.each<[string, unknown]>([
    ['unknown', 'no-such-key'],
    ['path traversal', '../../../../../dev/null'],
    ['SQL', "' OR '1'='1' --"],
    ['huge', 'k'.repeat(20_000)],
    ['a number', 0],
    ['null', null],
    ['an object', { $ne: null }],
    ['an array holding the real kid', ['KID']],
    ['missing', undefined],
  ])('%s', async (_, kid) => {
    const realKid = await currentKid()
    const value = Array.isArray(kid) ? [realKid] : kid
    await expectInvalidToken(
      await todosWith(`Bearer ${await forge({ ...header, kid: value }, payload)}`),
    )
  })
})

describe('claims', () => {
  const refused: [string, (p: Claims) => Claims][] = [
    ['exp missing', ({ exp: _, ...p }) => p],
    ['exp in the past', (p) => ({ ...p, exp: now() - 1 })],
    ['exp exactly now', (p) => ({ ...p, exp: now() })],
    ['exp as a string', (p) => ({ ...p, exp: String(now() + 600) })],
    ['exp null', (p) => ({ ...p, exp: null })],
    ['iat missing', ({ iat: _, ...p }) => p],
    ['iat beyond the 60 s leeway', (p) => ({ ...p, iat: now() + 120 })],
    ['iat as a string', (p) => ({ ...p, iat: String(now()) })],
    ['nbf beyond the 60 s leeway', (p) => ({ ...p, nbf: now() + 120 })],
    ['nbf as a string', (p) => ({ ...p, nbf: String(now()) })],
    ['iss of another issuer', (p) => ({ ...p, iss: 'https://evil.test' })],
    ['iss missing', ({ iss: _, ...p }) => p],
    ['aud of another audience', (p) => ({ ...p, aud: 'other-api' })],
    ['aud a list without ours', (p) => ({ ...p, aud: ['other-api'] })],
    ['aud missing', ({ aud: _, ...p }) => p],
    [
      'aud a list, even one holding ours (we only issue a single audience)',
      (p) => ({ ...p, aud: ['other-api', 'todo-api'] }),
    ],
    ['sub missing', ({ sub: _, ...p }) => p],
    [
      "sub of another user (with this user's session)",
      (p) => ({ ...p, sub: claimsOf(otherUserToken).payload.sub }),
    ],
    ["sid of another user's session", (p) => ({ ...p, sid: claimsOf(otherUserToken).payload.sid })],
    ['sid missing', ({ sid: _, ...p }) => p],
    ['sid unknown', (p) => ({ ...p, sid: crypto.randomUUID() })],
    ['sid as a number', (p) => ({ ...p, sid: 1 })],
    ['username missing', ({ username: _, ...p }) => p],
    ['scope missing', ({ scope: _, ...p }) => p],
    ['jti missing', ({ jti: _, ...p }) => p],
    ['role missing', ({ role: _, ...p }) => p],
  ]
  it.each(refused)('refuses a token with %s', async (_, change) => {
    await expectInvalidToken(await todosWith(`Bearer ${await forge(header, change(payload))}`))
  })

  const accepted: [string, (p: Claims) => Claims][] = [
    ['iat 30 s ahead (clock skew within leeway)', (p) => ({ ...p, iat: now() + 30 })],
    ['nbf 30 s ahead (within leeway)', (p) => ({ ...p, nbf: now() + 30 })],
  ]
  it.each(accepted)('accepts a token with %s', async (_, change) => {
    expect((await todosWith(`Bearer ${await forge(header, change(payload))}`)).status).toBe(200)
  })

  it('cannot raise its own scope: a read-only token re-signed without the key stays refused', async () => {
    const readOnly = (await login(user, 'read')).access_token
    const [h, , sig] = readOnly.split('.')
    const widened = `${h}.${encodePart({ ...claimsOf(readOnly).payload, scope: 'read write' })}.${sig}`
    const res = await call('/api/todos', {
      method: 'POST',
      headers: { Authorization: `Bearer ${widened}`, 'Content-Type': 'application/json' },
      body: '{"title":"x"}',
    })
    await expectInvalidToken(res)
  })
})

describe('tampered and malformed tokens are refused', () => {
  const cases: [string, (t: string) => string][] = [
    [
      'payload swapped for another user’s',
      (t) => {
        const [h, , s] = t.split('.')
        return `${h}.${otherUserToken.split('.')[1]}.${s}`
      },
    ],
    [
      'signature from another token',
      (t) => `${t.slice(0, t.lastIndexOf('.'))}.${otherUserToken.split('.')[2]}`,
    ],
    ['signature truncated by one character', (t) => t.slice(0, -1)],
    [
      'signature truncated to half',
      (t) => {
        const i = t.lastIndexOf('.')
        return t.slice(0, i + Math.floor((t.length - i) / 2))
      },
    ],
    ['signature removed', (t) => t.slice(0, t.lastIndexOf('.') + 1)],
    // Not the last character: of its 6 bits only the top 2 are signature (the rest is padding).
    [
      'signature with its first character changed',
      (t) => {
        const i = t.lastIndexOf('.') + 1
        return `${t.slice(0, i)}${t[i] === 'A' ? 'B' : 'A'}${t.slice(i + 1)}`
      },
    ],
    ['signature with padding and junk', (t) => `${t}==!!`],
    ['only two segments', (t) => t.slice(0, t.lastIndexOf('.'))],
    ['four segments', (t) => `${t}.${t.split('.')[2]}`],
    ['header that is not JSON', (t) => `bm90IGpzb24.${t.split('.').slice(1).join('.')}`],
    [
      'payload that is not base64url',
      (t) => {
        const [h, , s] = t.split('.')
        return `${h}.%%%%.${s}`
      },
    ],
    ['garbage', () => 'a.b.c'],
    ['a 12 KB token', () => `${'a'.repeat(4000)}.${'b'.repeat(4000)}.${'c'.repeat(4000)}`],
  ]
  it.each(cases)('%s', async (_, tamper) => {
    await expectInvalidToken(await todosWith(`Bearer ${tamper(token)}`))
  })
})

describe('the Authorization header', () => {
  it.each([
    ['lowercase scheme (RFC 7235: schemes are case-insensitive)', (t: string) => `bearer ${t}`],
    ['several spaces after the scheme (1*SP)', (t: string) => `Bearer    ${t}`],
  ])('accepts a %s', async (_, make) => {
    expect((await todosWith(make(token))).status).toBe(200)
  })

  it.each([
    ['"Bearer" twice', (t: string) => `Bearer Bearer ${t}`],
    ['two tokens', (t: string) => `Bearer ${t} ${t}`],
    ['Basic credentials on a Bearer route', () => basicHeader(user.username, user.password)],
    ['an empty value', () => ''],
    ['the scheme alone', () => 'Bearer'],
    ['the scheme and a space', () => 'Bearer '],
    ['another scheme', (t: string) => `Token ${t}`],
    ['a tab instead of a space', (t: string) => `Bearer\t${t}`],
    ['a comma-joined list of credentials', (t: string) => `Bearer ${t}, Bearer ${t}`],
  ])('treats %s as no credentials', async (_, make) => {
    await expectNoCredentials(await todosWith(make(token)))
  })

  it.each(['access_token', 'token', 'jwt'])(
    'never reads a token from the query string (?%s=)',
    async (name) => {
      await expectNoCredentials(await call(`/api/todos?${name}=${token}`))
    },
  )

  it('never reads a token from a cookie', async () => {
    const res = await call('/users/me', {
      method: 'GET',
      headers: { Cookie: `access_token=${token}` },
    })
    await expectNoCredentials(res)
  })
})

it('uses the configured test secret (guards the forge)', () => {
  expect(env.JWT_SECRET).toBe('test-only-secret-0123456789abcdef0123456789abcdef')
})
