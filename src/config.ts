/**
 * Bindings come from `wrangler types` (worker-configuration.d.ts, JWT_SECRET included as a
 * required secret); the optional rotation secret is declared here. JWT_SECRET may still be absent
 * at runtime on a misconfigured deployment, which keyring() answers with a 500.
 */
export type Bindings = Env & {
  JWT_SECRET_PREVIOUS?: string
}

export type Config = {
  issuer?: string
  audience: string
  accessTokenTtl: number
  refreshTokenTtl: number
  /**
   * REFRESH_RETRY_SECONDS: how long the refresh token a client just rotated still gets the same
   * response again (src/grants/refresh-token.ts); 0, the default, turns it off.
   */
  refreshRetrySeconds: number
  bcryptCost: number
  loginMaxFailures: number
  loginLockoutSeconds: number
  corsOrigins: string[]
  allowSignup: boolean
  auditRetentionDays: number
  /** RFC 7591 dynamic registration at POST /auth/clients. */
  allowClientRegistration: boolean
  /** The legacy resource owner password grant (RFC 9700 §2.4 says MUST NOT; on for the curl). */
  allowPasswordGrant: boolean
  /** Upstream OpenID provider issuers on loopback http (development and tests only). */
  allowInsecureIdp: boolean
  /**
   * Client ID Metadata Documents at `http://127.0.0.1:<port>/…` (and [::1], localhost): local
   * development only, never in production (the draft's "Server Side Request Forgery (SSRF)
   * Attacks"; docs/security.md).
   */
  allowInsecureClientMetadata: boolean
}

const int = (raw: string | undefined, fallback: number, min: number, max: number): number => {
  const n = Number(raw)
  return raw !== undefined && raw.trim() !== '' && Number.isInteger(n) && n >= min && n <= max
    ? n
    : fallback
}

const parsed = new WeakMap<object, Config>()

/**
 * Reads the wrangler vars once per env object. A missing or out-of-range value falls back to its
 * safe default rather than failing every request: vars are operator input, not client input.
 */
export function config(env: Bindings): Config {
  let cfg = parsed.get(env)
  if (!cfg) {
    const accessTokenTtl = int(env.ACCESS_TOKEN_TTL, 900, 30, 86_400)
    cfg = {
      issuer: env.ISSUER?.trim() || undefined,
      audience: env.JWT_AUDIENCE?.trim() || 'todo-api',
      accessTokenTtl,
      refreshTokenTtl: int(env.REFRESH_TOKEN_TTL, 2_592_000, 60, 31_536_000),
      // Shorter than the access token's life, so the one a retry gets again is still valid.
      refreshRetrySeconds: Math.min(int(env.REFRESH_RETRY_SECONDS, 0, 0, 300), accessTokenTtl - 1),
      bcryptCost: int(env.BCRYPT_COST, 10, 4, 15),
      loginMaxFailures: int(env.LOGIN_MAX_FAILURES, 5, 1, 100),
      loginLockoutSeconds: int(env.LOGIN_LOCKOUT_SECONDS, 60, 1, 900),
      corsOrigins: (env.CORS_ORIGINS ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      allowSignup: env.ALLOW_SIGNUP === 'true',
      auditRetentionDays: int(env.AUDIT_RETENTION_DAYS, 90, 1, 3650),
      allowClientRegistration: env.ALLOW_CLIENT_REGISTRATION === 'true',
      allowPasswordGrant: env.ALLOW_PASSWORD_GRANT !== 'false',
      allowInsecureIdp: env.ALLOW_INSECURE_IDP === 'true',
      allowInsecureClientMetadata: env.ALLOW_INSECURE_CLIENT_METADATA === 'true',
    }
    parsed.set(env, cfg)
  }
  return cfg
}

// Hostnames that only this machine can reach: `wrangler dev` on 127.0.0.1, localhost or [::1].
export const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/

/**
 * knownIssuer's answer by origin, so that a Bearer request without ISSUER (local development,
 * the bench) does not parse its URL again to check its token's `iss`. Bounded: the Host header is
 * the client's.
 */
const originIssuers = new Map<string, string | null>()
const ORIGINS_MAX = 16

/**
 * The issuer a document may name without ISSUER: the request's own origin, but only on a
 * loopback host (local development). Anywhere else the Host header is the client's to choose,
 * and an issuer taken from it would let tokens cross hostnames and discovery echo any host.
 * Null when there is none.
 */
export const knownIssuer = (cfg: Config, requestUrl: string): string | null => {
  if (cfg.issuer) return cfg.issuer
  // A hit is a URL that starts with a remembered origin and a `/`: its origin is that one.
  // (`/` searched from the 9th character on: past the `//` of both `http://` and `https://`.)
  const slash = requestUrl.indexOf('/', 8)
  const cached = slash === -1 ? undefined : originIssuers.get(requestUrl.slice(0, slash))
  if (cached !== undefined) return cached
  const url = new URL(requestUrl)
  const issuer = LOOPBACK.test(url.hostname) ? url.origin : null
  // Remembered only for a URL that is its origin and a path, so a hit names that very origin.
  if (requestUrl.startsWith(`${url.origin}/`)) {
    if (originIssuers.size >= ORIGINS_MAX) originIssuers.clear()
    originIssuers.set(url.origin, issuer)
  }
  return issuer
}
