import { encodeBase64Url } from 'hono/utils/encode'

const encoder = new TextEncoder()

/** Unpadded base64url, as JWTs and our opaque tokens use. */
export const toBase64Url = (bytes: Uint8Array): string =>
  encodeBase64Url(bytes.buffer as ArrayBuffer).replace(/=+$/, '')

/** An opaque bearer secret: 256 random bits, base64url. */
export const randomToken = (): string => toBase64Url(crypto.getRandomValues(new Uint8Array(32)))

/** Refresh tokens are stored only as this digest. */
export async function sha256Hex(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(value)))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}
