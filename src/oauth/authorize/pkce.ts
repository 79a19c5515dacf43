import { toBase64Url } from '../../lib/crypto'

/** RFC 7636 §4.1: 43–128 unreserved characters; §4.2: an S256 challenge is 43 of base64url. */
export const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/
export const CHALLENGE = /^[A-Za-z0-9_-]{43}$/

/** The S256 code challenge of a verifier (RFC 7636 §4.2); `plain` is never accepted. */
export async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return toBase64Url(new Uint8Array(digest))
}
