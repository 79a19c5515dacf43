import * as z from 'zod'
import { AUTH_METHODS, GRANT_TYPES } from '../../domain/clients'
import { MAX_REDIRECT_URI, redirectUriProblem } from '../../domain/redirect-uris'
import { CLIENT_SCOPES, SCOPES } from '../../domain/scopes'
import { atLeastOne, paging } from './common'
import { documented } from './documented'

// src/domain/redirect-uris.ts as a pattern, as far as one can say it (the letter case of the scheme
// and host aside): https with a host and no userinfo, http on a loopback host, or a private-use
// scheme with a dot; no space, control character or fragment anywhere.
const HTTPS = String.raw`[Hh][Tt][Tt][Pp][Ss]://[^/?#@\s\p{Cc}]+`
const LOOPBACK_HTTP =
  String.raw`[Hh][Tt][Tt][Pp]://(?:127\.0\.0\.1|\[::1\]|localhost)` +
  String.raw`(?::\d*)?(?=[/?]|$)`
const PRIVATE_USE = String.raw`[A-Za-z][A-Za-z0-9+.-]*\.[A-Za-z0-9+.-]+:`

const redirectUri = documented(
  z
    .string()
    .max(MAX_REDIRECT_URI)
    .superRefine((uri, ctx) => {
      const problem = redirectUriProblem(uri)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    }),
  {
    replace: {
      type: 'string',
      maxLength: MAX_REDIRECT_URI,
      pattern: String.raw`^(?:${HTTPS}|${LOOPBACK_HTTP}|${PRIVATE_USE})[^\s\p{Cc}#]*$`,
      description:
        'https; http only on a loopback host (127.0.0.1, [::1], localhost); or a reverse-domain ' +
        'private-use scheme (com.example.app:/cb). No fragment, no userinfo.',
    },
  },
)

// RFC 7591 §5: the name is the client's to choose, and shown to the person. No control or format
// character (\p{Cc}, \p{Cf}: bidirectional overrides and isolates, zero-width characters, a byte
// order mark, a soft hyphen), which would make it read as something else; checked before the trim,
// which would take a byte order mark off the ends.
const NAME_CHARACTERS = /^[^\p{Cc}\p{Cf}]*$/u
const clientName = documented(
  z
    .string()
    .regex(NAME_CHARACTERS, 'Must not contain control or format characters (e.g. U+202E).')
    .trim()
    .min(1)
    .max(100),
  // Something besides white space (it is trimmed), and no control or format character.
  { add: { pattern: '^[^\\p{Cc}\\p{Cf}]*[^\\s\\p{Cc}\\p{Cf}][^\\p{Cc}\\p{Cf}]*$' } },
)

/**
 * RFC 7591 §2 `scope`: space-separated words of `known`; stored in the canonical order. The admin
 * API may name machine scopes (src/domain/scopes.ts); dynamic registration may not.
 */
const scopeOf = (known: readonly string[]) => {
  const word = `(?:${known.join('|')})`
  return documented(
    z
      .string()
      .max(100)
      .refine(
        (s) => s.split(' ').every((v) => v === '' || known.includes(v)),
        `Known scopes are ${known.map((k) => `"${k}"`).join(', ')}.`,
      )
      .transform((s) => known.filter((k) => s.split(' ').includes(k)).join(' ')),
    { replace: { type: 'string', maxLength: 100, pattern: `^(?: |${word}(?= |$))*$` } },
  )
}
const scope = scopeOf(CLIENT_SCOPES)

const fields = {
  client_name: clientName,
  redirect_uris: z.array(redirectUri).max(10),
  grant_types: z
    .array(z.enum(GRANT_TYPES))
    .min(1)
    .max(GRANT_TYPES.length)
    .transform((asked) => GRANT_TYPES.filter((g) => asked.includes(g))),
  scope,
  token_endpoint_auth_method: z.enum(AUTH_METHODS),
  first_party: z.boolean(),
  disabled: z.boolean(),
}

export const CODE_FLOW_NEEDS_REDIRECT_URI =
  'The authorization_code grant needs at least one redirect URI.'

/**
 * POST /admin/clients: RFC 7591 metadata plus `first_party`. The client type follows from the
 * authentication method: `none` is a public client, the others confidential.
 */
export const clientCreate = z
  .strictObject({
    client_name: fields.client_name,
    redirect_uris: fields.redirect_uris.default([]),
    grant_types: fields.grant_types.default(['authorization_code', 'refresh_token']),
    scope: fields.scope.default('read write'),
    token_endpoint_auth_method: fields.token_endpoint_auth_method.default('client_secret_basic'),
    first_party: fields.first_party.default(false),
  })
  // RFC 6749 §4.4: client credentials are for confidential clients only.
  .refine(
    (c) =>
      !(c.grant_types.includes('client_credentials') && c.token_endpoint_auth_method === 'none'),
    { path: ['grant_types'], message: 'client_credentials needs a confidential client.' },
  )
  // RFC 7591 §2: redirect URIs are for redirect-based flows. The code flow (the default) needs
  // one; a device or service client (device code, client credentials) has none to give.
  .refine((c) => c.redirect_uris.length > 0 || !c.grant_types.includes('authorization_code'), {
    path: ['redirect_uris'],
    message: CODE_FLOW_NEEDS_REDIRECT_URI,
  })
// Unless grant_types is given without authorization_code, redirect_uris must hold one.
documented(clientCreate, {
  add: {
    if: {
      required: ['grant_types'],
      properties: { grant_types: { not: { contains: { const: 'authorization_code' } } } },
    },
    else: { required: ['redirect_uris'], properties: { redirect_uris: { minItems: 1 } } },
  },
})

/** PATCH /admin/clients/{client_id}: the fields given change. The type is fixed at creation. */
export const clientPatch = atLeastOne({
  client_name: fields.client_name.optional(),
  redirect_uris: fields.redirect_uris.optional(),
  grant_types: fields.grant_types.optional(),
  scope: fields.scope.optional(),
  first_party: fields.first_party.optional(),
  vetted: z
    .literal(true)
    .optional()
    .describe('An administrator vetted this client (one way; first-party implies it).'),
  disabled: fields.disabled.optional(),
})

/**
 * POST /auth/clients (RFC 7591 §3.1): public clients of the code flow only. Unknown metadata is
 * ignored (§2); what is kept can never be a secret, first-party status, another grant or a
 * scope beyond `read write`.
 */
export const clientRegistration = z.object({
  client_name: fields.client_name.default('Unnamed app'),
  // RFC 7591 §2: every client registered here uses the code flow, a redirect-based one.
  redirect_uris: fields.redirect_uris.min(1),
  grant_types: documented(
    z
      .array(z.enum(['authorization_code', 'refresh_token']))
      .min(1)
      .max(2)
      .refine((g) => g.includes('authorization_code'), 'Must include "authorization_code".'),
    { add: { contains: { const: 'authorization_code' } } },
  ).default(['authorization_code', 'refresh_token']),
  response_types: z.array(z.literal('code')).max(1).optional(),
  token_endpoint_auth_method: z.literal('none').default('none'),
  scope: scopeOf(SCOPES).default('read write'),
})

export const clientListQuery = z.object(paging)

// What the client routes answer, for GET /openapi.json (the routes build their own bodies).
export const client = z.object({
  client_id: z.string(),
  client_name: z.string(),
  client_type: z.enum(['public', 'confidential']),
  redirect_uris: z.array(z.string()),
  grant_types: z.array(z.enum(GRANT_TYPES)),
  scope: z.string(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS),
  first_party: z.boolean(),
  vetted: z
    .boolean()
    .describe(
      'Registered or vetted by an administrator; false for a client anyone registered (RFC 7591).',
    ),
  disabled: z.boolean(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
})
export const clientList = z.array(client)
export const clientWithSecret = client.extend({
  client_secret: z.string().optional().describe('Confidential clients only; shown this once.'),
  client_secret_expires_at: z.literal(0).optional().describe('0: the secret does not expire.'),
})
export const clientSecret = z.object({
  client_id: z.string(),
  client_secret: z.string().describe('Shown this once; the old secret stops working.'),
  client_secret_expires_at: z.literal(0),
})
export const registeredClient = z.object({
  client_id: z.string(),
  client_id_issued_at: z.number().int(),
  client_name: z.string(),
  redirect_uris: z.array(z.string()),
  grant_types: z.array(z.string()),
  response_types: z.array(z.literal('code')),
  token_endpoint_auth_method: z.literal('none'),
  scope: z.string(),
})
export const authorizedClients = z.array(
  z.object({
    client_id: z.string(),
    client_name: z.string(),
    scope: z.string().describe('The scopes consented to.'),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  }),
)
