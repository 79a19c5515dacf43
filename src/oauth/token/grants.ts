import type { Config } from '../../config'
import { ApiError } from '../../domain/errors'
import { authorizationCodeGrant } from '../authorize/code-grant'
import { clientCredentialsGrant } from './client-credentials'
import { deviceCodeGrant } from '../device/device-code-grant'
import type { Grant } from './grant'
import { passwordGrant } from './password'
import { refreshTokenGrant } from './refresh-token'

/**
 * Every grant the token endpoint knows, one module each. The dispatch, the discovery document's
 * `grant_types_supported` and the unsupported_grant_type error all come from this table, so a
 * new grant is one file, one line here and its name in GRANT_TYPES (src/http/schemas/auth.ts), in the
 * same order (test/oauth/token/grants.test.ts).
 */
export const GRANTS: readonly Grant[] = [
  authorizationCodeGrant,
  refreshTokenGrant,
  clientCredentialsGrant,
  deviceCodeGrant,
  passwordGrant,
]

const enabled = (cfg: Config) => GRANTS.filter((g) => g.enabled?.(cfg) ?? true)

/** RFC 8414 `grant_types_supported`. */
export const grantTypesSupported = (cfg: Config): string[] => enabled(cfg).map((g) => g.type)

/** The grant for a `grant_type`, or 400 unsupported_grant_type naming the ones on offer. */
export function grantFor(cfg: Config, type: string): Grant {
  const grant = enabled(cfg).find((g) => g.type === type)
  if (grant) return grant
  const names = grantTypesSupported(cfg).map((t) => `"${t}"`)
  throw new ApiError('unsupported_grant_type', `Supported grant types are ${names.join(', ')}.`)
}
