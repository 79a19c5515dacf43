import type { Context } from 'hono'
import { issuerFor } from '../../auth/tokens'
import { config } from '../../config'
import { audienceFor, requestedResource } from '../../domain/resources'
import type { AppEnv } from '../../http/context'

/**
 * RFC 8707 at the token endpoint and the device authorization endpoint, for every grant: what
 * the request names as `resource`, and the `aud` the token gets. The rules are in
 * src/domain/resources.ts; this reads the issuer and JWT_AUDIENCE for them.
 */

/** The resource a request names, canonical; undefined for none, else `invalid_target`. */
export const askedResource = (c: Context<AppEnv>, raw: string | string[] | undefined) =>
  requestedResource(issuerFor(config(c.env), c.req.url), raw)

/**
 * The `aud` of a token issued under a grant made for `granted` (a code's, a device code's, a
 * session's resource; null for none): the request may repeat it, never name another
 * (RFC 8707 §2.2), else `invalid_target`. Call it before spending anything.
 */
export function grantAudience(
  c: Context<AppEnv>,
  raw: string | string[] | undefined,
  granted: string | null,
): string {
  const cfg = config(c.env)
  const issuer = issuerFor(cfg, c.req.url)
  return audienceFor(issuer, cfg.audience, granted, requestedResource(issuer, raw))
}

/** The `aud` of a token of a new grant (password, client credentials): any of our resources. */
export const freshAudience = (c: Context<AppEnv>, resource: string | undefined): string =>
  resource ?? config(c.env).audience
