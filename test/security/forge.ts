import { env } from 'cloudflare:test'
import { keyring } from '../../src/auth/tokens'

/** Builds JWTs by hand (WebCrypto), so tests can sign anything under any header and key. */

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
export const encodePart = (part: unknown) => b64url(new TextEncoder().encode(JSON.stringify(part)))

export const decodePart = (part: string): Record<string, unknown> =>
  JSON.parse(
    new TextDecoder().decode(
      Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)),
    ),
  )

export type Hash = 'SHA-256' | 'SHA-384' | 'SHA-512'

export async function hmac(
  secret: string | Uint8Array,
  data: string,
  hash: Hash = 'SHA-256',
): Promise<string> {
  const raw = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash }, false, ['sign'])
  return b64url(
    new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(data))),
  )
}

/** The kid the service gives the test secret (derived in src/auth/tokens.ts). */
export const currentKid = async () => (await keyring(env)).current.kid

/** header.payload signed with HMAC under `secret` (default: the service's JWT_SECRET). */
export async function forge(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  { secret = env.JWT_SECRET! as string | Uint8Array, hash = 'SHA-256' as Hash } = {},
): Promise<string> {
  const signingInput = `${encodePart(header)}.${encodePart(payload)}`
  return `${signingInput}.${await hmac(secret, signingInput, hash)}`
}

/** The header and claims of a real access token, to forge variants of. */
export function claimsOf(token: string) {
  const [header, payload] = token.split('.')
  return { header: decodePart(header!), payload: decodePart(payload!) }
}
