import { ApiError } from './errors'

/**
 * The scopes a token may carry (RFC 6749 §3.3), in their canonical order: every list of scopes
 * the service stores or shows is in this order, without repeats.
 */
export const SCOPES = ['read', 'write'] as const
export type Scope = (typeof SCOPES)[number]

/**
 * Machine scopes: only a client acting as itself (client credentials, RFC 6749 §4.4) holds them,
 * and only an admin grants them, through the admin clients API. A user never does.
 *
 * `introspect` makes a confidential client a resource server that may call the introspection
 * endpoint (RFC 7662 §2.1, §4: the server decides who may), whatever grants it is registered
 * for; that endpoint authenticates the client itself, so no token carries it.
 */
export const MACHINE_SCOPES = ['users:read', 'audit:read', 'introspect'] as const
export type MachineScope = (typeof MACHINE_SCOPES)[number]

/** Everything a client's registered ceiling may name, in the canonical order. */
export const CLIENT_SCOPES = [...SCOPES, ...MACHINE_SCOPES] as const

/** The machine scopes of `asked` that `held` also has, in the canonical order. */
export const narrowMachineScopes = (
  asked: readonly string[],
  held: readonly string[],
): MachineScope[] => MACHINE_SCOPES.filter((s) => asked.includes(s) && held.includes(s))

/** The scopes of `asked` that `held` also has, in the canonical order: a token never widens. */
export const narrowScopes = (asked: readonly string[], held: readonly string[]): Scope[] =>
  SCOPES.filter((s) => asked.includes(s) && held.includes(s))

/** A stored or signed space-separated scope string; unknown words are dropped. */
export const parseScopes = (scopes: string): Scope[] => narrowScopes(scopes.split(' '), SCOPES)

/** Parses an OAuth scope parameter; unknown values are invalid_scope (RFC 6749 §5.2). */
export function parseScopeParam(raw: string | undefined): Scope[] | undefined {
  const asked = scopeWords(raw, SCOPES)
  return asked && narrowScopes(asked, SCOPES)
}

/** The words of a scope parameter, each one of `known`, else invalid_scope (RFC 6749 §5.2). */
export function scopeWords(raw: string | undefined, known: readonly string[]) {
  if (raw === undefined) return undefined
  const asked = raw.split(' ').filter(Boolean)
  if (!asked.every((s) => known.includes(s))) {
    const names = known.map((s) => `"${s}"`).join(', ')
    throw new ApiError('invalid_scope', `Unknown scope requested; known scopes are ${names}.`)
  }
  return asked
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
