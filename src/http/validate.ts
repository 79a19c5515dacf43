import { zValidator } from '@hono/zod-validator'
import type { Context, ValidationTargets } from 'hono'
import type { ZodType } from 'zod'
import { ApiError, type Issue } from '../domain/errors'
import { documentInput } from './openapi'

const mediaType = (header: string | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase()

/** Body targets and the media type each accepts; anything else is 415 before validation matters. */
const EXPECTED: Partial<Record<keyof ValidationTargets, (type: string) => boolean>> = {
  json: (t) => t === 'application/json' || /^application\/[\w.-]+\+json$/.test(t),
  form: (t) => t === 'application/x-www-form-urlencoded',
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

// In a `u` regex a lone surrogate is a code point of its own; a pair is one astral code point.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/**
 * The path of the first string (key or value) in `value` holding a lone surrogate, or null.
 * A loop, not recursion: a body may nest thousands deep (the validator refuses it afterwards).
 */
function loneSurrogateAt(value: unknown): string | null {
  type Step = { key: string; up: Step | null } | null
  const pathOf = (step: Step): string => {
    const keys: string[] = []
    for (let s = step; s; s = s.up) keys.unshift(s.key)
    return keys.join('.')
  }
  const pending: [unknown, Step][] = [[value, null]]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [v, at] = next
    if (typeof v === 'string' && LONE_SURROGATE.test(v)) return pathOf(at)
    if (typeof v !== 'object' || v === null) continue
    for (const [key, inner] of Object.entries(v).reverse()) {
      if (LONE_SURROGATE.test(key)) return pathOf({ key, up: at })
      pending.push([inner, { key, up: at }])
    }
  }
  return null
}

/**
 * Bodies are read as UTF-8, and a lossy decode would let different bytes become the same password
 * or title, so invalid UTF-8 is a 400 — in a form, inside its percent-escapes too
 * (URLSearchParams would quietly substitute U+FFFD). A `%` not followed by two hex digits is a
 * 400 of its own. In JSON, a `\ud800` escape without its pair is no character at all (it cannot
 * be stored as UTF-8, and would come back as U+FFFD): a 400 naming the field, whichever it is.
 */
async function requireUtf8(c: Context, target: keyof ValidationTargets): Promise<void> {
  // Cached for the validator; a body over the limit throws 413 here.
  const bytes = await c.req.arrayBuffer()
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new ApiError('invalid_request', 'The request body is not valid UTF-8.')
  }
  if (target === 'form') {
    if (/%(?![0-9A-Fa-f]{2})/.test(text)) {
      throw new ApiError(
        'invalid_request',
        'The form body has a "%" that does not start a percent-escape (write it as %25).',
      )
    }
    try {
      for (const pair of text.split('&')) decodeURIComponent(pair.replaceAll('+', ' '))
    } catch {
      throw new ApiError('invalid_request', 'The request body is not valid UTF-8.')
    }
  }
  if (target === 'json') {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return // the validator answers malformed JSON
    }
    const path = loneSurrogateAt(parsed)
    if (path !== null) {
      throw new ApiError('invalid_request', 'The request is invalid.', {
        issues: [{ path, message: 'Must not contain a lone surrogate (not valid Unicode).' }],
      })
    }
  }
}

/**
 * For a form read without a schema (the authorization pages, src/oauth/authorize/routes.tsx):
 * whether it is urlencoded and valid UTF-8, with the same rules as `validate('form', …)`. A lossy
 * decode would let a password holding U+FFFD match many byte strings.
 */
export async function isUtf8Form(c: Context): Promise<boolean> {
  if (!EXPECTED.form!(mediaType(c.req.header('Content-Type')))) return false
  try {
    await requireUtf8(c, 'form')
    return true
  } catch (err) {
    if (err instanceof ApiError && err.code === 'invalid_request') return false
    throw err
  }
}

const wrongMediaType = (target: keyof ValidationTargets) =>
  new ApiError(
    'unsupported_media_type',
    target === 'json'
      ? 'The body must be application/json.'
      : 'The body must be application/x-www-form-urlencoded.',
  )

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
  // zod's synchronous parse, not the validator's default safeParseAsync: no schema here refines
  // or transforms asynchronously (safeParse would throw if one did), and the async parse costs
  // every validated request its promises. (Cast: the validator's result type is conditional on
  // the zod version, which TypeScript cannot resolve for a generic schema.)
  const synchronous = {
    validationFunction: (s: Schema, value: unknown) => s.safeParse(value) as never,
  }
  const check = zValidator(
    target,
    schema,
    (result, c) => {
      if (expected && !expected(mediaType(c.req.header('Content-Type'))))
        throw wrongMediaType(target)
      if (!result.success) {
        const issues: Issue[] = result.error.issues.map((i) => ({
          path: i.path.map(String).join('.'),
          message: i.message,
        }))
        throw new ApiError('invalid_request', 'The request is invalid.', { issues })
      }
    },
    synchronous,
  )
  const utf8Checked: typeof check = async (c, next) => {
    if (expected) {
      // Refused before hono parses it: a malformed multipart body would otherwise be a 400.
      if (!expected(mediaType(c.req.header('Content-Type')))) throw wrongMediaType(target)
      await requireUtf8(c, target)
    }
    return check(c, next)
  }
  return documentInput(target, schema, utf8Checked)
}
