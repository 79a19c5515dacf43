import * as z from 'zod'
import { AUDIT_EVENTS } from '../../db/audit'
import { type ErrorCode, STATUS } from '../../domain/errors'
import { SCOPES } from '../../domain/scopes'
import { ROLES } from '../../domain/user'
import { documented } from './documented'
import { todo } from './todos'

// What the API answers, for GET /openapi.json only: the routes build their own bodies, so
// test/http/openapi.test.ts compares the schemas of the todo, the user, the token pair, the
// greeting and the error with the types the code really returns, at compile time.

export const apiError = z.object({
  error: z.enum(Object.keys(STATUS) as [ErrorCode, ...ErrorCode[]]),
  error_description: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
})

export const user = z.object({
  id: z.string(),
  username: z.string(),
  name: z.string(),
  email: z.string(),
  role: z.enum(ROLES),
  scopes: z.array(z.enum(SCOPES)).describe('In the canonical order, without repeats.'),
  disabled: z.boolean(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
})

export const userList = z.array(user)

export const auditList = z.array(
  z.object({
    at: z.iso.datetime(),
    event: z.enum(AUDIT_EVENTS),
    username: z.string().nullable(),
    ip: z
      .string()
      .nullable()
      .describe('From CF-Connecting-IP; null for changes made with the user CLI.'),
    user_agent: z.string().nullable(),
    detail: z
      .string()
      .nullable()
      .describe('Who made an account change and which fields it touched; never a value.'),
  }),
)

export const tokenPair = z.object({
  access_token: z.string(),
  token_type: z.literal('bearer'),
  expires_in: documented(z.number().int().describe('Seconds until the access token expires.'), {
    replace: { type: 'integer', minimum: 1 },
  }),
  refresh_token: z
    .string()
    .optional()
    .describe('Single use: each refresh returns a new one. None for client credentials.'),
  scope: z.string().describe('The granted scopes, space-separated.'),
})

export const todoList = z.array(todo)

export const emptyObject = z.object({})

/** RFC 8628 §3.2. */
export const deviceAuthorization = z.object({
  device_code: z.string().describe('For polling the token endpoint; keep it secret.'),
  user_code: z.string().describe('For the person to enter, e.g. WDJB-MJHT.'),
  verification_uri: z.string(),
  verification_uri_complete: z.string().describe('verification_uri with the user code in it.'),
  expires_in: z.number().int(),
  interval: z.number().int().describe('Seconds to wait between polls.'),
})

/** RFC 7662 §2.2: `active` alone for a dead token; the claims for a live one. */
export const introspection = z.object({
  active: z.boolean(),
  scope: z.string().optional(),
  client_id: z.string().optional(),
  username: z.string().optional(),
  token_type: z
    .literal('bearer')
    .optional()
    .describe('RFC 6749 §5.1: `bearer` for an access token; absent for a refresh token.'),
  exp: z.number().int().optional(),
  iat: z.number().int().optional(),
  sub: z.string().optional(),
  aud: z.string().optional(),
  iss: z.string().optional(),
  jti: z.string().optional(),
})

export const greeting = z.object({ message: z.string(), username: z.string() })

export const health = z.object({ status: z.literal('ok') })

/** RFC 8414 authorization server metadata. */
export const serverMetadata = z.looseObject({ issuer: z.string(), token_endpoint: z.string() })

/** RFC 9728 protected resource metadata. */
export const resourceMetadata = z.looseObject({
  resource: z.string(),
  authorization_servers: z.array(z.string()),
})

export const openApiObject = z.looseObject({ openapi: z.string() })
