import { checkPassword } from '../../auth/login'
import { config } from '../../config'
import { findLiveSession, sessionStatements } from '../../db/sessions'
import { toUser } from '../../db/users'
import { ApiError, incorrectCredentials } from '../../domain/errors'
import { grantScope, narrowScopes, parseScopeParam, parseScopes } from '../../domain/scopes'
import { primaryDatabase } from '../../http/database'
import { randomToken, sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'
import { type Grant, tokenResponse } from './grant'
import { askedResource, freshAudience } from './resource'

/**
 * The resource owner password grant (RFC 6749 §4.3): legacy. RFC 9700 §2.4 says it MUST NOT be
 * used and OAuth 2.1 drops it; it stays for the chapter's curl unless ALLOW_PASSWORD_GRANT is
 * "false". With a client, the client must be registered for it, and its scope caps the grant.
 *
 * The session is written in the password check's own success batch, only while the user is
 * enabled and holds the hash just verified, and its client (if any) is enabled
 * (docs/security.md, "Sessions").
 */
export const passwordGrant: Grant<'password'> = {
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
    const resource = askedResource(c, form.resource)
    const cfg = config(c.env)
    const db = primaryDatabase(c)
    const clientId = client?.client_id ?? null
    const refreshToken = randomToken()
    const refreshHash = await sha256Hex(refreshToken)
    let session: { id: string; scope: string } | undefined
    const row = await checkPassword(
      db,
      cfg,
      c.get('requester'),
      { username: form.username, password: form.password },
      (user) => {
        const held = parseScopes(user.scopes)
        const allowed = client ? narrowScopes(held, parseScopes(client.scope)) : held
        const scope = grantScope(asked, allowed)
        const created = sessionStatements(db, {
          userId: user.id,
          verifiedHash: user.password_hash,
          clientId,
          scope,
          resource,
          refreshHash,
          now: nowSeconds(),
          ttl: cfg.refreshTokenTtl,
          from: c.get('requester'),
        })
        session = { id: created.id, scope }
        return created.statements
      },
    )
    if (!row || !session) throw incorrectCredentials('invalid_grant')
    // The success's audit event, which decides `row`, checks the user but not the client: a
    // client disabled during the compare leaves no session, and no token may name it.
    if (clientId !== null && !(await findLiveSession(db, session.id, row.id, nowSeconds())))
      throw new ApiError('invalid_client', 'Client authentication failed.')
    const user = toUser(row)
    return tokenResponse(c, {
      user,
      sessionId: session.id,
      scope: session.scope,
      refreshToken,
      clientId,
      audience: freshAudience(c, resource),
    })
  },
}
