import type { MiddlewareHandler, ValidationTargets } from 'hono'
import type { RouterRoute } from 'hono/types'
import type { ZodType } from 'zod'
import * as z from 'zod'
import { type ErrorCode, STATUS } from '../domain/errors'
import type { Scope } from '../domain/scopes'
import { documentation, type JsonSchema } from './schemas/documented'
import { apiError } from './schemas/responses'

type Success = { description: string; schema?: ZodType; headers?: Record<string, string> }

/** What GET /openapi.json says about one route, beyond what its guard and validators tell. */
export type RouteDoc = {
  /** The operation's stable name for generated clients (OpenAPI `operationId`): never rename. */
  operationId: string
  tag: string
  summary: string
  description?: string
  responses: { [status in 200 | 201 | 204 | 303]?: Success }
  /** Error codes the route answers besides those its guard, validators and path imply. */
  errors?: ErrorCode[]
  /**
   * The HTML pages a browser route (src/oauth/browser/) answers with, by status: what each
   * shows. They stand in for the JSON error of their status.
   */
  pages?: { [status in 200 | 400 | 403 | 429]?: string }
}

/**
 * What an authentication guard (`basic()`, `bearer()`, `allow()`, `allowOn()`) registers about
 * itself.
 */
export type GuardDoc = {
  /** How callers authenticate. A `bearer` route takes the password flow's tokens. */
  auth: 'basic' | 'bearer'
  /** The scope a bearer token must hold, if any. */
  scope?: Scope | null
  /** Error codes the guard answers besides those of its kind of authentication. */
  errors?: ErrorCode[]
}

type Input = { target: keyof ValidationTargets; schema: ZodType }

const docs = new WeakMap<object, RouteDoc>()
const guards = new WeakMap<object, GuardDoc>()
const inputs = new WeakMap<object, Input>()

/**
 * Describes the route it stands in, for GET /openapi.json. It does nothing at request time: put
 * it first among the handlers, next to the path. The guard and the request schemas document
 * themselves (`allow()`, `allowOn()`, `validate()`), so nothing is written twice.
 *
 * @example
 * ```ts
 * .post(
 *   '/',
 *   doc({ operationId: 'createTodo', tag: 'todos', summary: 'Create a todo',
 *     responses: { 201: { description: 'The new todo.', schema: todo } } }),
 *   allow('todos.write'),
 *   validate('json', todoCreate),
 *   async (c) => …,
 * )
 * ```
 */
export function doc(route: RouteDoc): MiddlewareHandler {
  const describe: MiddlewareHandler = (_c, next) => next()
  docs.set(describe, route)
  return describe
}

/** Remembers how a guard authenticates; the auth middlewares call it for every guard they make. */
export function documentGuard<Guard extends object>(guard: Guard, how: GuardDoc): Guard {
  guards.set(guard, how)
  return guard
}

/** Remembers which schema a validator checks; `validate()` calls it for each validator it makes. */
export function documentInput<Validator extends object>(
  target: keyof ValidationTargets,
  schema: ZodType,
  validator: Validator,
): Validator {
  inputs.set(validator, { target, schema })
  return validator
}

type ObjectSchema = { properties?: Record<string, object>; required?: string[] } & JsonSchema

/**
 * Applies what `documented()` registered (src/http/schemas/documented.ts): what a transform, pipe,
 * refine or trim checks is invisible to `z.toJSONSchema`.
 */
const override = ({ zodSchema, jsonSchema }: { zodSchema: unknown; jsonSchema: JsonSchema }) => {
  const how = documentation.get(zodSchema as ZodType)
  if (how?.replace) {
    for (const key of Object.keys(jsonSchema)) if (key !== 'description') delete jsonSchema[key]
    Object.assign(jsonSchema, how.replace)
  }
  if (how?.add) Object.assign(jsonSchema, how.add)
}

/** The JSON Schema of what `schema` accepts (`input`) or what a route built with it answers. */
export const jsonSchema = (schema: ZodType, io: 'input' | 'output'): ObjectSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', override })
  return rest as ObjectSchema
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
  'The challenge: `Basic realm="todo-auth", charset="UTF-8"` or `Bearer realm="todo-auth"' +
    '[, error=…], resource_metadata="…"` (RFC 6750 §3, RFC 9728 §5.1).',
]

/** Headers that come with an error code, as docs/api.md §1, §3 and §7 promise. */
const ERROR_HEADERS: Partial<Record<ErrorCode, [string, string]>> = {
  unauthorized: CHALLENGE,
  invalid_credentials: CHALLENGE,
  invalid_client: [
    'WWW-Authenticate',
    '`Basic realm="todo-auth", charset="UTF-8"` when Basic was tried.',
  ],
  invalid_token: CHALLENGE,
  insufficient_scope: CHALLENGE,
  too_many_attempts: ['Retry-After', 'Seconds until an attempt may succeed again.'],
}

const BODY_MEDIA_TYPES: Partial<Record<keyof ValidationTargets, string>> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
}

function operation(
  path: string,
  route: RouteDoc,
  guard: GuardDoc | undefined,
  validators: Input[],
) {
  const errors = new Set<ErrorCode>([...(route.errors ?? []), ...(guard?.errors ?? [])])
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

  if (guard?.auth === 'basic')
    errors.add('unauthorized').add('invalid_credentials').add('too_many_attempts')
  if (guard?.auth === 'bearer') errors.add('unauthorized').add('invalid_token')
  if (guard?.scope) errors.add('insufficient_scope')

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
  for (const [status, description] of Object.entries(route.pages ?? {})) {
    responses[status] = { description, content: { 'text/html': { schema: { type: 'string' } } } }
  }
  responses.default = {
    description: 'Any other error (`method_not_allowed`, `server_error`, …), in the same shape.',
    content: json(ERROR_REF),
  }

  // An empty list says "public" outright, rather than leaving it to a global default.
  const security =
    guard?.auth === 'basic'
      ? [{ basicAuth: [] }]
      : guard?.auth === 'bearer'
        ? [{ oauth2: guard.scope ? [guard.scope] : [] }, { bearerAuth: [] }]
        : []
  return {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description && { description: route.description }),
    security,
    ...(parameters.length > 0 && { parameters }),
    ...(requestBody && { requestBody }),
    responses,
  }
}

/** One method on one path, with what its handlers say about it. */
export type DocumentedRoute = {
  /** In hono's syntax, e.g. `/api/todos/:id`. */
  path: string
  method: string
  route?: RouteDoc
  guard?: GuardDoc
  validators: Input[]
}

/** Every route of `routes` (middleware registered with `use()` aside) and its documentation. */
export function documentedRoutes(routes: readonly RouterRoute[]): DocumentedRoute[] {
  const found = new Map<string, DocumentedRoute>()
  for (const { path, method, handler } of routes) {
    if (method === 'ALL') continue // middleware registered with use()
    const key = `${method} ${path}`
    const entry = found.get(key) ?? { path, method, validators: [] }
    found.set(key, entry)
    // A sub-app with its own onError has its handlers wrapped; hono keeps the original here.
    const original = (handler as { __COMPOSED_HANDLER?: object }).__COMPOSED_HANDLER ?? handler
    entry.route ??= docs.get(original)
    entry.guard ??= guards.get(original)
    const input = inputs.get(original)
    if (input) entry.validators.push(input)
  }
  return [...found.values()]
}

/** `/api/todos/:id` as OpenAPI writes it: `/api/todos/{id}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')

/**
 * The `paths` object for every route that carries a `doc()`, with its guard and the schemas of
 * its validators.
 */
export function openApiPaths(
  routes: readonly RouterRoute[],
): Record<string, Record<string, object>> {
  const paths: Record<string, Record<string, object>> = {}
  for (const { path, method, route, guard, validators } of documentedRoutes(routes)) {
    if (!route) continue // test/http/openapi.test.ts fails on any such route
    paths[openApiPath(path)] = {
      ...paths[openApiPath(path)],
      [method.toLowerCase()]: operation(path, route, guard, validators),
    }
  }
  return paths
}

/**
 * The whole OpenAPI 3.1 document; `origin` is the issuer, so the token URL is the discovery
 * document's. Empty when there is none: the URLs are then relative to the document's own.
 */
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
        'Log in with **Authorize** (the OAuth2 password flow; locally `alice` / `wonderland`), ' +
        'then try the todo routes. ' +
        'Every error has the shape `{"error", "error_description", "issues"?}`.',
    },
    servers: [{ url: origin || '/' }],
    tags: [
      { name: 'auth', description: 'Tokens and sessions (RFC 6749, 7009).' },
      { name: 'todos', description: 'Your own todos, and any todo of a list shared with you.' },
      { name: 'lists', description: 'Lists of todos, shared with users and teams.' },
      { name: 'teams', description: 'Teams, to share lists with.' },
      { name: 'users', description: 'The current user and, for admins, everyone.' },
      { name: 'clients', description: 'OAuth clients: the registry (RFC 7591).' },
      { name: 'mcp', description: 'The MCP server: the todos as tools for AI assistants.' },
      { name: 'meta', description: 'Health, discovery and this document.' },
    ],
    paths,
    components: {
      schemas: { Error: jsonSchema(apiError, 'output') },
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          description:
            'Resource owner password flow; send the access token as `Authorization: Bearer …`. ' +
            'A confidential client registered for it gets its own token by client credentials ' +
            '(`grant_type=client_credentials`), with the machine scopes `users:read` ' +
            '(GET /users…) and `audit:read` (GET /admin/audit); not offered here as a flow. ' +
            '`introspect` lets a confidential client call POST /auth/introspect.',
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
