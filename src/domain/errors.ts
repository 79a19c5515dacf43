import type { ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'

/** The machine codes of docs/api.md §1, each with its one status. */
export const STATUS = {
  invalid_request: 400,
  invalid_grant: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  unauthorized_client: 400,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
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

export const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8'

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

export function errorResponse(err: ApiError): Response {
  const body = {
    error: err.code,
    error_description: err.description,
    ...(err.extra.issues && { issues: err.extra.issues }),
  }
  return new Response(JSON.stringify(body), {
    status: err.status,
    headers: { 'Content-Type': JSON_CONTENT_TYPE, ...err.extra.headers },
  })
}

const serverError = () => new ApiError('server_error', 'The server could not complete the request.')

/** Hono's own HTTPExceptions (malformed JSON, auth middlewares) mapped onto our codes. */
function fromHttpException(err: HTTPException): ApiError {
  const challenge = err.getResponse().headers.get('WWW-Authenticate')
  const headers = challenge ? { 'WWW-Authenticate': challenge } : undefined
  switch (err.status) {
    case 400:
      return new ApiError('invalid_request', 'The request body could not be parsed.', { headers })
    case 401:
      return new ApiError('unauthorized', 'Authentication is required.', { headers })
    case 404:
      return notFound()
    case 413:
      return new ApiError('payload_too_large', 'The request body is too large.')
    case 415:
      return new ApiError('unsupported_media_type', 'Unsupported content type.')
    default:
      return serverError()
  }
}

export const onError: ErrorHandler = (err) => {
  if (err instanceof ApiError) {
    if (err.status >= 500 && err.extra.cause !== undefined)
      console.error(`${err.code}:`, err.extra.cause)
    return errorResponse(err)
  }
  if (err instanceof HTTPException) {
    const mapped = fromHttpException(err)
    if (mapped.status >= 500) console.error('unexpected HTTPException:', err.status, err.message)
    return errorResponse(mapped)
  }
  // Unknown failures: the cause is logged, the client learns nothing about it.
  console.error('unhandled error:', err)
  return errorResponse(serverError())
}

export const onNotFound: NotFoundHandler = () => errorResponse(notFound())

export const methodNotAllowedResponse = (methods: string[]): Response => {
  const res = errorResponse(
    new ApiError('method_not_allowed', 'This method is not allowed on this path.'),
  )
  res.headers.set('Allow', methods.join(', '))
  return res
}
