import { toBase64Url } from './crypto'

/**
 * Sealing a value so that only the holder of a bearer secret (a refresh token) can open it: AES-
 * 256-GCM (NIST SP 800-38D) under a key derived from the secret with HKDF-SHA-256 (RFC 5869), a
 * random 96-bit IV per value, stored as base64url(iv).base64url(ciphertext ‖ tag). The database
 * keeps only SHA-256 of the secret, which is not the key (HKDF extracts with HMAC), so a dump of
 * it opens nothing. The secret has 256 random bits, so HKDF needs no salt (RFC 5869 §3.1).
 */

const encoder = new TextEncoder()

const fromBase64Url = (s: string) =>
  Uint8Array.from(atob(s.replaceAll('-', '+').replaceAll('_', '/')), (ch) => ch.charCodeAt(0))

async function keyOf(secret: string, purpose: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, [
    'deriveKey',
  ])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(purpose) },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/** `plain` sealed under `secret`, for `purpose` (the HKDF info: a key serves one purpose). */
export async function sealWith(secret: string, purpose: string, plain: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv },
    await keyOf(secret, purpose),
    encoder.encode(plain),
  )
  return `${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`
}

/** What sealWith sealed, or null when `secret` or `purpose` is not the one it was sealed with. */
export async function openWith(
  secret: string,
  purpose: string,
  stored: string,
): Promise<string | null> {
  const [iv, sealed] = stored.split('.')
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64Url(iv ?? '') },
      await keyOf(secret, purpose),
      fromBase64Url(sealed ?? ''),
    )
    return new TextDecoder().decode(plain)
  } catch {
    return null
  }
}
