import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { appRoutes, basicHeader, call, json, login, makeUser, type TestUser } from '../helpers'

/**
 * Property: nothing a client can send makes the Worker answer 5xx, and every error it answers has
 * the one JSON error shape. Every route of the app, with random methods, ids,
 * queries, headers and bodies. Bounded runs keep the suite fast; a failure prints its seed and the
 * shrunk request.
 */

/**
 * Every route the app serves, read from the app so that a new one is fuzzed too, and /docs (a
 * static page, which the Worker itself does not serve). Other methods are drawn too, less often.
 */
const ROUTES = [...appRoutes(), 'GET /docs'].map((r) => r.split(' ') as [string, string])

const METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS']

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 200,
})
const text = fc.oneof(printable, fc.string({ unit: 'grapheme', maxLength: 100 }))

let user: TestUser
let admin: TestUser
/** A todo that exists, so that ids sometimes hit a real row. */
let todoId: string

const segment = fc.oneof(
  fc.constant('{todo}'),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%C3%28', '..', '%2F', '%00', "'%20OR%20'1'%3D'1", 'x'.repeat(3000)),
)
const query = fc.dictionary(
  fc.constantFrom(
    ...['limit', 'offset', 'completed', 'list_id', 'user_id', 'username', 'access_token', 'x'],
    ...['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'state', 'prompt'],
  ),
  fc.oneof(printable, fc.integer().map(String), fc.constantFrom('true', 'false', '1', '500', '-1')),
  { maxKeys: 3 },
)

const target = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ROUTES) },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(...METHODS),
      fc.constantFrom(...ROUTES.map(([, path]) => path)),
    ),
  },
)

type Auth = { kind: 'none' | 'bearer' | 'admin-bearer' | 'basic' } | { kind: 'raw'; value: string }
const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Auth>({ kind: 'bearer' }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Auth>({ kind: 'admin-bearer' }, { kind: 'basic' }, { kind: 'none' }),
  },
  { weight: 1, arbitrary: printable.map((value): Auth => ({ kind: 'raw', value })) },
  {
    weight: 1,
    arbitrary: printable.map((value): Auth => ({ kind: 'raw', value: `Bearer ${value}` })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(printable, printable)
      .map(([u, p]): Auth => ({ kind: 'raw', value: basicHeader(`fuzz${u}`, p) })),
  },
)

const FIELDS = [
  'title',
  'description',
  'completed',
  'owner_id',
  'id',
  'username',
  'password',
  'name',
  'email',
  'role',
  'scopes',
  'disabled',
  'current_password',
  'new_password',
  'list_id',
  'archived',
  'client_name',
  'redirect_uris',
  'grant_types',
  'token_endpoint_auth_method',
  'first_party',
  '__proto__',
]
const jsonValue = fc.oneof(
  text,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(text, { maxLength: 3 }),
  fc.constantFrom('read', 'write', 'admin', 'user', 'viewer', 'editor', 'member', 'manager'),
)
const FORM_FIELDS = [
  'grant_type',
  'username',
  'password',
  'scope',
  'refresh_token',
  'token',
  'token_type_hint',
  'code',
  'code_verifier',
  'redirect_uri',
  'client_id',
  'client_secret',
  'request',
  'decision',
]

/** [Content-Type, body]: mostly well-formed for the route's media types, sometimes anything. */
const payload = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .dictionary(fc.constantFrom(...FIELDS), jsonValue, { maxKeys: 4 })
      .map((o) => ['application/json', JSON.stringify(o)] as const),
  },
  {
    weight: 3,
    arbitrary: fc
      .dictionary(
        fc.constantFrom(...FORM_FIELDS),
        fc.oneof(text, fc.constantFrom('password', 'refresh_token', 'read write')),
      )
      .map(
        (o) => ['application/x-www-form-urlencoded', new URLSearchParams(o).toString()] as const,
      ),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((j) => ['application/json', j] as const) },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.constantFrom(
        undefined,
        'application/json',
        'application/x-www-form-urlencoded',
        'application/merge-patch+json',
        'text/plain',
        'multipart/form-data; boundary=x',
        '',
      ),
      fc.oneof(
        fc.constant(undefined),
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }),
      ),
    ),
  },
)

const extraHeaders = fc.dictionary(
  fc.constantFrom(
    'Origin',
    'CF-Connecting-IP',
    'X-Forwarded-For',
    'Accept',
    'Content-Encoding',
    'X-HTTP-Method-Override',
  ),
  printable,
  { maxKeys: 3 },
)

const request = fc.record({ target, segment, query, auth, payload, extraHeaders })

beforeAll(async () => {
  user = await makeUser()
  admin = await makeUser({ role: 'admin' })
  const res = await call(
    '/api/todos',
    json('POST', { title: 'fuzz target' }, (await login(user)).access_token),
  )
  todoId = ((await res.json()) as { id: string }).id
})

async function authorization(a: Auth): Promise<string | undefined> {
  switch (a.kind) {
    case 'none':
      return undefined
    case 'bearer':
      return `Bearer ${(await login(user)).access_token}`
    case 'admin-bearer':
      return `Bearer ${(await login(admin)).access_token}`
    case 'basic':
      return basicHeader(user.username, user.password)
    case 'raw':
      return a.value
  }
}

describe('no request produces a 5xx', () => {
  it('holds for random methods, routes, ids, queries, headers and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const [method, route] = r.target
        const search = new URLSearchParams(r.query).toString()
        const path =
          route.replace(/:[^/]+/g, r.segment.replace('{todo}', todoId)) +
          (search ? `?${search}` : '')
        const [contentType, body] = r.payload
        const headers = new Headers(r.extraHeaders)
        const credentials = await authorization(r.auth)
        if (credentials !== undefined) headers.set('Authorization', credentials)
        if (contentType !== undefined) headers.set('Content-Type', contentType)
        const hasBody = method !== 'GET' && method !== 'HEAD' && body !== undefined
        const res = await call(path, { method, headers, body: hasBody ? body : undefined })
        const text = await res.text()
        expect(res.status, `${method} ${path} → ${res.status} ${text.slice(0, 200)}`).toBeLessThan(
          500,
        )
        // The authorization, federation and device pages answer a browser in HTML (src/oauth/browser/, authorize/, device/),
        // errors included.
        const page = res.headers.get('Content-Type')?.startsWith('text/html')
        if (page)
          expect(path, `${method} ${path} → an HTML page`).toMatch(
            /^\/(auth\/(authorize|federate)|device|account)/,
          )
        if (res.status >= 400 && method !== 'HEAD' && !page) {
          expect(JSON.parse(text)).toMatchObject({
            error: expect.any(String),
            error_description: expect.any(String),
          })
        }
      }),
      { numRuns: 300 },
    )
  }, 60_000)
})
