import { zValidator } from '@hono/zod-validator'
import type { Context, ValidationTargets } from 'hono'
import type { ZodType } from 'zod'
import { ApiError, type Issue } from '../errors'
import { documentInput } from '../openapi'

const mediaType = (header: string | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase()

/** Body targets and the media type each accepts; anything else is 415 before validation matters. */
const EXPECTED: Partial<Record<keyof ValidationTargets, (type: string) => boolean>> = {
  json: (t) => t === 'application/json' || /^application\/[\w.-]+\+json$/.test(t),
  form: (t) => t === 'application/x-www-form-urlencoded',
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/**
 * Bodies are read as UTF-8, and a lossy decode would let different bytes become the same password
 * or title, so invalid UTF-8 is a 400 — in a form, inside its percent-escapes too (URLSearchParams
 * would quietly substitute U+FFFD).
 */
async function requireUtf8(c: Context, target: keyof ValidationTargets): Promise<void> {
  // Cached for the validator; a body over the limit throws 413 here.
  const bytes = await c.req.arrayBuffer()
  try {
    const text = utf8.decode(bytes)
    if (target === 'form')
      for (const pair of text.split('&')) decodeURIComponent(pair.replaceAll('+', ' '))
  } catch {
    throw new ApiError('invalid_request', 'The request body is not valid UTF-8.')
  }
}

/**
 * zValidator with the one shared hook: every validation error becomes our 400 invalid_request
 * with `issues`, a body of the wrong media type becomes 415, one that is not UTF-8 a 400. Its
 * schema is what GET /openapi.json documents for the request.
 */
export const validate = <Target extends keyof ValidationTargets, Schema extends ZodType>(
  target: Target,
  schema: Schema,
) => {
  const expected = EXPECTED[target]
  const check = zValidator(target, schema, (result, c) => {
    if (expected && !expected(mediaType(c.req.header('Content-Type')))) {
      throw new ApiError(
        'unsupported_media_type',
        target === 'json'
          ? 'The body must be application/json.'
          : 'The body must be application/x-www-form-urlencoded.',
      )
    }
    if (!result.success) {
      const issues: Issue[] = result.error.issues.map((i) => ({
        path: i.path.map(String).join('.'),
        message: i.message,
      }))
      throw new ApiError('invalid_request', 'The request is invalid.', { issues })
    }
  })
  const utf8Checked: typeof check = async (c, next) => {
    if (expected?.(mediaType(c.req.header('Content-Type')))) await requireUtf8(c, target)
    return check(c, next)
  }
  return documentInput(target, schema, utf8Checked)
}
