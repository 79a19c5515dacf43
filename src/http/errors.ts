import type { ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { ApiError, notFound } from '../domain/errors'

export const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8'

/** docs/api.md §1: `error`, `error_description` and, for a refused body, `issues`. */
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
