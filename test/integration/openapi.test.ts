import { describe, expect, expectTypeOf, it } from 'vitest'
import type { z } from 'zod'
import { createApp } from '../../src/app'
import type { Todo } from '../../src/db/todos'
import type { User } from '../../src/db/users'
import type { AuditEntry } from '../../src/db/audit'
import type { apiError, auditList, greeting, tokenPair, user } from '../../src/schemas/responses'
import type { todo } from '../../src/schemas/todos'
import { call, login, makeUser, type TokenPair } from '../helpers'

type Operation = {
  security?: Record<string, string[]>[]
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[]
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
  responses: Record<
    string,
    {
      content?: Record<string, { schema: Record<string, unknown> }>
      headers?: Record<string, unknown>
    }
  >
}
type Document = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: {
    schemas: Record<string, unknown>
    securitySchemes: Record<string, Record<string, unknown>>
  }
}

async function fetchDocument(): Promise<Document> {
  const res = await call('/openapi.json')
  expect(res.status).toBe(200)
  return res.json()
}

const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  )

/** A request for an operation with its path parameters filled in; the id matches nothing. */
const requestFor = (path: string, method: string, headers: Record<string, string> = {}) =>
  call(path.replace(/\{\w+\}/g, 'no-such-id'), { method: method.toUpperCase(), headers })

describe('GET /openapi.json', () => {
  it('describes every route the app has', async () => {
    const doc = await fetchDocument()
    const described = new Set(
      operations(doc).map(({ path, method }) => `${method.toUpperCase()} ${path}`),
    )
    const routes = createApp()
      .routes.filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')}`)
    expect(routes.length).toBeGreaterThan(10)
    // Add a doc({...}) line to the route when this fails (see src/openapi.ts).
    expect([...new Set(routes)].filter((r) => !described.has(r))).toEqual([])
  })

  it('declares the OAuth2 password flow and HTTP Basic', async () => {
    const { securitySchemes } = (await fetchDocument()).components
    expect(securitySchemes.oauth2).toMatchObject({
      type: 'oauth2',
      flows: {
        password: {
          tokenUrl: 'https://todo.test/auth/token',
          refreshUrl: 'https://todo.test/auth/token',
          scopes: { read: expect.any(String), write: expect.any(String) },
        },
      },
    })
    expect(securitySchemes.basicAuth).toMatchObject({ type: 'http', scheme: 'basic' })
    expect(securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    })
  })

  it('gives every operation its error responses in the one error shape', async () => {
    const doc = await fetchDocument()
    expect(doc.components.schemas.Error).toMatchObject({ required: ['error', 'error_description'] })
    const errorRef = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } }
    for (const { path, method, op } of operations(doc)) {
      expect(op.responses.default, `${method} ${path}`).toBeDefined()
      const errors = Object.entries(op.responses).filter(
        ([status]) => status === 'default' || Number(status) >= 400,
      )
      for (const [status, response] of errors)
        expect(response.content, `${method} ${path} ${status}`).toEqual(errorRef)
      if (op.security)
        expect(op.responses['401']?.headers, `${method} ${path}`).toHaveProperty('WWW-Authenticate')
      if (op.requestBody)
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(
          expect.arrayContaining(['400', '413', '415']),
        )
    }
  })

  it('documents requests with the schemas that validate them', async () => {
    const doc = await fetchDocument()
    const create = doc.paths['/api/todos']!.post!.requestBody!.content['application/json']!.schema
    expect(create).toMatchObject({
      required: ['title'],
      additionalProperties: false,
      properties: { title: { maxLength: 200 } },
    })
    const token =
      doc.paths['/auth/token']!.post!.requestBody!.content['application/x-www-form-urlencoded']!
        .schema
    expect(Object.keys(token.properties as object)).toEqual([
      'grant_type',
      'username',
      'password',
      'scope',
      'refresh_token',
    ])
    const query = doc.paths['/api/todos']!.get!.parameters!.map(
      (p) => `${p.in}:${p.name}:${p.required}`,
    )
    expect(query).toEqual([
      'query:completed:false',
      'query:list_id:false',
      'query:limit:false',
      'query:offset:false',
      'query:user_id:false',
    ])
    expect(doc.paths['/api/todos/{id}']!.patch!.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
    ])
  })

  it('matches the app: secured operations refuse a request without credentials, public ones do not', async () => {
    for (const { path, method, op } of operations(await fetchDocument())) {
      const res = await requestFor(path, method)
      if (op.security) {
        expect(res.status, `${method} ${path}`).toBe(401)
        expect(res.headers.get('WWW-Authenticate'), `${method} ${path}`).toMatch(
          op.security[0]!.basicAuth ? /^Basic / : /^Bearer /,
        )
      } else {
        expect(res.status, `${method} ${path}`).not.toBe(401)
      }
    }
  })

  it('matches the app: operations that need "write" refuse a read-only token', async () => {
    // An admin's token, so that on the admin routes too only the scope can refuse.
    const { access_token }: TokenPair = await login(await makeUser({ role: 'admin' }), 'read')
    // Only operations that name a scope: the others include POST /auth/logout, which would end the session.
    const scoped = operations(await fetchDocument()).flatMap(({ path, method, op }) => {
      const scope = op.security?.[0]?.oauth2?.[0]
      return scope ? [{ path, method, scope }] : []
    })
    expect(new Set(scoped.map((s) => s.scope))).toEqual(new Set(['read', 'write']))
    for (const { path, method, scope } of scoped) {
      const res = await requestFor(path, method, { Authorization: `Bearer ${access_token}` })
      if (scope === 'write') expect(res.status, `${method} ${path}`).toBe(403)
      else expect(res.status, `${method} ${path}`).not.toBe(403)
    }
  })
})

// The documented response schemas are only for the document; the compiler keeps them honest.
it('documents responses with the types the routes return', () => {
  // Todo is an intersection, which toEqualTypeOf tells apart from the same flat object.
  expectTypeOf<z.infer<typeof todo>>().toExtend<Todo>()
  expectTypeOf<Todo>().toExtend<z.infer<typeof todo>>()
  expectTypeOf<z.infer<typeof user>>().toEqualTypeOf<User>()
  expectTypeOf<z.infer<typeof auditList>>().toEqualTypeOf<AuditEntry[]>()
  expectTypeOf<z.infer<typeof tokenPair>>().toExtend<TokenPair>()
  expectTypeOf<z.infer<typeof greeting>>().toEqualTypeOf<{ message: string; username: string }>()
  expectTypeOf<z.infer<typeof apiError>['error']>().toEqualTypeOf<
    import('../../src/errors').ErrorCode
  >()
})
