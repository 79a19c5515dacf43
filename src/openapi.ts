import type { MiddlewareHandler, ValidationTargets } from 'hono'
import type { RouterRoute } from 'hono/types'
import * as z from 'zod'
import type { ZodType } from 'zod'
import { STATUS, type ErrorCode } from './errors'
import type { Scope } from './schemas/common'
import { apiError } from './schemas/responses'

type Success = { description: string; schema?: ZodType; headers?: Record<string, string> }

/** What GET /openapi.json says about one route, beyond what its validators already tell. */
export type RouteDoc = {
  tag: string
  summary: string
  description?: string
  /** How callers authenticate; omit for public routes. A `bearer` route takes the password flow's tokens. */
  auth?: 'basic' | 'bearer'
  /** The scope a bearer token must hold. */
  scope?: Scope
  responses: { [status in 200 | 201 | 204]?: Success }
  /** Error codes the route answers besides those its validators, `auth`, `scope` and path parameters imply. */
  errors?: ErrorCode[]
}

type Input = { target: keyof ValidationTargets; schema: ZodType }

const docs = new WeakMap<object, RouteDoc>()
const inputs = new WeakMap<object, Input>()

/**
 * Describes the route it stands in, for GET /openapi.json. It does nothing at request time: put
 * it first among the handlers, next to the path. The request schemas come from the route's own
 * `validate()` calls, so they are never written twice.
 *
 * @example
 * ```ts
 * .post('/', doc({ tag: 'todos', summary: 'Create a todo', auth: 'bearer', scope: 'write',
 *   responses: { 201: { description: 'The new todo.', schema: todo } } }), allow('todos.write'), validate('json', todoCreate), …)
 * ```
 */
export function doc(route: RouteDoc): MiddlewareHandler {
  const describe: MiddlewareHandler = (_c, next) => next()
  docs.set(describe, route)
  return describe
}

/** Remembers which schema a validator checks; `validate()` calls it for every validator it makes. */
export function documentInput<Validator extends object>(
  target: keyof ValidationTargets,
  schema: ZodType,
  validator: Validator,
): Validator {
  inputs.set(validator, { target, schema })
  return validator
}

type JsonSchema = { properties?: Record<string, object>; required?: string[] } & Record<
  string,
  unknown
>

const jsonSchema = (schema: ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' })
  return rest as JsonSchema
}

const ERROR_REF = { $ref: '#/components/schemas/Error' }
const json = (schema: object) => ({ 'application/json': { schema } })
const headerObjects = (headers: [name: string, description: string][]) =>
  headers.length > 0
    ? {
        headers: Object.fromEntries(
          headers.map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
        ),
      }
    : {}

const CHALLENGE: [string, string] = [
  'WWW-Authenticate',
  'The challenge: `Basic realm="todo-auth", charset="UTF-8"` or `Bearer realm="todo-auth"[, error=…]` (RFC 6750 §3).',
]

/** Headers that come with an error code, as docs/api.md §1, §3 and §7 promise. */
const ERROR_HEADERS: Partial<Record<ErrorCode, [string, string]>> = {
  unauthorized: CHALLENGE,
  invalid_credentials: CHALLENGE,
  invalid_token: CHALLENGE,
  insufficient_scope: CHALLENGE,
  too_many_attempts: ['Retry-After', 'Seconds until an attempt may succeed again.'],
}

const BODY_MEDIA_TYPES: Partial<Record<keyof ValidationTargets, string>> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
}

function operation(path: string, route: RouteDoc, validators: Input[]) {
  const errors = new Set<ErrorCode>(route.errors)
  const pathParams = [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!)
  if (pathParams.length > 0) errors.add('not_found')
  const parameters: object[] = pathParams.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }))
  let requestBody: object | undefined

  for (const { target, schema } of validators) {
    errors.add('invalid_request')
    const input = jsonSchema(schema, 'input')
    const mediaType = BODY_MEDIA_TYPES[target]
    if (mediaType) {
      requestBody = { required: true, content: { [mediaType]: { schema: input } } }
      errors.add('unsupported_media_type').add('payload_too_large')
    } else if (target === 'query') {
      for (const [name, schema] of Object.entries(input.properties ?? {})) {
        parameters.push({
          name,
          in: 'query',
          required: input.required?.includes(name) ?? false,
          schema,
        })
      }
    } else {
      throw new Error(`openapi: validate('${target}', …) is not documented yet (${path})`)
    }
  }

  if (route.auth === 'basic')
    errors.add('unauthorized').add('invalid_credentials').add('too_many_attempts')
  if (route.auth === 'bearer') errors.add('unauthorized').add('invalid_token')
  if (route.scope) errors.add('insufficient_scope')

  const responses: Record<string, object> = {}
  for (const [status, { description, schema, headers }] of Object.entries(route.responses)) {
    responses[status] = {
      description,
      ...headerObjects(Object.entries(headers ?? {})),
      ...(schema && { content: json(jsonSchema(schema, 'output')) }),
    }
  }
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of [...errors].sort((a, b) => STATUS[a] - STATUS[b] || a.localeCompare(b))) {
    byStatus.set(STATUS[code], [...(byStatus.get(STATUS[code]) ?? []), code])
  }
  for (const [status, codes] of byStatus) {
    responses[status] = {
      description: codes.map((code) => `\`${code}\``).join(', '),
      // One header object per name: several codes may share a challenge.
      ...headerObjects([
        ...new Map(
          codes.flatMap((code) => (ERROR_HEADERS[code] ? [ERROR_HEADERS[code]] : [])),
        ).entries(),
      ]),
      content: json(ERROR_REF),
    }
  }
  responses.default = {
    description: 'Any other error (`method_not_allowed`, `server_error`, …), in the same shape.',
    content: json(ERROR_REF),
  }

  const security =
    route.auth === 'basic'
      ? [{ basicAuth: [] }]
      : route.auth === 'bearer'
        ? [{ oauth2: route.scope ? [route.scope] : [] }, { bearerAuth: [] }]
        : undefined
  return {
    tags: [route.tag],
    summary: route.summary,
    ...(route.description && { description: route.description }),
    ...(security && { security }),
    ...(parameters.length > 0 && { parameters }),
    ...(requestBody && { requestBody }),
    responses,
  }
}

/** The `paths` object for every route that carries a `doc()`, with the schemas of its validators. */
export function openApiPaths(
  routes: readonly RouterRoute[],
): Record<string, Record<string, object>> {
  const found = new Map<
    string,
    { path: string; method: string; route?: RouteDoc; validators: Input[] }
  >()
  for (const { path, method, handler } of routes) {
    if (method === 'ALL') continue // middleware registered with use()
    const key = `${method} ${path}`
    const entry = found.get(key) ?? { path, method, validators: [] }
    found.set(key, entry)
    // A sub-app with its own onError has its handlers wrapped; hono keeps the original here.
    const original = (handler as { __COMPOSED_HANDLER?: object }).__COMPOSED_HANDLER ?? handler
    entry.route ??= docs.get(original)
    const input = inputs.get(original)
    if (input) entry.validators.push(input)
  }
  const paths: Record<string, Record<string, object>> = {}
  for (const { path, method, route, validators } of found.values()) {
    if (!route) continue // test/integration/openapi.test.ts fails on any such route
    const openApiPath = path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')
    paths[openApiPath] = {
      ...paths[openApiPath],
      [method.toLowerCase()]: operation(path, route, validators),
    }
  }
  return paths
}

/** The whole OpenAPI 3.1 document; `origin` is the issuer, so the token URL is the discovery document's. */
export function openApiDocument(paths: ReturnType<typeof openApiPaths>, origin: string) {
  const scopes = {
    read: 'Read your todos, lists and teams; admins also read users and the audit trail.',
    write: 'Change your todos, lists, shares and teams; admins also manage users.',
  } satisfies Record<Scope, string>
  return {
    openapi: '3.1.1',
    info: {
      title: 'todo-auth',
      version: '1.0.0',
      summary: 'An OAuth 2.0 authorization server and a todo API in one Cloudflare Worker.',
      description:
        'Log in with **Authorize** (the OAuth2 password flow; locally `alice` / `wonderland`), then try the todo routes. ' +
        'Every error has the shape `{"error", "error_description", "issues"?}`.',
    },
    servers: [{ url: origin }],
    tags: [
      { name: 'auth', description: 'Tokens and sessions (RFC 6749, 7009).' },
      { name: 'todos', description: 'Your own todos, and any todo of a list shared with you.' },
      { name: 'lists', description: 'Lists of todos, shared with users and teams.' },
      { name: 'teams', description: 'Teams, to share lists with.' },
      { name: 'users', description: 'The current user and, for admins, everyone.' },
      { name: 'meta', description: 'Health, discovery and this document.' },
    ],
    paths,
    components: {
      schemas: { Error: jsonSchema(apiError, 'output') },
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          description:
            'Resource owner password flow; send the access token as `Authorization: Bearer …`.',
          flows: {
            password: {
              tokenUrl: `${origin}/auth/token`,
              refreshUrl: `${origin}/auth/token`,
              scopes,
            },
          },
        },
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from POST /auth/token.',
        },
        basicAuth: {
          type: 'http',
          scheme: 'basic',
          description: 'Username and password; only GET /profile.',
        },
      },
    },
  }
}
