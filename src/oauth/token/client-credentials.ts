import { signAccessToken } from '../../auth/tokens'
import { config } from '../../config'
import { stillIssuing } from '../../db/client-tokens'
import { clientSubject } from '../../domain/claims'
import { ApiError } from '../../domain/errors'
import { CLIENT_SCOPES, MACHINE_SCOPES, narrowMachineScopes, scopeWords } from '../../domain/scopes'
import { primaryDatabase } from '../../http/database'
import { nowSeconds } from '../../lib/time'
import { invalidClient } from '../clients/authenticate'
import type { Grant } from './grant'
import { askedResource, freshAudience } from './resource'

/**
 * The client credentials grant (RFC 6749 §4.4): a confidential client gets a token for itself,
 * never for a user. Its scope is what it asked for (all it may have when it asks for nothing)
 * within its registered machine scopes, and the grant fails closed when that leaves nothing. No
 * refresh token (§4.4.3): the client can always authenticate again. The token names no session;
 * the Bearer check holds it against the client's row instead (../db/client-tokens.ts).
 */
export const clientCredentialsGrant: Grant<'client_credentials'> = {
  type: 'client_credentials',
  anonymous: false,
  async handle(c, form, client) {
    if (!client) throw new ApiError('invalid_client', 'Client authentication failed.')
    if (client.client_type !== 'confidential')
      throw new ApiError('unauthorized_client', 'Only a confidential client may use this grant.')
    // `introspect` is a permission at the introspection endpoint, where the client authenticates
    // itself (RFC 7662 §2.1); no route takes it in a token, so no token carries it.
    const ceiling = narrowMachineScopes(MACHINE_SCOPES, client.scope.split(' ')).filter(
      (s) => s !== 'introspect',
    )
    const scope = narrowMachineScopes(scopeWords(form.scope, CLIENT_SCOPES) ?? ceiling, ceiling)
    if (scope.length === 0)
      throw new ApiError('invalid_scope', 'This client holds none of the scopes asked for.')
    const cfg = config(c.env)
    // Tokens count from the client's tokens_valid_after on (../db/client-tokens.ts). Right after
    // the client was enabled again or got a new secret, that is the next second: a token dated
    // now would be born dead, so it is dated then (within checkClaims' 60 s leeway for `iat`).
    const validAfter = client.tokens_valid_after ?? 0
    const iat = Math.max(nowSeconds(), validAfter)
    // RFC 8707: any of our resources (the policy there decides what a client may do).
    const audience = freshAudience(c, askedResource(c, form.resource))
    const accessToken = await signAccessToken(
      c.env,
      cfg,
      c.req.url,
      {
        sub: clientSubject(client.client_id),
        client_id: client.client_id,
        scope: scope.join(' '),
      },
      { iat, audience },
    )
    // Handed out only if no disable, secret rotation or loss of the grant came after the client
    // authenticated: each moves tokens_valid_after, which this read compares with what the
    // authentication read. A change after this read is dated after `iat` and ends the token.
    if (!(await stillIssuing(primaryDatabase(c), { clientId: client.client_id, iat, validAfter })))
      throw invalidClient(client.token_endpoint_auth_method === 'client_secret_basic')
    return c.json({
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: cfg.accessTokenTtl,
      scope: scope.join(' '),
    })
  },
}
