import type { BearerAuth } from './auth/middleware'
import type { Client } from './client'
import type { User } from './db/users'

/**
 * Bindings come from `wrangler types` (worker-configuration.d.ts, JWT_SECRET included as a
 * required secret); the optional rotation secret is declared here. JWT_SECRET may still be absent
 * at runtime on a misconfigured deployment, which keyring() answers with a 500.
 */
export type Bindings = Env & {
  JWT_SECRET_PREVIOUS?: string
}

/** What the auth middlewares hand to the routes. */
export type Variables = {
  /** Who sent the request, set first by clientInfo() (src/client.ts). */
  client: Client
  /** The user of the request; unset when a client acts as itself (`actingClient`). */
  user: User
  /**
   * The client_id of a client acting as itself, with a client credentials token (RFC 6749 §4.4).
   * Only routes behind `allow` let such a token in, and the policy then sees a client.
   */
  actingClient?: string
  /** The access token's session id; absent for HTTP Basic. */
  sessionId?: string
  /**
   * True when the access token's session belongs to a third-party app (a client that is not
   * first-party), read with the session in the Bearer check; absent for HTTP Basic.
   */
  thirdPartyApp?: boolean
  /** Scopes this request may use: the token's scope narrowed to what the user still holds. */
  scopes: readonly string[]
  /** The D1 binding itself, for reads that must see the primary (src/db/replication.ts). */
  primary?: D1Database
  /**
   * A Bearer request whose session check rides in its route's batch (src/auth/middleware.ts
   * `authorized`); absent for HTTP Basic and for the routes that check the session up front.
   */
  bearer?: BearerAuth
}

export type AppEnv = { Bindings: Bindings; Variables: Variables }

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
    }
    parsed.set(env, cfg)
  }
  return cfg
}

/**
 * `env` with its D1 binding replaced for one request (./db/replication.ts), sharing the config
 * already parsed for `env` instead of parsing the vars again on every request.
 */
export function withDatabase(env: Bindings, db: () => D1Database): Bindings {
  // A view of `env` that differs in DB alone: no copy of the bindings (it showed in the CPU
  // profile, docs/performance.md) and no read of `env.DB`, which would open the D1 session that
  // an earlier wrapper (readReplication) opens on first use.
  const derived: Bindings = Object.create(env, { DB: { get: db, enumerable: true } })
  parsed.set(derived, config(env))
  return derived
}

// Hostnames that only this machine can reach: `wrangler dev` on 127.0.0.1, localhost or [::1].
export const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/

/**
 * The issuer a document may name without ISSUER: the request's own origin, but only on a
 * loopback host (local development). Anywhere else the Host header is the client's to choose,
 * and an issuer taken from it would let tokens cross hostnames and discovery echo any host.
 * Null when there is none.
 */
export const knownIssuer = (cfg: Config, requestUrl: string): string | null => {
  if (cfg.issuer) return cfg.issuer
  const url = new URL(requestUrl)
  return LOOPBACK.test(url.hostname) ? url.origin : null
}
