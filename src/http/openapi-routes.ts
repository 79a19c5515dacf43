import { Hono } from 'hono'
import type { RouterRoute } from 'hono/types'
import { config, knownIssuer } from '../config'
import type { AppEnv } from './context'
import { doc, openApiDocument, openApiPaths } from './openapi'
import { openApiObject } from './schemas/responses'

/** GET /openapi.json for `app`: every route that carries a `doc()`, read from the app itself. */
export function openApiRoutes(app: { routes: RouterRoute[] }) {
  let paths: ReturnType<typeof openApiPaths> | undefined
  return new Hono<AppEnv>().get(
    '/openapi.json',
    doc({
      operationId: 'getOpenApiDocument',
      tag: 'meta',
      summary: 'This document',
      responses: { 200: { description: 'The OpenAPI 3.1 document.', schema: openApiObject } },
    }),
    (c) => {
      // Built on first use, once every route is registered; only the origin differs per request.
      paths ??= openApiPaths(app.routes)
      const cfg = config(c.env)
      // Only what this configuration serves: /auth/register is a 404 while sign-up is off, and
      // /auth/clients while dynamic client registration is.
      const off = [
        ...(cfg.allowSignup ? [] : ['/auth/register']),
        ...(cfg.allowClientRegistration ? [] : ['/auth/clients']),
      ]
      const served = Object.fromEntries(
        Object.entries(paths).filter(([path]) => !off.includes(path)),
      )
      // Never the Host header's origin outside local development: relative URLs instead.
      return c.json(openApiDocument(served, knownIssuer(cfg, c.req.url) ?? ''))
    },
  )
}
