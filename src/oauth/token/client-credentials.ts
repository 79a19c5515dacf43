import { config } from '../../config'
import { ApiError } from '../../domain/errors'
import { CLIENT_SCOPES, MACHINE_SCOPES, narrowMachineScopes, scopeWords } from '../../domain/scopes'
import { signAccessToken } from '../../auth/tokens'
import type { Grant } from './grant'
import { askedResource, freshAudience } from './resource'
import { clientSubject } from '../../domain/claims'

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
    const ceiling = narrowMachineScopes(MACHINE_SCOPES, client.scope.split(' '))
    const scope = narrowMachineScopes(scopeWords(form.scope, CLIENT_SCOPES) ?? ceiling, ceiling)
    if (scope.length === 0)
      throw new ApiError('invalid_scope', 'This client holds none of the scopes asked for.')
    const cfg = config(c.env)
    // RFC 8707: any of our resources (the policy there decides what a client may do).
    const audience = freshAudience(c, askedResource(c, form.resource))
    const claims = {
      sub: clientSubject(client.client_id),
      client_id: client.client_id,
      scope: scope.join(' '),
    }
    const accessToken = await signAccessToken(c.env, cfg, c.req.url, claims, audience)
    return c.json({
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: cfg.accessTokenTtl,
      scope: scope.join(' '),
    })
  },
}
