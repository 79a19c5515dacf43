import type { Bindings } from '../config'
import { ApiError } from '../domain/errors'
import { toBase64Url } from '../lib/crypto'

/**
 * Upstream client secrets at rest: AES-256-GCM under a key derived (HKDF-SHA-256) from the Worker
 * secret IDP_SECRET_KEY, with a random 96-bit IV per value and the provider id as additional data,
 * so a value copied to another provider's row does not decrypt. Stored as base64url(iv).
 * base64url(ciphertext ‖ tag). A database dump alone does not reveal a secret.
 */
const encoder = new TextEncoder()
const keys = new Map<string, Promise<CryptoKey>>()

const fromBase64Url = (s: string) =>
  Uint8Array.from(atob(s.replaceAll('-', '+').replaceAll('_', '/')), (ch) => ch.charCodeAt(0))

function secretKey(env: Bindings): Promise<CryptoKey> {
  const raw = env.IDP_SECRET_KEY ?? ''
  // A 500 with no detail on the wire: the operator must set the secret (docs/admin.md).
  if (raw.length < 32)
    throw new ApiError('server_error', 'Identity providers are not configured on this server.', {
      cause: 'IDP_SECRET_KEY is unset or shorter than 32 characters',
    })
  let key = keys.get(raw)
  if (!key) {
    key = crypto.subtle
      .importKey('raw', encoder.encode(raw), 'HKDF', false, ['deriveKey'])
      .then((base) =>
        crypto.subtle.deriveKey(
          {
            name: 'HKDF',
            hash: 'SHA-256',
            salt: new Uint8Array(0),
            info: encoder.encode('todo-auth identity provider client secret'),
          },
          base,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        ),
      )
    keys.set(raw, key)
  }
  return key
}

export async function encryptSecret(env: Bindings, providerId: string, secret: string) {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(providerId) },
    await secretKey(env),
    encoder.encode(secret),
  )
  return `${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`
}

/** The secret, or a 500 when it does not decrypt (another key, a tampered or moved row). */
export async function decryptSecret(env: Bindings, providerId: string, stored: string) {
  const [iv, sealed] = stored.split('.')
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64Url(iv ?? ''), additionalData: encoder.encode(providerId) },
      await secretKey(env),
      fromBase64Url(sealed ?? ''),
    )
    return new TextDecoder().decode(plain)
  } catch (cause) {
    if (cause instanceof ApiError) throw cause
    throw new ApiError('server_error', 'Identity providers are not configured on this server.', {
      cause: 'a client secret does not decrypt under IDP_SECRET_KEY',
    })
  }
}
