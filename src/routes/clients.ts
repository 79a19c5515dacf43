import { Hono, type MiddlewareHandler } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError, errorResponse, notFound } from '../errors'
import {
  clientDeletion,
  clientInsertion,
  clientSecretRotation,
  clientUpdate,
  consentWithdrawal,
  clientById,
  insertClient,
  listAuthorizedClients,
  listClients,
} from '../db/clients'
import * as throttle from '../auth/throttle'
import { allow, authorized } from '../auth/middleware'
import { doc } from '../openapi'
import {
  authorizedClients,
  client,
  clientCreate,
  clientList,
  clientListQuery,
  clientPatch,
  clientRegistration,
  clientSecret,
  clientWithSecret,
  registeredClient,
} from '../schemas/clients'
import { validate } from '../schemas/validate'

/** GET/POST/PATCH/DELETE /admin/clients…: the client registry, for admins (RFC 7591 shapes). */
export const adminClientRoutes = new Hono<AppEnv>()
  .post(
    '/',
    doc({
      operationId: 'createClient',
      tag: 'clients',
      summary: 'Register a client',
      description:
        'Admins only. `token_endpoint_auth_method` `none` makes a public client; the others a ' +
        'confidential one, whose `client_secret` is in this answer and never again.',
      responses: {
        201: {
          description: 'The new client.',
          schema: clientWithSecret,
          headers: { Location: "The client's URL." },
        },
      },
    }),
    allow('clients.write'),
    validate('json', clientCreate),
    async (c) => {
      const body = c.req.valid('json')
      const { client, client_secret } = await authorized(c, (db) => clientInsertion(db, body))
      c.header('Location', `/admin/clients/${client.client_id}`)
      return c.json(
        { ...client, ...(client_secret && { client_secret, client_secret_expires_at: 0 }) },
        201,
      )
    },
  )
  .get(
    '/',
    doc({
      operationId: 'listClients',
      tag: 'clients',
      summary: 'List clients, oldest first',
      description: 'Admins only.',
      responses: { 200: { description: 'The clients.', schema: clientList } },
    }),
    allow('clients.read'),
    validate('query', clientListQuery),
    async (c) => {
      const page = c.req.valid('query')
      return c.json(await authorized(c, (db) => listClients(db, page)))
    },
  )
  .get(
    '/:client_id',
    doc({
      operationId: 'getClient',
      tag: 'clients',
      summary: 'Get one client',
      description: 'Admins only.',
      responses: { 200: { description: 'The client.', schema: client } },
    }),
    allow('clients.read'),
    async (c) => {
      const found = await authorized(c, (db) => clientById(db, c.req.param('client_id')))
      if (!found) throw notFound('client')
      return c.json(found)
    },
  )
  .patch(
    '/:client_id',
    doc({
      operationId: 'updateClient',
      tag: 'clients',
      summary: 'Change a client',
      description:
        'Admins only. Disabling ends every session issued to the client and drops its unused ' +
        'codes at once; disabling, or leaving out `client_credentials`, ends its own tokens for ' +
        'good.',
      responses: { 200: { description: 'The changed client.', schema: client } },
    }),
    allow('clients.write'),
    validate('json', clientPatch),
    async (c) => {
      const patch = c.req.valid('json')
      const changed = await authorized(c, (db) => clientUpdate(db, c.req.param('client_id'), patch))
      if (!changed) throw notFound('client')
      return c.json(changed)
    },
  )
  .delete(
    '/:client_id',
    doc({
      operationId: 'deleteClient',
      tag: 'clients',
      summary: 'Delete a client',
      description: 'Admins only. Its sessions, codes and consents go with it.',
      responses: { 204: { description: 'Deleted; every token issued to it stops working.' } },
    }),
    allow('clients.write'),
    async (c) => {
      const deleted = await authorized(c, (db) => clientDeletion(db, c.req.param('client_id')))
      if (!deleted) throw notFound('client')
      return c.body(null, 204)
    },
  )
  .post(
    '/:client_id/secret',
    doc({
      operationId: 'rotateClientSecret',
      tag: 'clients',
      summary: "Rotate a confidential client's secret",
      description:
        'Admins only. The old secret stops working at once, and so do the client’s own ' +
        'tokens (client credentials); users’ sessions stay.',
      responses: { 200: { description: 'The new secret, shown once.', schema: clientSecret } },
      errors: ['conflict'],
    }),
    allow('clients.write'),
    async (c) => {
      const clientId = c.req.param('client_id')
      const rotated = await authorized(c, (db) => clientSecretRotation(db, clientId))
      if (rotated === null) throw notFound('client')
      if (rotated === 'public')
        throw new ApiError('conflict', 'A public client has no secret to rotate.')
      return c.json({ client_id: clientId, ...rotated, client_secret_expires_at: 0 })
    },
  )

/**
 * RFC 7591 §3.2.2: a registration's metadata errors are `invalid_redirect_uri` or
 * `invalid_client_metadata`, not our generic `invalid_request`.
 */
const registrationErrors: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next()
  const err = c.error
  if (!(err instanceof ApiError) || err.code !== 'invalid_request' || !err.extra.issues) return
  const redirect = err.extra.issues.some((i) => i.path.startsWith('redirect_uris'))
  c.res = errorResponse(
    new ApiError(
      redirect ? 'invalid_redirect_uri' : 'invalid_client_metadata',
      redirect ? 'A redirect URI is not allowed.' : 'The client metadata is invalid.',
      { issues: err.extra.issues },
    ),
  )
}

/**
 * POST /auth/clients: RFC 7591 dynamic registration of public code-flow clients, only when
 * ALLOW_CLIENT_REGISTRATION is "true"; otherwise 404 to every method. Charged per client address
 * before anything is written (10 an hour, then 429).
 */
export const registrationRoutes = new Hono<AppEnv>()
  .use('/clients', async (c, next) => {
    if (!config(c.env).allowClientRegistration) throw notFound()
    await next()
  })
  .post(
    '/clients',
    doc({
      operationId: 'registerClient',
      tag: 'clients',
      summary: 'Dynamic client registration (RFC 7591; when ALLOW_CLIENT_REGISTRATION is on)',
      description:
        'Public clients of the authorization code flow only (`token_endpoint_auth_method` ' +
        '`none`), scope at most `read write`, never first-party. Errors are ' +
        '`invalid_redirect_uri` and `invalid_client_metadata` (RFC 7591 §3.2.2). 404 on every ' +
        'method while registration is off. At most 10 registrations an hour from one client ' +
        'address.',
      responses: { 201: { description: 'The registered client.', schema: registeredClient } },
      errors: ['not_found', 'invalid_redirect_uri', 'invalid_client_metadata', 'too_many_attempts'],
    }),
    registrationErrors,
    validate('json', clientRegistration),
    async (c) => {
      const body = c.req.valid('json')
      const db = c.env.DB
      // Charged before anything is written; 429 while the address (an IPv6 one by its /64) is
      // locked. Without an address (local development) there is nothing to count.
      const attempt = throttle.clientRegistrationAttempt(c.get('client'))
      if (attempt.keys.length > 0) await throttle.run(db, attempt, {})
      const { client } = await insertClient(db, {
        client_name: body.client_name,
        redirect_uris: body.redirect_uris,
        grant_types: body.grant_types,
        scope: body.scope,
        token_endpoint_auth_method: 'none',
        first_party: false,
      })
      return c.json(
        {
          client_id: client.client_id,
          client_id_issued_at: Math.floor(Date.parse(client.created_at) / 1000),
          client_name: client.client_name,
          redirect_uris: client.redirect_uris,
          grant_types: client.grant_types,
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
          scope: client.scope,
        },
        201,
      )
    },
  )

/** GET /users/me/clients, DELETE /users/me/clients/{client_id}: the apps you have authorized. */
export const myClientRoutes = new Hono<AppEnv>()
  .get(
    '/me/clients',
    doc({
      operationId: 'listAuthorizedClients',
      tag: 'users',
      summary: 'The apps you have authorized',
      description: 'First-party apps need no consent and are not listed.',
      responses: { 200: { description: 'Your consents.', schema: authorizedClients } },
    }),
    allow('self'),
    async (c) => c.json(await authorized(c, (db, actor) => listAuthorizedClients(db, actor.id))),
  )
  .delete(
    '/me/clients/:client_id',
    doc({
      operationId: 'withdrawConsent',
      tag: 'users',
      summary: 'Withdraw an app’s access',
      description:
        'Forgets your consent and ends every session of that app for you at once; ' +
        '404 when there was neither.',
      responses: { 204: { description: 'Withdrawn.' } },
    }),
    allow('self'),
    async (c) => {
      const done = await authorized(c, (db, actor) =>
        consentWithdrawal(db, actor.id, c.req.param('client_id')),
      )
      if (!done) throw new ApiError('not_found', 'You have not authorized that app.')
      return c.body(null, 204)
    },
  )
