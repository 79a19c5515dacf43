import { ApiError, invalidRefreshToken } from '../../domain/errors'
import { audit } from '../../db/audit'
import { rotateRefreshToken, sessionOfRefreshToken } from '../../db/sessions'
import { randomToken, sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'
import { grantScope, narrowScopes, parseScopeParam, parseScopes } from '../../domain/scopes'
import { type Grant, tokenResponse } from './grant'
import { grantAudience } from './resource'
import { database } from '../../http/database'

/**
 * The refresh token grant (RFC 6749 §6) with rotation: each token works once, and presenting a
 * used one ends its whole session (RFC 9700 §4.14). A token works only for the client its
 * session was issued to, or without a client for the legacy password grant's sessions.
 */
export const refreshTokenGrant: Grant<'refresh_token'> = {
  type: 'refresh_token',
  anonymous: true,
  async handle(c, form, client) {
    if (form.refresh_token === undefined)
      throw new ApiError(
        'invalid_request',
        'refresh_token is required for the refresh_token grant.',
      )
    const asked = parseScopeParam(form.scope)
    const oldHash = await sha256Hex(form.refresh_token)
    if (asked || form.resource !== undefined) {
      // Checked before rotating, so a refused narrowing does not cost the client its token.
      const session = await sessionOfRefreshToken(database(c), oldHash)
      if (session && asked) grantScope(asked, parseScopes(session.scope))
      if (session) grantAudience(c, form.resource, session.resource)
    }
    const refreshToken = randomToken()
    const clientId = client?.client_id ?? null
    const result = await rotateRefreshToken(
      database(c),
      oldHash,
      await sha256Hex(refreshToken),
      nowSeconds(),
      asked?.join(' '),
      clientId,
    )
    if (result.kind === 'reused') {
      await audit(
        database(c),
        c.get('requester'),
        'refresh_reuse_detected',
        { username: result.username, userId: result.userId },
        `session ${result.sessionId} revoked`,
      )
      throw invalidRefreshToken()
    }
    if (result.kind === 'invalid') throw invalidRefreshToken()
    const { user, sessionId } = result.session
    // The session's grant (narrowed for good if asked), and only what the user still holds
    // today.
    const scope = narrowScopes(parseScopes(result.session.scope), user.scopes).join(' ')
    await audit(database(c), c.get('requester'), 'refresh', {
      username: user.username,
      userId: user.id,
    })
    // RFC 8707 §2.2: the session's resource, never another.
    const audience = grantAudience(c, form.resource, result.session.resource)
    return tokenResponse(c, { user, sessionId, scope, refreshToken, clientId, audience })
  },
}
