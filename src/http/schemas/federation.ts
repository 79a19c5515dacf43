import * as z from 'zod'
import { atLeastOne, paging } from './common'
import { documented } from './documented'

const controlFree = /^\P{Cc}*$/u

/** The provider's id: a slug, as it appears in /auth/federate/{id}. */
const providerId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'Must be 1–40 characters of a–z, 0–9 and "-".')
// Trimmed; something besides white space, and no control character (as a client's name).
const text = (max: number) =>
  documented(
    z.string().trim().min(1).max(max).regex(controlFree, 'Must not contain control characters.'),
    { add: { pattern: '^\\P{Cc}*[^\\s\\p{Cc}]\\P{Cc}*$' } },
  )
const issuer = z.string().max(512).describe('https; loopback http only with ALLOW_INSECURE_IDP.')
const scopes = z
  .string()
  .max(200)
  .regex(/^openid( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'Must start with "openid", space-separated.')
const domain = z
  .string()
  .max(253)
  .regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, 'Must be a domain name such as example.com.')
  .transform((d) => d.toLowerCase())

const fields = {
  name: text(100),
  issuer,
  client_id: text(200),
  client_secret: z.string().min(1).max(500).regex(controlFree),
  scopes: scopes.default('openid email profile'),
  allow_signup: z.boolean().default(false),
  allowed_domains: z.array(domain).max(50).default([]),
  trusted_email: z.boolean().default(false),
  enabled: z.boolean().default(true),
}

export const providerCreate = z.strictObject({ id: providerId, ...fields })

export const providerPatch = atLeastOne({
  name: fields.name.optional(),
  issuer: issuer.optional(),
  client_id: fields.client_id.optional(),
  client_secret: fields.client_secret.optional(),
  scopes: scopes.optional(),
  allow_signup: z.boolean().optional(),
  allowed_domains: z.array(domain).max(50).optional(),
  trusted_email: z.boolean().optional(),
  enabled: z.boolean().optional(),
})

export const providerListQuery = z.object(paging)

// What the routes answer, for GET /openapi.json. Never the client secret.
export const provider = z.object({
  id: z.string(),
  name: z.string(),
  issuer: z.string(),
  client_id: z.string(),
  scopes: z.string(),
  allow_signup: z.boolean(),
  allowed_domains: z.array(z.string()),
  trusted_email: z.boolean(),
  enabled: z.boolean(),
  redirect_uri: z.string().describe('The callback to register at the provider.'),
  created_at: z.string(),
  updated_at: z.string(),
})
export const providerList = z.array(provider)

export const identity = z.object({
  provider_id: z.string(),
  provider_name: z.string(),
  issuer: z.string(),
  email: z.string(),
  created_at: z.string(),
})
export const identityList = z.array(identity)
export const linkStart = z.object({
  authorization_url: z.string().describe("Open it in this browser: the provider's sign-in."),
})
