import { ApiError } from '../errors'
import { SCOPES, type Scope } from '../schemas/common'

/** Parses an OAuth scope parameter; unknown values are invalid_scope (RFC 6749 §5.2). */
export function parseScopeParam(raw: string | undefined): Scope[] | undefined {
  if (raw === undefined) return undefined
  const asked = raw.split(' ').filter(Boolean)
  const unknown = asked.filter((s) => !(SCOPES as readonly string[]).includes(s))
  if (unknown.length > 0)
    throw new ApiError(
      'invalid_scope',
      'Unknown scope requested; known scopes are "read" and "write".',
    )
  return SCOPES.filter((s) => asked.includes(s))
}

/** The scope to grant: what was asked, which must be a subset of what may be had; else all of it. */
export function grantScope(asked: Scope[] | undefined, allowed: readonly string[]): string {
  if (asked && !asked.every((s) => allowed.includes(s))) {
    throw new ApiError('invalid_scope', 'The requested scope exceeds what this grant allows.')
  }
  return SCOPES.filter((s) => (asked ?? allowed).includes(s)).join(' ')
}
