import { Hono } from 'hono'
import { config, issuerFor, type AppEnv } from '../env'
import { ApiError } from '../errors'
import { doc } from '../openapi'
import { SCOPES } from '../auth/scopes'
import { GRANT_TYPES } from '../schemas/auth'
import { health, serverMetadata } from '../schemas/responses'

export const metaRoutes = new Hono<AppEnv>()
  .get(
    '/healthz',
    doc({
      operationId: 'getHealth',
      tag: 'meta',
      summary: 'Health check',
      responses: { 200: { description: 'D1 answers.', schema: health } },
      errors: ['temporarily_unavailable'],
    }),
    async (c) => {
      try {
        await c.env.DB.prepare('SELECT 1').first()
      } catch (err) {
        throw new ApiError('temporarily_unavailable', 'The database is not answering.', {
          cause: err,
        })
      }
      return c.json({ status: 'ok' })
    },
  )
  /** RFC 8414 authorization server metadata. */
  .get(
    '/.well-known/oauth-authorization-server',
    doc({
      operationId: 'getServerMetadata',
      tag: 'meta',
      summary: 'OAuth 2.0 authorization server metadata (RFC 8414)',
      responses: { 200: { description: 'The metadata.', schema: serverMetadata } },
    }),
    (c) => {
      const issuer = issuerFor(config(c.env), c.req.url)
      return c.json({
        issuer,
        token_endpoint: `${issuer}/auth/token`,
        revocation_endpoint: `${issuer}/auth/revoke`,
        grant_types_supported: GRANT_TYPES,
        scopes_supported: SCOPES,
        token_endpoint_auth_methods_supported: ['none'],
        revocation_endpoint_auth_methods_supported: ['none'],
        response_types_supported: [],
        service_documentation: `${issuer}/docs`,
      })
    },
  )
