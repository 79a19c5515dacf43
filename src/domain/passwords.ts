import bcrypt from 'bcryptjs'
import { COMMON_PASSWORDS } from './common-passwords'

/** bcrypt reads 72 bytes and silently ignores the rest; we refuse longer passwords instead. */
export const PASSWORD_MAX_BYTES = 72
export const PASSWORD_MIN_BYTES = 8

const encoder = new TextEncoder()
export const utf8Length = (s: string): number => encoder.encode(s).byteLength

/** Why a new password is refused, or null if allowed. No composition rules (NIST 800-63B). */
export function passwordProblem(password: string): string | null {
  const bytes = utf8Length(password)
  if (bytes < PASSWORD_MIN_BYTES) return `Password must be at least ${PASSWORD_MIN_BYTES} bytes.`
  if (bytes > PASSWORD_MAX_BYTES)
    return `Password must be at most ${PASSWORD_MAX_BYTES} bytes of UTF-8.`
  if (COMMON_PASSWORDS.has(password.toLowerCase())) return 'Password is too common.'
  return null
}

export const hashPassword = (password: string, cost: number): Promise<string> =>
  bcrypt.hash(password, cost)

export const hashCost = (hash: string): number => bcrypt.getRounds(hash)

/**
 * A well-formed bcrypt hash of a random password nobody knows, with the cost spliced in, so that a
 * compare against it runs the same full work as against a real hash of that cost. Used for unknown
 * usernames and disabled accounts, so they take as long as a wrong password.
 */
const DUMMY_SALT_AND_HASH = 'Eb4H9JbtBNwXBM6nIoL.P.t8xnDwEC2nFspq4PYtYPnou5vPXay4W'
export const dummyHash = (cost: number): string =>
  `$2b$${String(cost).padStart(2, '0')}$${DUMMY_SALT_AND_HASH}`

/**
 * SQL on `users`: the account has no password of its own, i.e. holds the dummy hash, as accounts
 * created through an upstream identity provider do (src/federation/upstream-signin.tsx).
 */
export const hasNoPasswordSql = `substr(password_hash, 8) = '${DUMMY_SALT_AND_HASH}'`

/**
 * Compares in bcrypt's own time: bcryptjs's compare does the full key schedule and then a
 * constant-time comparison. A password over 72 bytes cannot match (we never stored one) but still
 * pays the full compare, so its rejection takes no less time.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const ok = await bcrypt.compare(password, hash)
  return ok && utf8Length(password) <= PASSWORD_MAX_BYTES
}
