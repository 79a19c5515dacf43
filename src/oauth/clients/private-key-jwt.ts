import { verify } from 'hono/jwt'
import { decodeBase64Url } from 'hono/utils/encode'
import { isCanonicalJwt } from '../../auth/tokens'
import type { MetadataClientRow } from '../../db/client-metadata'
import { spendAssertion } from '../../db/client-metadata'
import type { PublicJwk } from '../../domain/client-metadata'
import { nowSeconds } from '../../lib/time'

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/** The signature algorithms accepted (RFC 7518 §3.3, §3.4), in the discovery document's order. */
export const ASSERTION_ALGS = ['ES256', 'RS256'] as const

/** An assertion may be valid at most this long from now (RFC 7523 §3 item 4 lets us bound it). */
const MAX_LIFETIME = 300
/** Clock skew tolerated on `exp`, `iat` and `nbf`. */
const LEEWAY = 60
const MAX_JTI = 256

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
const part = (token: string, i: number): unknown => {
  try {
    return JSON.parse(utf8.decode(decodeBase64Url(token.split('.')[i]!)))
  } catch {
    return null
  }
}
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * `private_key_jwt` (RFC 7523 §2.2, §3; RFC 7521 §4.2, §5.2; OpenID Connect Core §9) for a Client
 * ID Metadata Document client whose document published keys. Null when the assertion
 * authenticates `client`, else why not (for the log; the client only learns invalid_client).
 *
 * - The JWS: canonical base64url; `alg` ES256 or RS256 only (never `none`, never a MAC such as
 *   HS256, whose key would be public here); `crit` refused; `typ` absent or JWT; signed by a key
 *   of the document with that `alg` (and that `kid`, when the assertion names one). The
 *   signature is checked by hono/jwt's verifier with WebCrypto (docs/performance.md: a JOSE
 *   library would add 6 KiB gzipped for two algorithms).
 * - The claims (§3): `iss` and `sub` the client_id; `aud` the issuer or the token endpoint URL;
 *   `exp` not passed and at most 5 minutes ahead (60 s leeway both ways); `iat` and `nbf`, when
 *   present, not in the future; a `jti`.
 * - Single use (§3 item 7): the `jti` is recorded until `exp` (plus the leeway) by the INSERT
 *   that accepts it (src/db/client-metadata.ts), only after everything else holds, so a replayed
 *   assertion fails, two racing requests with one assertion get one acceptance, and unsigned
 *   garbage writes nothing.
 */
export async function assertionProblem(
  db: D1Database,
  assertion: string,
  client: MetadataClientRow,
  issuer: string,
): Promise<string | null> {
  const header = part(assertion, 0)
  if (!isObject(header)) return 'unreadable header'
  const alg = header.alg
  if (!(ASSERTION_ALGS as readonly unknown[]).includes(alg)) return `alg ${String(alg)} refused`
  if (!isCanonicalJwt(assertion)) return 'not a JWS in canonical compact form'
  const keys: PublicJwk[] = client.jwks ? JSON.parse(client.jwks) : []
  const kid = header.kid
  const candidates = keys.filter((k) => k.alg === alg && (kid === undefined || k.kid === kid))
  if (candidates.length === 0) return 'no key of the document matches alg and kid'
  let signed = false
  for (const key of candidates) {
    try {
      await verify(assertion, key, {
        alg: alg as PublicJwk['alg'],
        exp: false,
        nbf: false,
        iat: false,
      })
      signed = true
      break
    } catch {
      // Another key may have signed it; if none did, the signature is refused below.
    }
  }
  if (!signed) return 'bad signature'

  const claims = part(assertion, 1)
  if (!isObject(claims)) return 'unreadable claims'
  const now = nowSeconds()
  if (claims.iss !== client.client_id || claims.sub !== client.client_id)
    return 'iss and sub must be the client_id'
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  if (!audiences.some((a) => a === issuer || a === `${issuer}/auth/token`))
    return 'aud is neither the issuer nor the token endpoint'
  if (!isTime(claims.exp)) return 'no exp'
  if (claims.exp <= now - LEEWAY) return 'expired'
  if (claims.exp > now + MAX_LIFETIME + LEEWAY) return 'exp too far ahead'
  for (const c of ['iat', 'nbf'] as const)
    if (claims[c] !== undefined && (!isTime(claims[c]) || claims[c] > now + LEEWAY))
      return `${c} in the future`
  const jti = claims.jti
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI) return 'no usable jti'
  const fresh = await spendAssertion(db, client.client_id, jti, claims.exp + LEEWAY)
  return fresh ? null : 'jti replayed'
}
