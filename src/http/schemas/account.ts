import * as z from 'zod'
import { newPassword } from './users'

/**
 * The account page's forms (src/account/): plain HTML forms, so every field arrives as a string
 * and is trimmed where a person may have typed a space by mistake.
 */

const noControls = (s: string) => /^\P{Cc}*$/u.test(s)

/** Profile: the display name and email the user sets for themselves. */
export const profileForm = z.object({
  name: z
    .string()
    .trim()
    .max(200, 'Use at most 200 characters.')
    .refine(noControls, 'Use no control characters.'),
  email: z
    .string()
    .trim()
    .pipe(z.union([z.literal(''), z.email('Enter an email address, or nothing.').max(254)])),
})

/** Password change: the current one, and the new one twice. */
export const passwordForm = z
  .object({
    current_password: z.string().min(1, 'Enter your current password.').max(1024),
    new_password: newPassword,
    confirm_password: z.string().max(1024),
  })
  .refine((f) => f.new_password === f.confirm_password, {
    message: 'The new password and its confirmation differ.',
    path: ['confirm_password'],
  })

/** A passkey's name: the person's label for it (no control or format characters). */
export const passkeyName = z
  .string()
  .trim()
  .min(1, 'Give the passkey a name.')
  .max(64, 'Use at most 64 characters.')
  .refine((s) => /^[^\p{Cc}\p{Cf}]*$/u.test(s), 'Use no control characters.')
