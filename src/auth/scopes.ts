import { ApiError } from '../errors'

/**
 * The scopes a token may carry (RFC 6749 §3.3), in their canonical order: every list of scopes
 * the service stores or shows is in this order, without repeats.
 */
export const SCOPES = ['read', 'write'] as const
export type Scope = (typeof SCOPES)[number]

const isScope = (s: string): s is Scope => (SCOPES as readonly string[]).includes(s)

/** The scopes of `asked` that `held` also has, in the canonical order: a token never widens. */
export const narrowScopes = (asked: readonly string[], held: readonly string[]): Scope[] =>
  SCOPES.filter((s) => asked.includes(s) && held.includes(s))

/** A stored or signed space-separated scope string; unknown words are dropped. */
export const parseScopes = (scopes: string): Scope[] => narrowScopes(scopes.split(' '), SCOPES)

/** Parses an OAuth scope parameter; unknown values are invalid_scope (RFC 6749 §5.2). */
export function parseScopeParam(raw: string | undefined): Scope[] | undefined {
  if (raw === undefined) return undefined
  const asked = raw.split(' ').filter(Boolean)
  if (!asked.every(isScope)) {
    const known = SCOPES.map((s) => `"${s}"`).join(' and ')
    throw new ApiError('invalid_scope', `Unknown scope requested; known scopes are ${known}.`)
  }
  return narrowScopes(asked, SCOPES)
}

/**
 * The scope to grant: what was asked, which must be a subset of what may be had; else all of
 * it (RFC 6749 §3.3).
 */
export function grantScope(asked: Scope[] | undefined, allowed: readonly string[]): string {
  if (asked && !asked.every((s) => allowed.includes(s)))
    throw new ApiError('invalid_scope', 'The requested scope exceeds what this grant allows.')
  return narrowScopes(asked ?? allowed, allowed).join(' ')
}
