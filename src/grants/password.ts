import { config } from '../env'
import { ApiError, incorrectCredentials } from '../errors'
import { createSession } from '../db/sessions'
import { toUser } from '../db/users'
import { randomToken, sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { checkPassword } from '../auth/login'
import { grantScope, narrowScopes, parseScopeParam, parseScopes } from '../auth/scopes'
import { type Grant, tokenResponse } from './grant'

/**
 * The resource owner password grant (RFC 6749 §4.3): legacy. RFC 9700 §2.4 says it MUST NOT be
 * used and OAuth 2.1 drops it; it stays for the chapter's curl unless ALLOW_PASSWORD_GRANT is
 * "false". With a client, the client must be registered for it, and its scope caps the grant.
 */
export const passwordGrant: Grant = {
  type: 'password',
  enabled: (cfg) => cfg.allowPasswordGrant,
  anonymous: true,
  async handle(c, form, client) {
    if (form.username === undefined || form.password === undefined) {
      throw new ApiError(
        'invalid_request',
        'username and password are required for the password grant.',
      )
    }
    const asked = parseScopeParam(form.scope)
    const row = await checkPassword(c, form.username, form.password)
    if (!row) throw incorrectCredentials('invalid_grant')
    const user = toUser(row)
    const allowed = client ? narrowScopes(user.scopes, parseScopes(client.scope)) : user.scopes
    const scope = grantScope(asked, allowed)
    const refreshToken = randomToken()
    const cfg = config(c.env)
    const clientId = client?.client_id ?? null
    const sessionId = await createSession(
      c.env.DB,
      user.id,
      scope,
      await sha256Hex(refreshToken),
      nowSeconds(),
      cfg.refreshTokenTtl,
      clientId,
    )
    if (!sessionId) throw incorrectCredentials('invalid_grant')
    return tokenResponse(c, { user, sessionId, scope, refreshToken, clientId })
  },
}
