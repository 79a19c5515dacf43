import * as z from 'zod'
import { PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES, passwordProblem } from '../../domain/passwords'
import { narrowScopes, SCOPES } from '../../domain/scopes'
import { ROLES } from '../../domain/user'
import { atLeastOne, paging, param, username } from './common'
import { documented } from './documented'

/**
 * A password being set: the password policy (length in UTF-8 bytes, common list) as a zod
 * check. JSON Schema counts characters, not bytes, and cannot hold the list: the document gives
 * the lengths as characters (exact for ASCII) and says the rest in words.
 */
export const newPassword = documented(
  z
    .string()
    .max(1024)
    .superRefine((password, ctx) => {
      const problem = passwordProblem(password)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    }),
  {
    replace: {
      type: 'string',
      minLength: PASSWORD_MIN_BYTES,
      maxLength: PASSWORD_MAX_BYTES,
      description:
        `${PASSWORD_MIN_BYTES}–${PASSWORD_MAX_BYTES} bytes of UTF-8 (a character beyond ASCII ` +
        'takes 2–4), and not one of the common passwords the server refuses.',
    },
  },
)

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
    .transform((asked) => narrowScopes(asked, SCOPES)),
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
export const userPatch = atLeastOne({
  name: fields.name.optional(),
  email: fields.email.optional(),
  role: fields.role.optional(),
  scopes: fields.scopes.optional(),
  disabled: fields.disabled.optional(),
  password: newPassword.optional(),
})

export const userListQuery = z.strictObject({ ...paging })

export const auditQuery = z.strictObject({
  ...paging,
  username: param().min(1).max(64).optional(),
})
