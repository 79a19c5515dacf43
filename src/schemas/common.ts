import * as z from 'zod'

/** A form or query parameter: a single string. Sent twice, hono hands us an array. */
export const param = () =>
  z.string({
    error: (issue) =>
      Array.isArray(issue.input) ? 'Sent more than once.' : 'Must be a single string value.',
  })

/** A non-negative integer written in plain decimal digits (no signs, exponents or spaces). */
export const intParam = (min: number, max: number) =>
  param()
    .regex(new RegExp(`^\\d{1,${String(max).length}}$`), 'Must be a whole number.')
    .transform(Number)
    .pipe(z.number().min(min).max(max))

export const SCOPES = ['read', 'write'] as const
export type Scope = (typeof SCOPES)[number]

/** The username rule; also decides whether a typed username may be written to the audit trail. */
export const USERNAME = /^[A-Za-z0-9._-]{3,64}$/
export const username = z
  .string()
  .regex(USERNAME, 'Must be 3–64 characters of A–Z, a–z, 0–9, ".", "_" or "-".')

export const paging = {
  limit: intParam(1, 500).default(100),
  offset: intParam(0, 1_000_000_000).default(0),
}
