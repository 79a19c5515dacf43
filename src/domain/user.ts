import type { Scope } from './scopes'

/** The roles, lowest first: an admin may do all a user may. */
export const ROLES = ['user', 'admin'] as const
export type Role = (typeof ROLES)[number]

/**
 * A user as the API shows it, never with the hash. The response schema (src/http/schemas/
 * responses.ts `user`) documents the same shape, and a type test holds the two together.
 */
export type User = {
  id: string
  username: string
  name: string
  email: string
  role: Role
  /** In the canonical order of SCOPES, without repeats. */
  scopes: Scope[]
  disabled: boolean
  created_at: string
  updated_at: string
}
