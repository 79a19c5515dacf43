import * as z from 'zod'
import { documented } from './documented'

/** A form or query parameter: a single string. Sent twice, hono hands us an array. */
export const param = () =>
  z.string({
    error: (issue) =>
      Array.isArray(issue.input) ? 'Sent more than once.' : 'Must be a single string value.',
  })

/**
 * A non-negative integer query parameter written in plain decimal digits (no signs, exponents or
 * spaces), at most nine of them, `fallback` when absent. Documented as the integer it stands for.
 */
export const intParam = (min: number, max: number, fallback: number) => {
  if (max > 999_999_999) throw new Error(`intParam: nine digits cannot reach ${max}`)
  return documented(
    param()
      .regex(/^\d{1,9}$/, 'Must be a whole number.')
      .transform(Number)
      .pipe(z.number().min(min).max(max)),
    { replace: { type: 'integer', minimum: min, maximum: max, default: fallback } },
  ).default(fallback)
}

/** A query parameter `true` or `false`, documented as the boolean it stands for. */
export const booleanParam = () =>
  documented(
    param()
      .pipe(z.enum(['true', 'false']))
      .transform((v) => v === 'true'),
    { replace: { type: 'boolean' } },
  )

/** Text that is trimmed first and must then hold `min`…`max` characters. */
export const trimmed = (min: number, max: number) =>
  documented(z.string().trim().min(min, 'Must not be empty.').max(max), {
    // After the trim: at least one character that is not white space when `min` > 0. The length
    // counts the untrimmed text, which can only be stricter than the server.
    add: min > 0 ? { pattern: '\\S' } : {},
  })

/** An object schema that must name at least one of its fields (a PATCH body). */
export const atLeastOne = <Shape extends z.ZodRawShape>(shape: Shape) =>
  documented(
    z
      .strictObject(shape)
      .refine(
        (body) => Object.keys(body).length > 0,
        `Give at least one of ${Object.keys(shape).join(', ')}.`,
      ),
    { add: { minProperties: 1 } },
  )

/** The username rule; also decides whether a typed username may be written to the audit trail. */
export const USERNAME = /^[A-Za-z0-9._-]{3,64}$/
export const username = z
  .string()
  .regex(USERNAME, 'Must be 3–64 characters of A–Z, a–z, 0–9, ".", "_" or "-".')

export const paging = {
  limit: intParam(1, 500, 100),
  offset: intParam(0, 999_999_999, 0),
}
