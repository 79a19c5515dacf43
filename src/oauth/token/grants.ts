import type { Config } from '../../config'
import { GRANT_TYPES, type GrantType } from '../../domain/clients'
import { ApiError } from '../../domain/errors'
import { authorizationCodeGrant } from '../authorize/code-grant'
import { deviceCodeGrant } from '../device/device-code-grant'
import { clientCredentialsGrant } from './client-credentials'
import type { Grant } from './grant'
import { passwordGrant } from './password'
import { refreshTokenGrant } from './refresh-token'

/**
 * Every grant the token endpoint knows, one module each, by the name GRANT_TYPES gives it
 * (src/domain/clients.ts): the type checker holds the two together. The dispatch, the discovery
 * document's `grant_types_supported` and the unsupported_grant_type error all come from here, so
 * a new grant is one file, its name in GRANT_TYPES and one line here (docs/contributing.md).
 */
const GRANTS: { readonly [T in GrantType]: Grant<T> } = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
  'urn:ietf:params:oauth:grant-type:device_code': deviceCodeGrant,
  password: passwordGrant,
}

const enabled = (cfg: Config) =>
  GRANT_TYPES.map((type) => GRANTS[type]).filter((g) => g.enabled?.(cfg) ?? true)

/** RFC 8414 `grant_types_supported`. */
export const grantTypesSupported = (cfg: Config): string[] => enabled(cfg).map((g) => g.type)

/** The grant for a `grant_type`, or 400 unsupported_grant_type naming the ones on offer. */
export function grantFor(cfg: Config, type: string): Grant {
  const grant = enabled(cfg).find((g) => g.type === type)
  if (grant) return grant
  const names = grantTypesSupported(cfg).map((t) => `"${t}"`)
  throw new ApiError('unsupported_grant_type', `Supported grant types are ${names.join(', ')}.`)
}
