import { config } from '../../config'
import { ApiError } from '../../domain/errors'
import { audit } from '../../db/audit'
import { findCode, redeemCode, revokeCodeSession } from '../../db/codes'
import { randomToken, sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'
import { s256, VERIFIER } from './pkce'
import { type Grant, tokenResponse } from '../token/grant'
import { database } from '../../http/database'

const invalidGrant = (description = 'The authorization code is invalid, expired or used.') =>
  new ApiError('invalid_grant', description)

/**
 * The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6). Everything that can
 * be refused without spending the code is checked first: the client (authenticated by the token
 * endpoint), that the code was issued to it, the redirect URI and the verifier. Only then is the
 * code spent, in the transaction that creates the session (../db/codes.ts). A spent code
 * presented again ends the session it gave (RFC 6749 §10.5).
 *
 * `redirect_uri` may be omitted (OAuth 2.1 §4.1.3: PKCE binds the code); when sent it must be the
 * authorization request's. Every code has an S256 challenge, so a missing verifier is a refused
 * downgrade, and a verifier is never accepted without a challenge (RFC 9700 §2.1.1).
 */
export const authorizationCodeGrant: Grant<'authorization_code'> = {
  type: 'authorization_code',
  anonymous: false,
  async handle(c, form, client) {
    if (!client) throw new ApiError('invalid_client', 'Client authentication failed.')
    if (form.code === undefined)
      throw new ApiError('invalid_request', 'code is required for the authorization_code grant.')
    const codeHash = await sha256Hex(form.code)
    const db = database(c)
    // Who sent the request (address, user agent), for the audit trail; `client` is the OAuth one.
    const who = c.get('requester')
    const row = await findCode(db, codeHash)
    if (!row || row.client_id !== client.client_id) throw invalidGrant()
    if (row.used_at !== null) {
      const ended = await revokeCodeSession(db, codeHash)
      await audit(db, who, 'code_reuse_detected', {
        username: ended?.username,
        userId: row.user_id,
      })
      throw invalidGrant()
    }
    if (row.expires_at <= nowSeconds()) throw invalidGrant()
    if (form.redirect_uri !== undefined && form.redirect_uri !== row.redirect_uri)
      throw invalidGrant('redirect_uri is not the one the code was issued for.')
    if (form.code_verifier === undefined || !VERIFIER.test(form.code_verifier))
      throw invalidGrant('A valid code_verifier is required (PKCE, RFC 7636).')
    if ((await s256(form.code_verifier)) !== row.code_challenge)
      throw invalidGrant('The code_verifier does not match the code challenge.')

    const refreshToken = randomToken()
    const result = await redeemCode(db, {
      code: row,
      clientId: client.client_id,
      refreshHash: await sha256Hex(refreshToken),
      ttl: config(c.env).refreshTokenTtl,
      from: c.get('requester'),
    })
    if (result.kind === 'reused') {
      await audit(db, who, 'code_reuse_detected', {
        username: result.username,
        userId: result.userId,
      })
      throw invalidGrant()
    }
    if (result.kind === 'invalid') throw invalidGrant()
    await audit(db, who, 'code_exchange', {
      username: result.user.username,
      userId: result.user.id,
    })
    return tokenResponse(c, {
      user: result.user,
      sessionId: result.sessionId,
      scope: result.scope,
      refreshToken,
      clientId: client.client_id,
    })
  },
}
