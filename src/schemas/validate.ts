import { zValidator } from '@hono/zod-validator'
import type { ValidationTargets } from 'hono'
import type { ZodType } from 'zod'
import { ApiError, type Issue } from '../errors'

const mediaType = (header: string | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase()

/** Body targets and the media type each accepts; anything else is 415 before validation matters. */
const EXPECTED: Partial<Record<keyof ValidationTargets, (type: string) => boolean>> = {
  json: (t) => t === 'application/json' || /^application\/[\w.-]+\+json$/.test(t),
  form: (t) => t === 'application/x-www-form-urlencoded',
}

/**
 * zValidator with the one shared hook: every validation error becomes our 400 invalid_request
 * with `issues`, and a body of the wrong media type becomes 415.
 */
export const validate = <Target extends keyof ValidationTargets, Schema extends ZodType>(target: Target, schema: Schema) =>
  zValidator(target, schema, (result, c) => {
    const expected = EXPECTED[target]
    if (expected && !expected(mediaType(c.req.header('Content-Type')))) {
      throw new ApiError(
        'unsupported_media_type',
        target === 'json' ? 'The body must be application/json.' : 'The body must be application/x-www-form-urlencoded.',
      )
    }
    if (!result.success) {
      const issues: Issue[] = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }))
      throw new ApiError('invalid_request', 'The request is invalid.', { issues })
    }
  })
