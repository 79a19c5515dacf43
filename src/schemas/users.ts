import * as z from 'zod'
import { passwordProblem } from '../auth/passwords'
import { param, paging, SCOPES, username } from './common'

export const ROLES = ['user', 'admin'] as const

/** A password being set: the password policy (UTF-8 byte length, common list) as a zod check. */
export const newPassword = z
  .string()
  .max(1024)
  .superRefine((password, ctx) => {
    const problem = passwordProblem(password)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })

// Control characters have no place in a display name and would garble logs and terminals.
const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .regex(/^\P{Cc}*$/u, 'Must not contain control characters.')

const fields = {
  name: text(200),
  email: z.union([z.literal(''), z.email().max(254)]),
  role: z.enum(ROLES),
  /** Any order, repeats allowed; stored and shown in the canonical order. */
  scopes: z
    .array(z.enum(SCOPES))
    .max(SCOPES.length * 2)
    .transform((asked) => SCOPES.filter((s) => asked.includes(s))),
  disabled: z.boolean(),
}

/** POST /auth/register: anyone, when self-registration is on; always role `user`, `read write`. */
export const registration = z.strictObject({
  username,
  password: newPassword,
  name: fields.name.optional(),
  email: fields.email.optional(),
})

/** POST /users (admin). */
export const userCreate = registration.extend({
  role: fields.role.optional(),
  scopes: fields.scopes.optional(),
})

/** PATCH /users/{id} (admin): only the fields given change. */
export const userPatch = z
  .strictObject({
    name: fields.name.optional(),
    email: fields.email.optional(),
    role: fields.role.optional(),
    scopes: fields.scopes.optional(),
    disabled: fields.disabled.optional(),
    password: newPassword.optional(),
  })
  .refine(
    (p) => Object.keys(p).length > 0,
    'Give at least one of name, email, role, scopes, disabled, password.',
  )

export const userListQuery = z.strictObject({ ...paging })

export const auditQuery = z.strictObject({
  ...paging,
  username: param().min(1).max(64).optional(),
})
