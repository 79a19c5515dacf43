/**
 * The grants POST /auth/token knows (RFC 6749 §4.1, §6, §4.3, §4.4; RFC 8628 §3.4), in the order
 * of the discovery document's `grant_types_supported`; also what a client may be registered for.
 * Each has one module, found by its name in GRANTS (src/oauth/token/grants.ts).
 */
export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
  'password',
] as const
export type GrantType = (typeof GRANT_TYPES)[number]

/** How a client authenticates at the token endpoint (RFC 7591 §2 `token_endpoint_auth_method`). */
export const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const
export type AuthMethod = (typeof AUTH_METHODS)[number]
