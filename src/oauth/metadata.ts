import { Hono } from 'hono'
import { issuerFor } from '../auth/tokens'
import { config } from '../config'
import { ping } from '../db/query'
import { AUTH_METHODS } from '../domain/clients'
import { ApiError } from '../domain/errors'
import { MCP_PATH, type ResourceName, resourceUri } from '../domain/resources'
import { CLIENT_SCOPES, SCOPES } from '../domain/scopes'
import type { AppEnv } from '../http/context'
import { database } from '../http/database'
import { doc } from '../http/openapi'
import { health, resourceMetadata, serverMetadata } from '../http/schemas/responses'
import { PROMPT_VALUES } from './browser/pending'
import { ASSERTION_ALGS } from './clients/private-key-jwt'
import { grantTypesSupported } from './token/grants'

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
        await ping(database(c))
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
      const cfg = config(c.env)
      const issuer = issuerFor(cfg, c.req.url)
      return c.json({
        issuer,
        authorization_endpoint: `${issuer}/auth/authorize`,
        token_endpoint: `${issuer}/auth/token`,
        revocation_endpoint: `${issuer}/auth/revoke`,
        introspection_endpoint: `${issuer}/auth/introspect`,
        device_authorization_endpoint: `${issuer}/auth/device_authorization`,
        ...(cfg.allowClientRegistration && { registration_endpoint: `${issuer}/auth/clients` }),
        grant_types_supported: grantTypesSupported(cfg),
        response_types_supported: ['code'],
        response_modes_supported: ['query'],
        code_challenge_methods_supported: ['S256'],
        // OpenID Connect Core §3.1.2.1's prompt values (the RFC 8414 registry's name for them).
        prompt_values_supported: PROMPT_VALUES,
        scopes_supported: CLIENT_SCOPES,
        // private_key_jwt (RFC 7523 §2.2) is for Client ID Metadata Document clients, whose
        // documents publish their keys (src/oauth/clients/private-key-jwt.ts).
        token_endpoint_auth_methods_supported: [...AUTH_METHODS, 'private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        // Possession of a token is enough to end its session (RFC 7009 §2.1 leaves it to us);
        // a client that authenticates may end only its own tokens.
        revocation_endpoint_auth_methods_supported: [...AUTH_METHODS, 'private_key_jwt'],
        revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        // RFC 7662: confidential clients holding the machine scope `introspect` only.
        introspection_endpoint_auth_methods_supported: AUTH_METHODS.filter((m) => m !== 'none'),
        authorization_response_iss_parameter_supported: true,
        // draft-ietf-oauth-client-id-metadata-document, "Authorization Server Metadata": an
        // https client_id names the client's own metadata document (MCP 2025-11-25).
        client_id_metadata_document_supported: true,
        service_documentation: `${issuer}/docs`,
      })
    },
  )
  /** RFC 9728 protected resource metadata: how a client that met a 401 finds this server. */
  .get(
    '/.well-known/oauth-protected-resource',
    doc({
      operationId: 'getResourceMetadata',
      tag: 'meta',
      summary: 'OAuth 2.0 protected resource metadata of the REST API (RFC 9728)',
      responses: { 200: { description: 'The metadata.', schema: resourceMetadata } },
    }),
    (c) => c.json(resourceDocument(issuerFor(config(c.env), c.req.url), 'api')),
  )
  /** RFC 9728 §3.1: the MCP server's own document, its path after the well-known one. */
  .get(
    `/.well-known/oauth-protected-resource${MCP_PATH}`,
    doc({
      operationId: 'getMcpResourceMetadata',
      tag: 'meta',
      summary: 'OAuth 2.0 protected resource metadata of the MCP server (RFC 9728)',
      responses: { 200: { description: 'The metadata.', schema: resourceMetadata } },
    }),
    (c) => c.json(resourceDocument(issuerFor(config(c.env), c.req.url), 'mcp')),
  )

/**
 * A resource's RFC 9728 document. `resource` is the identifier a client sends as RFC 8707's
 * `resource` to get a token for it (src/domain/resources.ts).
 */
const resourceDocument = (issuer: string, name: ResourceName) => ({
  resource: resourceUri(issuer, name),
  authorization_servers: [issuer],
  scopes_supported: SCOPES,
  bearer_methods_supported: ['header'],
  resource_name: name === 'mcp' ? 'todo-auth MCP server' : 'todo-auth',
  resource_documentation: `${issuer}/docs`,
})
