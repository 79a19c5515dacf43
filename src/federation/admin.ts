import { type Context, Hono } from 'hono'
import { checkedBatch } from '../auth/batch'
import { requires } from '../auth/guards'
import { config } from '../config'
import {
  providerById,
  providerDeletion,
  providerInsertion,
  providerPage,
  providerUpdate,
} from '../db/identity-providers'
import { ApiError } from '../domain/errors'
import type { AppEnv } from '../http/context'
import { doc } from '../http/openapi'
import {
  providerCreate,
  providerList,
  providerListQuery,
  providerPatch,
  provider as providerSchema,
} from '../http/schemas/federation'
import { validate } from '../http/validate'
import { issuerProblem } from './oidc'
import { encryptSecret } from './secret'

import { shown } from './upstream-signin'

function checkedIssuer(c: Context<AppEnv>, issuerUrl: string) {
  const problem = issuerProblem(config(c.env), issuerUrl)
  if (problem)
    throw new ApiError('invalid_request', problem, {
      issues: [{ path: 'issuer', message: problem }],
    })
}

/** /admin/identity-providers…: upstream OpenID providers, for admins. The secret is write-only. */
export const adminProviderRoutes = new Hono<AppEnv>()
  .post(
    '/',
    doc({
      operationId: 'createIdentityProvider',
      tag: 'admin',
      summary: 'Add an upstream OpenID Connect provider',
      description:
        'Admins only. Register `redirect_uri` of the answer at the provider. `client_secret` is ' +
        'stored encrypted (IDP_SECRET_KEY) and never shown again.',
      responses: {
        201: {
          description: 'The provider.',
          schema: providerSchema,
          headers: { Location: "The provider's URL." },
        },
      },
      errors: ['conflict'],
    }),
    requires('providers.write'),
    validate('json', providerCreate),
    async (c) => {
      const body = c.req.valid('json')
      checkedIssuer(c, body.issuer)
      const client_secret = await encryptSecret(c.env, body.id, body.client_secret)
      const created = await checkedBatch(c, (db) =>
        providerInsertion(db, { ...body, client_secret }),
      )
      if (!created) throw new ApiError('conflict', 'That provider id is taken.')
      c.header('Location', `/admin/identity-providers/${created.id}`)
      return c.json(shown(c, created), 201)
    },
  )
  .get(
    '/',
    doc({
      operationId: 'listIdentityProviders',
      tag: 'admin',
      summary: 'List upstream identity providers, oldest first',
      description: 'Admins only.',
      responses: { 200: { description: 'The providers.', schema: providerList } },
    }),
    requires('providers.read'),
    validate('query', providerListQuery),
    async (c) => {
      const page = c.req.valid('query')
      const providers = await checkedBatch(c, (db) => providerPage(db, page))
      return c.json(providers.map((p) => shown(c, p)))
    },
  )
  .get(
    '/:id',
    doc({
      operationId: 'getIdentityProvider',
      tag: 'admin',
      summary: 'Get one upstream identity provider',
      description: 'Admins only.',
      responses: { 200: { description: 'The provider.', schema: providerSchema } },
    }),
    requires('providers.read'),
    async (c) => {
      const found = await checkedBatch(c, (db) => providerById(db, c.req.param('id')))
      if (!found) throw new ApiError('not_found', 'No such identity provider.')
      return c.json(shown(c, found))
    },
  )
  .patch(
    '/:id',
    doc({
      operationId: 'updateIdentityProvider',
      tag: 'admin',
      summary: 'Change an upstream identity provider',
      description:
        'Admins only. Disabling it, or changing its issuer, ends every sign-in and session it ' +
        'made at once.',
      responses: { 200: { description: 'The changed provider.', schema: providerSchema } },
    }),
    requires('providers.write'),
    validate('json', providerPatch),
    async (c) => {
      const id = c.req.param('id')
      const { client_secret, ...change } = c.req.valid('json')
      if (change.issuer !== undefined) checkedIssuer(c, change.issuer)
      const secret =
        client_secret === undefined
          ? {}
          : { client_secret: await encryptSecret(c.env, id, client_secret) }
      const changed = await checkedBatch(c, (db) =>
        providerUpdate(db, id, { ...change, ...secret }),
      )
      if (!changed) throw new ApiError('not_found', 'No such identity provider.')
      return c.json(shown(c, changed))
    },
  )
  .delete(
    '/:id',
    doc({
      operationId: 'deleteIdentityProvider',
      tag: 'admin',
      summary: 'Delete an upstream identity provider',
      description: 'Admins only. Its identities go with it; its sign-ins and sessions end.',
      responses: { 204: { description: 'Deleted.' } },
    }),
    requires('providers.write'),
    async (c) => {
      if (!(await checkedBatch(c, (db) => providerDeletion(db, c.req.param('id')))))
        throw new ApiError('not_found', 'No such identity provider.')
      return c.body(null, 204)
    },
  )
