import { Hono } from 'hono'
import { checkedBatch } from '../auth/batch'
import { requires } from '../auth/guards'
import { requestAttribution } from '../db/audit'
import { deleteFederationRequest, identitiesOf, identityUnlinking } from '../db/identity-providers'
import { PASSWORD_OR_PASSKEY } from '../db/passkeys'
import { ApiError } from '../domain/errors'
import type { AppEnv } from '../http/context'
import { database } from '../http/database'
import { doc } from '../http/openapi'
import { identityList, linkStart } from '../http/schemas/federation'
import { sha256Hex } from '../lib/crypto'
import { browserBinding } from '../oauth/browser/signin'
import { newSignIn } from './oidc'

import { linkRequest, providerUrl } from './upstream-signin'

/** GET/POST/DELETE /users/me/identities…: the upstream identities linked to your account. */
export const myIdentityRoutes = new Hono<AppEnv>()
  .get(
    '/me/identities',
    doc({
      operationId: 'listIdentities',
      tag: 'users',
      summary: 'Your linked identity providers',
      responses: { 200: { description: 'Your identities.', schema: identityList } },
    }),
    requires('self'),
    async (c) => c.json(await checkedBatch(c, (db, actor) => identitiesOf(db, actor.id))),
  )
  .post(
    '/me/identities/:provider',
    doc({
      operationId: 'linkIdentity',
      tag: 'users',
      summary: 'Start linking an identity provider to your account',
      description:
        'Answers the provider’s sign-in URL; open it in this same browser (the answer sets the ' +
        'browser cookie it is bound to). Its callback links the identity and goes to /account.',
      responses: { 200: { description: 'Where to sign in.', schema: linkStart } },
      errors: ['temporarily_unavailable'],
    }),
    requires('identities.change'),
    async (c) => {
      const id = c.req.param('provider')
      const binding = browserBinding(c)
      // Made up front, so the request row rides in the session check's batch: one round trip,
      // the provider's discovery after it (a row whose discovery fails is deleted, below).
      const secrets = newSignIn()
      const p = await checkedBatch(c, (db, actor) =>
        linkRequest(db, id, binding, actor.id, secrets),
      )
      if (!p?.enabled) throw new ApiError('not_found', 'No such identity provider.')
      try {
        return c.json({ authorization_url: await providerUrl(c, p, secrets) })
      } catch (err) {
        if (err instanceof ApiError) throw err
        console.error('federation: cannot start linking at', p.id, err)
        await deleteFederationRequest(database(c), await sha256Hex(secrets.state))
        throw new ApiError('temporarily_unavailable', `${p.name} cannot be reached right now.`)
      }
    },
  )
  .delete(
    '/me/identities/:provider',
    doc({
      operationId: 'unlinkIdentity',
      tag: 'users',
      summary: 'Unlink an identity provider',
      description:
        'Refused (409) when it is your last way to sign in: no password, no passkey and no ' +
        'other identity.',
      responses: { 204: { description: 'Unlinked.' } },
      errors: ['conflict'],
    }),
    requires('identities.change'),
    async (c) => {
      const provider = c.req.param('provider')
      const by = requestAttribution(c.get('requester'), provider)
      // A password or a passkey is a way in as much as another identity is.
      const done = await checkedBatch(c, (db, actor) =>
        identityUnlinking(db, actor.id, provider, PASSWORD_OR_PASSKEY, by),
      )
      if (done === null)
        throw new ApiError('not_found', 'No identity from that provider is linked.')
      if (done === 'last')
        throw new ApiError(
          'conflict',
          'It is your only way to sign in: you have no password and no passkey.',
        )
      return c.body(null, 204)
    },
  )
