import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { methodNotAllowed } from 'hono/method-not-allowed'
import { secureHeaders } from 'hono/secure-headers'
import { accountRoutes } from './account/routes'
import { adminRoutes } from './api/admin'
import { listRoutes } from './api/lists'
import { profileRoutes } from './api/profile'
import { registerRoutes } from './api/register'
import { teamRoutes } from './api/teams'
import { todoRoutes } from './api/todos'
import { userRoutes } from './api/users'
import { config } from './config'
import { ApiError } from './domain/errors'
import { requesterOf } from './domain/requester'
import { adminProviderRoutes } from './federation/admin'
import { myIdentityRoutes } from './federation/identities'
import { federationRoutes } from './federation/upstream-signin'
import type { AppEnv } from './http/context'
import { BOOKMARK_HEADER, openDatabase } from './http/database'
import { JSON_CONTENT_TYPE, methodNotAllowedResponse, onError, onNotFound } from './http/errors'
import { openApiRoutes } from './http/openapi-routes'
import { mcpRoutes } from './mcp/routes'
import { authorizeRoutes } from './oauth/authorize/routes'
import { adminClientRoutes, myClientRoutes, registrationRoutes } from './oauth/clients/routes'
import { deviceAuthorizationRoutes, deviceRoutes } from './oauth/device/routes'
import { introspectionRoutes } from './oauth/introspection'
import { metaRoutes } from './oauth/metadata'
import { revocationRoutes } from './oauth/revocation'
import { tokenRoutes } from './oauth/token/routes'

export const MAX_BODY_BYTES = 16 * 1024

/** Paths whose responses carry credentials or private data and must never be cached. */
const PRIVATE_PATHS = /^\/(auth|users|api|profile|admin|device|mcp|account)(\/|$)/

export function createApp() {
  const app = new Hono<AppEnv>()

  // Outermost first: these also see the responses onError and notFound produce.
  // Who sent the request, read once for the throttle and the audit trail (src/domain/requester.ts);
  // then the charset and the caching of every answer (one middleware: each costs every request).
  app.use(async (c, next) => {
    c.set('requester', requesterOf(c.req.raw.headers, c.req.path))
    await next()
    const headers = c.res.headers
    if (headers.get('Content-Type') === 'application/json')
      headers.set('Content-Type', JSON_CONTENT_TYPE)
    if (PRIVATE_PATHS.test(c.req.path)) {
      headers.set('Cache-Control', 'no-store')
      headers.set('Pragma', 'no-cache')
    }
  })
  app.use(
    secureHeaders({
      strictTransportSecurity: 'max-age=31536000; includeSubDomains',
      xFrameOptions: 'DENY',
      referrerPolicy: 'no-referrer',
      xContentTypeOptions: 'nosniff',
    }),
  )
  // hono's cors() sets Expose-Headers and answers every preflight whatever the origin; a request
  // from an origin not in CORS_ORIGINS gets no CORS header at all.
  const allowedCors = cors({
    origin: (origin) => origin,
    // MCP-Protocol-Version: what a browser-based MCP client sends (MCP 2025-11-25 Streamable HTTP)
    allowHeaders: ['Authorization', 'Content-Type', BOOKMARK_HEADER, 'MCP-Protocol-Version'],
    allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposeHeaders: ['Location', 'Retry-After', 'WWW-Authenticate', BOOKMARK_HEADER],
    maxAge: 600,
  })
  app.use(async (c, next) => {
    const allowed = config(c.env).corsOrigins
    if (allowed.includes(c.req.header('Origin') ?? '')) return allowedCors(c, next)
    await next()
    if (allowed.length > 0) c.header('Vary', 'Origin', { append: true })
  })
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(
          'payload_too_large',
          `The request body is larger than ${MAX_BODY_BYTES} bytes.`,
        )
      },
    }),
  )
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (_c, methods) => methodNotAllowedResponse(methods),
    }),
  )
  app.use(openDatabase())

  const routes = app
    .route('/', metaRoutes)
    .route('/auth', tokenRoutes)
    .route('/auth', revocationRoutes)
    .route('/auth', introspectionRoutes)
    .route('/auth', registerRoutes)
    .route('/auth', registrationRoutes)
    .route('/auth', authorizeRoutes)
    .route('/auth', federationRoutes)
    .route('/auth', deviceAuthorizationRoutes)
    .route('/device', deviceRoutes)
    .route('/account', accountRoutes)
    .route('/profile', profileRoutes)
    .route('/api/todos', todoRoutes)
    .route('/api/lists', listRoutes)
    .route('/api/teams', teamRoutes)
    .route('/users', userRoutes)
    .route('/users', myClientRoutes)
    .route('/users', myIdentityRoutes)
    .route('/admin', adminRoutes)
    .route('/admin/clients', adminClientRoutes)
    .route('/admin/identity-providers', adminProviderRoutes)
    .route('/mcp', mcpRoutes)
    .route('/', openApiRoutes(app))

  app.onError(onError)
  app.notFound(onNotFound)
  return routes
}

export type AppType = ReturnType<typeof createApp>
