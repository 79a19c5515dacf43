import { verify } from 'hono/jwt'
import { decodeBase64Url } from 'hono/utils/encode'
import type { JWTPayload } from 'hono/utils/jwt/types'
import { type Bindings, type Config, knownIssuer } from '../config'
import {
  type AccessClaims,
  CLIENT_SUBJECT,
  type ClientClaims,
  type UserClaims,
} from '../domain/claims'
import { ApiError } from '../domain/errors'
import { allAudiences } from '../domain/resources'
import { toBase64Url } from '../lib/crypto'
import { nowSeconds } from '../lib/time'

/**
 * Access tokens: HS256 JWTs, signed here with WebCrypto HMAC and verified by hono/jwt.
 *
 * Key rotation: every token names its key in `kid`, derived from the secret itself (an HMAC of a
 * fixed label, so the kid reveals nothing about the key). JWT_SECRET signs and verifies;
 * JWT_SECRET_PREVIOUS, when set, only verifies, so tokens issued before a rotation keep working
 * until they expire. A token whose kid is neither is refused.
 */

export const ALG = 'HS256'
const MIN_SECRET_BYTES = 32
/** Clock skew tolerated on iat/nbf, per docs/api.md §4. */
const LEEWAY_SECONDS = 60

type Key = { kid: string; key: CryptoKey }
export type Keyring = { current: Key; previous?: Key }

const encoder = new TextEncoder()
const utf8 = new TextDecoder()
const jsonPart = (value: object) => toBase64Url(encoder.encode(JSON.stringify(value)))

async function importKey(secret: string): Promise<Key> {
  const raw = encoder.encode(secret)
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ])
  const label = await crypto.subtle.sign('HMAC', key, encoder.encode('todo-auth key id'))
  const kid = toBase64Url(new Uint8Array(label)).slice(0, 16)
  return { kid, key }
}

const usable = (secret: string | undefined): secret is string =>
  secret !== undefined && encoder.encode(secret).byteLength >= MIN_SECRET_BYTES

// Keys are imported once per isolate, not per request.
const keyrings = new Map<string, Promise<Keyring>>()
/**
 * The same, by env object: workerd hands every request the same one, and this lookup spares the
 * hot path encoding the secrets to check their length and building the key of `keyrings`.
 */
const keyringsByEnv = new WeakMap<Bindings, Promise<Keyring>>()

/** The signing and verifying keys; a missing or short JWT_SECRET is a 500 and nothing is signed. */
export function keyring(env: Bindings): Promise<Keyring> {
  const known = keyringsByEnv.get(env)
  if (known) return known
  const { JWT_SECRET: current, JWT_SECRET_PREVIOUS: previous } = env
  if (!usable(current)) {
    throw new ApiError('server_error', 'The server is not configured to issue or check tokens.', {
      cause: `JWT_SECRET is missing or shorter than ${MIN_SECRET_BYTES} bytes`,
    })
  }
  const cacheKey = `${current}\u0000${previous ?? ''}`
  let ring = keyrings.get(cacheKey)
  if (!ring) {
    if (previous !== undefined && previous !== '' && !usable(previous)) {
      // A weak old key would let forged tokens in; dropping it only shortens the rotation overlap.
      console.error(`JWT_SECRET_PREVIOUS is shorter than ${MIN_SECRET_BYTES} bytes and is ignored`)
    }
    ring = Promise.all([
      importKey(current),
      usable(previous) ? importKey(previous) : undefined,
    ]).then(([c, p]) => ({ current: c, previous: p }))
    keyrings.set(cacheKey, ring)
  }
  keyringsByEnv.set(env, ring)
  return ring
}

/**
 * The `iss` of every token and of the RFC 8414 metadata: the configured ISSUER, else (local
 * development only) the loopback origin the request came in on (`knownIssuer`). Otherwise a 500,
 * logged: a deployment must say its own public URL, so nothing is signed or checked against a
 * Host header.
 */
export function issuerFor(cfg: Config, requestUrl: string): string {
  const issuer = knownIssuer(cfg, requestUrl)
  if (issuer) return issuer
  throw new ApiError('server_error', 'The server is not configured with its issuer URL.', {
    cause: 'ISSUER is unset and the request did not come to a loopback address; set ISSUER',
  })
}

type Issued<T> = Omit<T, 'iss' | 'aud' | 'iat' | 'exp' | 'jti'>

/**
 * Signs an access token for `audience`: the resource it may be used at (RFC 9068 §3, RFC 8707),
 * by default JWT_AUDIENCE, the REST API's default audience (src/domain/resources.ts). `iat` is
 * now unless given (client credentials, src/oauth/token/client-credentials.ts).
 */
export async function signAccessToken(
  env: Bindings,
  cfg: Config,
  requestUrl: string,
  claims: Issued<UserClaims> | Issued<ClientClaims>,
  { iat = nowSeconds(), audience = cfg.audience }: { iat?: number; audience?: string } = {},
): Promise<string> {
  const { current } = await keyring(env)
  const payload: AccessClaims = {
    iss: issuerFor(cfg, requestUrl),
    aud: audience,
    ...claims,
    iat,
    exp: iat + cfg.accessTokenTtl,
    jti: crypto.randomUUID(),
  }
  // Signed here rather than with hono's sign(): that one puts a kid in the header only when given
  // a JWK, which it then re-imports on every call; this uses the key imported once per isolate.
  const header = jsonPart({ alg: ALG, typ: 'JWT', kid: current.kid })
  const signingInput = `${header}.${jsonPart(payload)}`
  const signature = await crypto.subtle.sign('HMAC', current.key, encoder.encode(signingInput))
  return `${signingInput}.${toBase64Url(new Uint8Array(signature))}`
}

/** The 64 characters of base64url, in the order of the values they encode. */
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const SEGMENT = /^[A-Za-z0-9_-]+$/
/**
 * The spare bits of a segment's last character, by the segment's length modulo 4; -1 for a
 * length (1) that no byte string encodes to.
 */
const SPARE_BITS = [0, -1, 0b1111, 0b11]

/**
 * True when every segment is unpadded base64url in its one canonical spelling: no `=`, no spare
 * bits set in the last character. base64 decoders forgive both, so without this one signature
 * would have several accepted spellings, and a token several distinct strings. Checked on the
 * characters (a length that leaves 2 or 4 spare bits, which must be zero) rather than by
 * decoding and re-encoding each segment: this runs on every Bearer request.
 */
export function isCanonicalJwt(token: string): boolean {
  const parts = token.split('.')
  if (parts.length !== 3) return false
  for (const part of parts) {
    if (!SEGMENT.test(part)) return false
    const spare = SPARE_BITS[part.length % 4]!
    if (spare === -1 || (BASE64URL.indexOf(part.at(-1)!) & spare) !== 0) return false
  }
  return true
}

/**
 * The `kid` of the headers seen, by their text: every token signed with one key has the same
 * header, so the hot path decodes it once per isolate. Bounded, since anyone can send headers.
 */
const kids = new Map<string, unknown>()
const KIDS_MAX = 16

/** The `kid` a header segment names, or undefined when it is not a JSON object naming one. */
function kidOf(header: string): unknown {
  if (kids.has(header)) return kids.get(header)
  let kid: unknown
  try {
    kid = JSON.parse(utf8.decode(decodeBase64Url(header)))?.kid
  } catch {
    kid = undefined
  }
  if (kids.size >= KIDS_MAX) kids.clear()
  kids.set(header, kid)
  return kid
}

/** The verifying key a token names, or null for a token we did not sign or spelt otherwise. */
export function keyFor(ring: Keyring, token: string): CryptoKey | null {
  if (!isCanonicalJwt(token)) return null
  // The header alone: hono's verify decodes the payload next, once.
  const kid = kidOf(token.slice(0, token.indexOf('.')))
  if (typeof kid !== 'string') return null
  if (kid === ring.current.kid) return ring.current.key
  if (ring.previous && kid === ring.previous.kid) return ring.previous.key
  return null
}

/**
 * Options for hono's verifier. iat/nbf are checked by `checkClaims` instead, with leeway;
 * hono checks alg (only HS256), typ, exp when present, iss, the signature, and that `aud` is one
 * of `audiences`: those of the resource the token is presented to (src/domain/resources.ts).
 */
export const verification = (cfg: Config, requestUrl: string, audiences: string[]) => ({
  iss: issuerFor(cfg, requestUrl),
  aud: audiences,
  iat: false,
  nbf: false,
})

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * What hono does not check: every claim we rely on must be present and well typed, and with
 * `maxLifetime` (ACCESS_TOKEN_TTL) `exp` at most that long after `iat`, as we sign them.
 * `allowExpired` is for revocation only: ending a session with an expired token is harmless.
 */
export function checkClaims(
  p: JWTPayload,
  { allowExpired = false, maxLifetime }: { allowExpired?: boolean; maxLifetime?: number } = {},
): AccessClaims | null {
  const now = nowSeconds()
  if (!isTime(p.exp) || (p.exp <= now && !allowExpired)) return null
  if (!isTime(p.iat) || p.iat > now + LEEWAY_SECONDS) return null
  if (maxLifetime !== undefined && p.exp - p.iat > maxLifetime) return null
  if (p.nbf !== undefined && (!isTime(p.nbf) || p.nbf > now + LEEWAY_SECONDS)) return null
  for (const claim of ['sub', 'jti', 'iss', 'aud'] as const) {
    if (!isString(p[claim])) return null
  }
  if (typeof p.scope !== 'string') return null
  const sub = p.sub as string
  if (sub.startsWith(CLIENT_SUBJECT)) {
    // A client's own token: its sub and client_id agree, and it names no user or session.
    if (p.client_id !== sub.slice(CLIENT_SUBJECT.length) || !isString(p.client_id)) return null
    if (p.sid !== undefined || p.username !== undefined || p.role !== undefined) return null
    return p as unknown as ClientClaims
  }
  for (const claim of ['username', 'sid', 'role'] as const) {
    if (!isString(p[claim])) return null
  }
  return p as unknown as UserClaims
}

/**
 * A token's claims when it is ours (signature, issuer, shape, an audience of one of our
 * resources), else null. For revocation expiry need not hold (`allowExpired`: ending a session
 * with an expired token is harmless); for introspection it must, and the lifetime is bounded as
 * at the Bearer check.
 */
export async function verifyToken(
  env: Bindings,
  cfg: Config,
  requestUrl: string,
  token: string,
  opts: { allowExpired?: boolean; maxLifetime?: number } = {},
): Promise<AccessClaims | null> {
  const key = keyFor(await keyring(env), token)
  if (!key) return null
  try {
    return checkClaims(
      await verify(token, key, {
        alg: ALG,
        ...verification(cfg, requestUrl, allAudiences(issuerFor(cfg, requestUrl), cfg.audience)),
        exp: !opts.allowExpired,
      }),
      opts,
    )
  } catch {
    return null
  }
}
