import { redirectTarget, redirectUriProblem } from './redirect-uris'
import { narrowScopes, SCOPES } from './scopes'

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-03; MCP 2025-11-25
 * authorization, "Client ID Metadata Documents"): a client_id that is an https URL names a JSON
 * document of RFC 7591 client metadata, published by the client at that URL. What such a URL and
 * document must be, decided on the URL and the parsed JSON alone; fetching is
 * src/oauth/clients/metadata-fetch.ts, caching src/db/client-metadata.ts.
 */

/** At most this many bytes of a document are read (the draft's "Maximum Response Size"). */
export const MAX_DOCUMENT_BYTES = 5 * 1024
/** A `jwks_uri` may serve a few RSA keys: more room than the document itself. */
export const MAX_JWKS_BYTES = 16 * 1024
/** A client_id URL longer than this is refused before anything is fetched. */
export const MAX_CLIENT_ID_URL = 1000
/** Cached at most a day, whatever the document's Cache-Control says ("Metadata Caching"). */
export const MAX_CACHE_SECONDS = 86_400
/** A document without Cache-Control (or with an unreadable one) is kept this long. */
export const DEFAULT_CACHE_SECONDS = 300

export type MetadataAuthMethod = 'none' | 'private_key_jwt'

/**
 * A client_id this server treats as a Client ID Metadata Document URL. The ids this server
 * generates are base64url and its seeds' fixed names have no scheme, so none starts with one
 * (the draft's "Supporting Both Pre-Registered and Unregistered Clients"); migration 0009 holds
 * such a client unvetted and never first-party by the same test.
 */
export const isMetadataClientId = (clientId: string): boolean =>
  clientId.startsWith('https://') || clientId.startsWith('http://')

// Names only this machine or its network resolve (RFC 6761 §6.3 localhost, RFC 6762 .local,
// RFC 8375 home.arpa, .internal): never a public client's home.
const LOCAL_NAME = /(^|\.)(localhost|local|internal|home\.arpa|localdomain)$/
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])
// The WHATWG URL parser writes every IPv4 spelling (0x7f.1, 2130706433, 017700000001) as a dotted
// quad, and an IPv6 literal in brackets, so this sees every literal address.
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/

const parse = (raw: string): URL | null => {
  try {
    return new URL(raw)
  } catch {
    return null
  }
}

/**
 * Why `raw` may not be fetched as a metadata document or a `jwks_uri`, or null when it may.
 * Production (`allowInsecure` false): `https` only, a host name with a dot, and never an IP
 * literal or a name of this machine or its network (the draft's "Server Side Request Forgery
 * (SSRF) Attacks": special-use addresses, RFC 6890). What a public name resolves to is the
 * platform's to refuse (docs/security.md). `allowInsecure` (ALLOW_INSECURE_CLIENT_METADATA, npm
 * run dev): also `http` on 127.0.0.1, [::1] or localhost, any port, and nothing else besides.
 */
export function fetchableUrlProblem(raw: string, allowInsecure: boolean): string | null {
  const url = parse(raw)
  if (!url) return 'It is not an absolute URL.'
  if (url.username || url.password) return 'It must not contain userinfo.'
  if (url.hash || raw.includes('#')) return 'It must not contain a fragment.'
  if (url.protocol === 'http:' && allowInsecure && LOOPBACK_HOSTS.has(url.hostname)) return null
  if (url.protocol !== 'https:') return 'It must be an https URL.'
  const host = url.hostname
  if (host.startsWith('[') || IPV4.test(host)) return 'It must name a host, not an IP address.'
  if (!host.includes('.') || LOCAL_NAME.test(host.replace(/\.$/, '')))
    return 'It must name a public host.'
  return null
}

/**
 * Why `raw` is not a Client Identifier URL (the draft's "Client Identifier URL"): https (loopback
 * http in development), no userinfo or fragment, a path, and no `.` or `..` segments. Stricter
 * than the draft, it must also be written as the URL parser writes it (`new URL(raw).href`), as
 * our redirect URIs must (docs/security.md): `https://Example.com/c` or `https://e.com:443/c` would
 * be other client ids than the host a person reads, so they are refused rather than told apart.
 */
export function clientIdUrlProblem(raw: string, allowInsecure: boolean): string | null {
  if (raw.length > MAX_CLIENT_ID_URL) return `It is longer than ${MAX_CLIENT_ID_URL} characters.`
  const problem = fetchableUrlProblem(raw, allowInsecure)
  if (problem) return problem
  const url = new URL(raw)
  if (url.pathname === '/' && !raw.endsWith('/')) return 'It must contain a path.'
  if (raw !== url.href) return `It must be written in canonical form: ${url.href}`
  return null
}

/** A public key as RFC 7517 writes it, reduced to what verifying ES256 or RS256 needs. */
export type PublicJwk =
  | { kty: 'EC'; crv: 'P-256'; x: string; y: string; kid?: string; alg: 'ES256' }
  | { kty: 'RSA'; n: string; e: string; kid?: string; alg: 'RS256' }

// RFC 7518 §6.2.2, §6.3.2, §6.4: members only a private or symmetric key has.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']
const B64URL = /^[A-Za-z0-9_-]+$/
// 2048 bits is 256 bytes: 342 base64url characters (RFC 7518 §3.3: at least 2048 bits).
const MIN_RSA_MODULUS_CHARS = 342
const MAX_KEYS = 10

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The keys of a `jwks` that may sign client assertions (ES256 on P-256, RS256 with at least
 * 2048 bits; `use` absent or `sig`), or why the set is refused: a private or symmetric key
 * anywhere in it (the draft's "Credential and Key Material Restrictions"), or no usable key.
 * Keys of other types are left out.
 */
export function usableKeys(jwks: unknown): PublicJwk[] | string {
  if (!isObject(jwks) || !Array.isArray(jwks.keys)) return 'Its jwks must be {"keys": [...]}.'
  if (jwks.keys.length > MAX_KEYS) return `Its jwks has more than ${MAX_KEYS} keys.`
  const keys: PublicJwk[] = []
  for (const k of jwks.keys) {
    if (!isObject(k)) return 'Every key of its jwks must be a JSON object.'
    if (k.kty === 'oct' || PRIVATE_MEMBERS.some((m) => m in k))
      return 'It must publish public keys only: no private or symmetric key material.'
    if (k.use !== undefined && k.use !== 'sig') continue
    const kid = typeof k.kid === 'string' ? { kid: k.kid } : {}
    const b64 = (v: unknown): v is string => typeof v === 'string' && B64URL.test(v)
    if (k.kty === 'EC' && k.crv === 'P-256' && (k.alg ?? 'ES256') === 'ES256') {
      if (b64(k.x) && b64(k.y))
        keys.push({ kty: 'EC', crv: 'P-256', x: k.x, y: k.y, alg: 'ES256', ...kid })
    } else if (k.kty === 'RSA' && (k.alg ?? 'RS256') === 'RS256') {
      if (b64(k.n) && b64(k.e) && k.n.length >= MIN_RSA_MODULUS_CHARS)
        keys.push({ kty: 'RSA', n: k.n, e: k.e, alg: 'RS256', ...kid })
    }
  }
  if (keys.length === 0)
    return 'Its keys include none for ES256 (P-256) or RS256 (at least 2048 bits) signatures.'
  return keys
}

/** What this server keeps of a valid document. */
export type ClientMetadata = {
  client_name: string
  redirect_uris: string[]
  /** The code flow and, as every code gives a refresh token here, refreshing. */
  grant_types: ['authorization_code', 'refresh_token']
  scope: string
  method: MetadataAuthMethod
  /** For private_key_jwt: the keys given inline, or where they are published. */
  jwks?: PublicJwk[]
  jwks_uri?: string
}

const NAME_CHARACTERS = /^[^\p{Cc}\p{Cf}]*$/u
const MAX_REDIRECT_URIS = 10

/**
 * The metadata of a fetched document, or why it is refused. `url` is the client_id it was
 * fetched at. The rules: the draft's "Client ID Metadata Document" (its `client_id` is the URL,
 * exactly), "Credential and Key Material Restrictions" (no `client_secret`, no secret-based
 * method, public keys only) and "Redirect URL Registration"; RFC 7591 §2 for the fields, read
 * as registration reads them (src/http/schemas/clients.ts): a name without control or format
 * characters, redirect URIs in canonical form. A document may ask only for the code flow
 * (refreshing comes with it) and only for the scopes a person can grant.
 */
export function documentMetadata(
  doc: unknown,
  url: string,
  allowInsecure: boolean,
): ClientMetadata | string {
  if (!isObject(doc)) return 'It is not a JSON object.'
  if (doc.client_id !== url) return 'Its client_id is not the URL it was fetched from.'
  if ('client_secret' in doc || 'client_secret_expires_at' in doc)
    return 'It must not contain a client_secret: no secret can be shared through it.'
  const method = doc.token_endpoint_auth_method ?? 'none'
  if (method !== 'none' && method !== 'private_key_jwt')
    return 'Its token_endpoint_auth_method must be "none" or "private_key_jwt" (no shared secrets).'
  const name = doc.client_name
  if (typeof name !== 'string' || !NAME_CHARACTERS.test(name) || !name.trim())
    return 'It needs a client_name without control or format characters.'
  if (name.trim().length > 100) return 'Its client_name is longer than 100 characters.'
  const uris = doc.redirect_uris
  if (!Array.isArray(uris) || uris.length === 0) return 'It needs redirect_uris.'
  if (uris.length > MAX_REDIRECT_URIS) return `It has more than ${MAX_REDIRECT_URIS} redirect_uris.`
  for (const uri of uris) {
    const problem = typeof uri === 'string' ? redirectUriProblem(uri) : 'Must be a string.'
    if (problem) return `Its redirect URI ${JSON.stringify(uri)} is refused: ${problem}`
  }
  const grants = doc.grant_types ?? ['authorization_code']
  if (!Array.isArray(grants) || !grants.includes('authorization_code'))
    return 'Its grant_types must include authorization_code, the one flow offered to it.'
  const responses = doc.response_types
  if (responses !== undefined && (!Array.isArray(responses) || !responses.includes('code')))
    return 'Its response_types must include code.'
  const asked = doc.scope
  if (asked !== undefined && typeof asked !== 'string') return 'Its scope must be a string.'
  const scope = asked === undefined ? SCOPES : narrowScopes(asked.split(' '), SCOPES)
  if (scope.length === 0) return 'Its scope names none of "read" and "write".'
  const metadata: ClientMetadata = {
    client_name: name.trim(),
    redirect_uris: uris as string[],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: scope.join(' '),
    method,
  }
  if (method === 'none') return metadata
  // RFC 7591 §2: jwks and jwks_uri MUST NOT both be present.
  if ((doc.jwks === undefined) === (doc.jwks_uri === undefined))
    return 'With private_key_jwt it needs exactly one of jwks and jwks_uri.'
  if (doc.jwks_uri !== undefined) {
    if (typeof doc.jwks_uri !== 'string') return 'Its jwks_uri must be a string.'
    const problem = fetchableUrlProblem(doc.jwks_uri, allowInsecure)
    if (problem) return `Its jwks_uri is refused: ${problem}`
    return { ...metadata, jwks_uri: doc.jwks_uri }
  }
  const keys = usableKeys(doc.jwks)
  return typeof keys === 'string' ? keys : { ...metadata, jwks: keys }
}

/**
 * The seconds a response may be kept, from its Cache-Control and Age (RFC 9111 §5.2.2, §4.2.3),
 * within [0, MAX_CACHE_SECONDS]. This server is a shared cache, so `s-maxage` wins over `max-age`
 * and `private` is not stored; `no-store` and `no-cache` are never reused.
 */
export function cacheSeconds(cacheControl: string | null, age: string | null): number {
  if (cacheControl === null) return DEFAULT_CACHE_SECONDS
  const directives = new Map(
    cacheControl.split(',').map((d) => {
      const [name = '', value] = d.trim().toLowerCase().split('=')
      return [name, value?.replace(/^"|"$/g, '')] as const
    }),
  )
  if (['no-store', 'no-cache', 'private'].some((d) => directives.has(d))) return 0
  const raw = directives.get('s-maxage') ?? directives.get('max-age')
  if (raw === undefined || !/^\d{1,10}$/.test(raw)) return DEFAULT_CACHE_SECONDS
  const used = age !== null && /^\d{1,10}$/.test(age.trim()) ? Number(age) : 0
  return Math.max(0, Math.min(MAX_CACHE_SECONDS, Number(raw) - used))
}

/**
 * What a remembered consent to a metadata-document client is keyed by besides the client: where
 * the redirect URI sends the code (MCP 2025-11-25, "Localhost Redirect URI Risks"). Anyone can
 * name a well-known client's URL with a redirect URI of their own, so a consent given for one
 * host is not one for another. An https URI's host with its port; loopback's hostname (the port
 * is any, RFC 8252 §7.3); a private-use scheme. Null for every other client (consent per client).
 */
export function consentHost(clientId: string, redirectUri: string): string | null {
  if (!isMetadataClientId(clientId)) return null
  const target = redirectTarget(redirectUri)
  if (target.kind === 'web') return target.host
  if (target.kind === 'native') return `${target.scheme}:`
  return new URL(redirectUri).hostname
}

/** Every redirect URI is loopback http: the app runs on the person's own device, if anywhere. */
export const onlyLoopback = (redirectUris: readonly string[]): boolean =>
  redirectUris.every((uri) => redirectTarget(uri).kind === 'device')
