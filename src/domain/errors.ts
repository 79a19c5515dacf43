/** The machine codes of docs/api.md §1, each with its one status. */
export const STATUS = {
  invalid_request: 400,
  invalid_grant: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  unauthorized_client: 400,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  // RFC 8707 §2: a `resource` that is malformed, unknown, or not the grant's.
  invalid_target: 400,
  // RFC 8628 §3.5: the device code grant's polling answers.
  authorization_pending: 400,
  slow_down: 400,
  access_denied: 400,
  expired_token: 400,
  unauthorized: 401,
  invalid_token: 401,
  invalid_credentials: 401,
  invalid_client: 401,
  insufficient_scope: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_attempts: 429,
  server_error: 500,
  temporarily_unavailable: 503,
} as const

export type ErrorCode = keyof typeof STATUS
export type Issue = { path: string; message: string }

/**
 * The one error type. `description` goes on the wire and must be safe for an attacker to read;
 * `cause` is for the log only.
 */
export class ApiError extends Error {
  readonly status: (typeof STATUS)[ErrorCode]
  // Plain fields rather than parameter properties: scripts/ import this file with Node's type
  // stripping, which only erases types.
  readonly code: ErrorCode
  readonly description: string
  readonly extra: { headers?: Record<string, string>; issues?: Issue[]; cause?: unknown }

  constructor(code: ErrorCode, description: string, extra: ApiError['extra'] = {}) {
    super(description, { cause: extra.cause })
    this.code = code
    this.description = description
    this.extra = extra
    this.status = STATUS[code]
  }
}

/** The errors more than one place answers with, so each text is written once. */
export const notFound = (
  what: 'resource' | 'todo' | 'user' | 'list' | 'team' | 'member' | 'client' = 'resource',
) => new ApiError('not_found', `No such ${what}.`)

/** A refused password check: `invalid_grant` at the token endpoint, else `invalid_credentials`. */
export const incorrectCredentials = (
  code: 'invalid_grant' | 'invalid_credentials',
  headers?: Record<string, string>,
) => new ApiError(code, 'Incorrect username or password.', { headers })

export const invalidRefreshToken = () =>
  new ApiError('invalid_grant', 'The refresh token is invalid, expired or revoked.')

export const usernameTaken = () => new ApiError('conflict', 'That username is taken.')
