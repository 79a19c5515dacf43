import type { Config } from '../config'
import { type AccountOutcome, createUser } from '../db/accounts'
import type { Attribution } from '../db/audit'
import type { NewUser } from '../db/users'
import { ApiError, notFound, usernameTaken } from '../domain/errors'
import { hashPassword } from '../domain/passwords'
import type { User } from '../domain/user'

/**
 * Account changes as the API answers them, shared by POST /users, PATCH and DELETE /users/{id}
 * and POST /auth/register, so that no route module imports another.
 */

/** The user an account change applied to, or the error it was refused with. */
export function applied(outcome: AccountOutcome): User {
  if (outcome.ok) return outcome.user
  if (outcome.reason === 'not_found') throw notFound('user')
  if (outcome.reason === 'taken') throw usernameTaken()
  // "Enabled admin" here means one that can still administer: enabled, with the write scope.
  throw new ApiError('conflict', 'This would leave no enabled admin; make another admin first.')
}

/** Hashes the password and creates the user; 409 when the username is taken (in any case). */
export async function createAccount(
  db: D1Database,
  cfg: Config,
  { password, ...fields }: Omit<NewUser, 'passwordHash'> & { password: string },
  by: Attribution,
): Promise<User> {
  const passwordHash = await hashPassword(password, cfg.bcryptCost)
  return applied(await createUser(db, { ...fields, passwordHash }, by))
}
