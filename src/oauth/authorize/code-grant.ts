import { config } from '../../config'
import { audit } from '../../db/audit'
import type { ClientRow } from '../../db/clients'
import { findCode, redeemCode, revokeCodeSession } from '../../db/codes'
import { ApiError } from '../../domain/errors'
import { database } from '../../http/database'
import { randomToken, sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'
import { type Grant, redeemedResponse } from '../token/grant'
import { grantAudience } from '../token/resource'
import { s256, VERIFIER } from './pkce'

const invalidGrant = (description = 'The authorization code is invalid, expired or used.') =>
  new ApiError('invalid_grant', description)

/**
 * Whether a replayed code comes from whoever it was issued to rather than from anyone who saw the
 * redirect URL: a confidential client authenticated with its secret (RFC 6749 §2.3.1), or the
 * PKCE verifier matches the code's S256 challenge (RFC 7636 §4.6). The challenge is public (it
 * was in the authorization request), so comparing with it in variable time leaks nothing.
 */
async function provesPossession(
  verifier: string | undefined,
  challenge: string,
  client: ClientRow,
): Promise<boolean> {
  if (client.client_type === 'confidential') return true
  return verifier !== undefined && VERIFIER.test(verifier) && (await s256(verifier)) === challenge
}

/**
 * The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6). Everything that can
 * be refused without spending the code is checked first: the client (authenticated by the token
 * endpoint), that the code was issued to it, the redirect URI and the verifier. Only then is the
 * code spent, in the transaction that creates the session (../db/codes.ts). A spent code
 * presented again ends the session it gave (RFC 6749 §10.5), but only when the replay proves
 * possession (provesPossession); otherwise it is refused like any unknown code.
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
      // RFC 6749 §10.5 says revoke on a replay; but the code alone is no proof (it travels in a
      // redirect URL), so only a replay that proves possession ends the session (docs/security.md).
      if (await provesPossession(form.code_verifier, row.code_challenge, client)) {
        const ended = await revokeCodeSession(db, codeHash)
        await audit(db, who, 'code_reuse_detected', {
          username: ended?.username,
          userId: row.user_id,
        })
      }
      throw invalidGrant()
    }
    if (row.expires_at <= nowSeconds()) throw invalidGrant()
    if (form.redirect_uri !== undefined && form.redirect_uri !== row.redirect_uri)
      throw invalidGrant('redirect_uri is not the one the code was issued for.')
    if (form.code_verifier === undefined || !VERIFIER.test(form.code_verifier))
      throw invalidGrant('A valid code_verifier is required (PKCE, RFC 7636).')
    if ((await s256(form.code_verifier)) !== row.code_challenge)
      throw invalidGrant('The code_verifier does not match the code challenge.')
    // RFC 8707 §2.2: the code's resource, or invalid_target, before the code is spent.
    const audience = grantAudience(c, form.resource, row.resource)

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
    return redeemedResponse(c, 'code_exchange', result, {
      refreshToken,
      clientId: client.client_id,
      audience,
    })
  },
}
