import { keyring } from '../../auth/tokens'
import type { Bindings } from '../../config'
import { sha256Hex, toBase64Url } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'

/**
 * A pending authorization request, carried by the login and consent forms as one signed token:
 * the validated request, an expiry, and the SHA-256 of the browser binding (./browser.ts). It is
 * the forms' CSRF token: it cannot be forged (HMAC under a key derived from JWT_SECRET), it is
 * good only in the browser it was shown to, for the request it names, for PENDING_TTL seconds.
 * The device verification page (src/oauth/device/routes.tsx) seals its own requests the same
 * way, for its own purpose: a token sealed for one purpose is refused by the other.
 */
export type Pending = {
  client_id: string
  /** The redirect URI resolved at the authorization endpoint, already matched. */
  redirect_uri: string
  state?: string
  code_challenge: string
  /** The scopes asked for, canonical; undefined when the request named none. */
  scope?: string
  /** OpenID Connect Core §3.1.2.1 `prompt`: its values, of PROMPT_VALUES in that order. */
  prompt?: string
  /** The resource asked for (RFC 8707), canonical; undefined when the request named none. */
  resource?: string
}

/** The `prompt` values the authorization endpoint supports (RFC 8414 prompt_values_supported). */
export const PROMPT_VALUES = ['none', 'login', 'consent'] as const

/** How long a sealed token holds, in seconds: a form's, and a passkey challenge's. */
export const PENDING_TTL = 600
const encoder = new TextEncoder()
const LABEL = 'todo-auth pending authorization request'
const keys = new Map<string, Promise<CryptoKey>>()

/** A key for these tokens only, derived from the signing key so that neither can stand in. */
async function pendingKey(env: Bindings): Promise<CryptoKey> {
  const { current } = await keyring(env)
  let key = keys.get(current.kid)
  if (!key) {
    key = crypto.subtle
      .sign('HMAC', current.key, encoder.encode(LABEL))
      .then((raw) =>
        crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
          'sign',
          'verify',
        ]),
      )
    keys.set(current.kid, key)
  }
  return key
}

const fromBase64Url = (s: string) =>
  Uint8Array.from(atob(s.replaceAll('-', '+').replaceAll('_', '/')), (ch) => ch.charCodeAt(0))

/**
 * What a token was sealed for: the authorization pages, the device page, the account page's
 * forms (src/account/), or a passkey challenge (./passkey.tsx). One is never taken for another.
 */
type Purpose = 'authorize' | 'device' | 'account' | 'passkey'

export async function seal<T extends object = Pending>(
  env: Bindings,
  p: T,
  binding: string,
  purpose: Purpose = 'authorize',
): Promise<string> {
  const claims = {
    ...p,
    exp: nowSeconds() + PENDING_TTL,
    b: await sha256Hex(binding),
    for: purpose,
  }
  const body = toBase64Url(encoder.encode(JSON.stringify(claims)))
  const mac = await crypto.subtle.sign('HMAC', await pendingKey(env), encoder.encode(body))
  return `${body}.${toBase64Url(new Uint8Array(mac))}`
}

/** The request a form token names, or null if forged, expired or from another browser. */
export async function unseal<T extends object = Pending>(
  env: Bindings,
  token: string | undefined,
  binding: string | null,
  purpose: Purpose = 'authorize',
): Promise<T | null> {
  if (!token || !binding || token.length > 8192) return null
  const [body, mac, extra] = token.split('.')
  if (!body || !mac || extra !== undefined) return null
  try {
    const ok = await crypto.subtle.verify(
      'HMAC',
      await pendingKey(env),
      fromBase64Url(mac),
      encoder.encode(body),
    )
    if (!ok) return null
    const {
      exp,
      b,
      for: sealedFor,
      ...p
    } = JSON.parse(new TextDecoder().decode(fromBase64Url(body)))
    if (typeof exp !== 'number' || exp <= nowSeconds()) return null
    if (b !== (await sha256Hex(binding)) || sealedFor !== purpose) return null
    return p as T
  } catch {
    return null
  }
}
