import type { User } from '../db/users'

/**
 * Who may do what to whose data. Every route asks here instead of testing roles itself.
 * Scopes (read/write) are checked separately by requireScope: they bound what a token may do,
 * this bounds what its user may do.
 */
export const policy = {
  /** Whose todos a user may list: their own always; anyone's if admin. */
  mayListTodosOf: (actor: User, ownerId: string): boolean => actor.id === ownerId || actor.role === 'admin',
}
