import { Hono, type MiddlewareHandler } from 'hono'
import { checkedBatch } from '../../auth/batch'
import { requires } from '../../auth/guards'
import * as throttle from '../../auth/throttle'
import { config } from '../../config'
import {
  clientById,
  clientDeletion,
  clientInsertion,
  clientSecretRotation,
  clientUpdate,
  consentWithdrawal,
  insertClient,
  listAuthorizedClients,
  listClients,
  vettedClientNames,
} from '../../db/clients'
import { isMetadataClientId } from '../../domain/client-metadata'
import { ApiError, notFound } from '../../domain/errors'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'
import { errorResponse } from '../../http/errors'
import { doc } from '../../http/openapi'
import {
  authorizedClients,
  CODE_FLOW_NEEDS_REDIRECT_URI,
  client,
  clientCreate,
  clientList,
  clientListQuery,
  clientPatch,
  clientRegistration,
  clientSecret,
  clientWithSecret,
  registeredClient,
} from '../../http/schemas/clients'
import { validate } from '../../http/validate'

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
    requires('clients.write'),
    validate('json', clientCreate),
    async (c) => {
      const body = c.req.valid('json')
      const { client, client_secret } = await checkedBatch(c, (db) => clientInsertion(db, body))
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
    requires('clients.read'),
    validate('query', clientListQuery),
    async (c) => {
      const page = c.req.valid('query')
      return c.json(await checkedBatch(c, (db) => listClients(db, page)))
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
    requires('clients.read'),
    async (c) => {
      const found = await checkedBatch(c, (db) => clientById(db, c.req.param('client_id')))
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
        'good. `vetted: true` vets a client anyone registered (one way). A client of the ' +
        '`authorization_code` grant keeps at least one redirect URI (400 otherwise).',
      responses: { 200: { description: 'The changed client.', schema: client } },
    }),
    requires('clients.write'),
    validate('json', clientPatch),
    async (c) => {
      const patch = c.req.valid('json')
      // Migration 0009's triggers refuse it in the UPDATE too; this says why.
      if ((patch.vetted || patch.first_party) && isMetadataClientId(c.req.param('client_id')))
        throw new ApiError(
          'invalid_request',
          'A Client ID Metadata Document client is never vetted or first-party.',
        )
      const changed = await checkedBatch(c, (db) =>
        clientUpdate(db, c.req.param('client_id'), patch),
      )
      if (!changed) throw notFound('client')
      if (changed === 'needs_redirect_uri')
        throw new ApiError('invalid_request', 'The client would have no redirect URI.', {
          issues: [{ path: 'redirect_uris', message: CODE_FLOW_NEEDS_REDIRECT_URI }],
        })
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
    requires('clients.write'),
    async (c) => {
      const deleted = await checkedBatch(c, (db) => clientDeletion(db, c.req.param('client_id')))
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
    requires('clients.write'),
    async (c) => {
      const clientId = c.req.param('client_id')
      const rotated = await checkedBatch(c, (db) => clientSecretRotation(db, clientId))
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
 * A name as a person reads it, for telling names apart (RFC 7591 §5): NFKC (full-width and other
 * compatibility forms), then case folded (upper then lower case, which folds "ß" to "ss" as full
 * case folding does), runs of white space as one space. Lookalikes across scripts (Cyrillic "о"
 * for Latin "o") remain: the pages show where an unvetted app sends the person, and that it is
 * unverified.
 */
export const nameKey = (name: string) =>
  name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC').replace(/\s+/g, ' ').trim()

/**
 * POST /auth/clients: RFC 7591 dynamic registration of public code-flow clients, only when
 * ALLOW_CLIENT_REGISTRATION is "true"; otherwise 404 to every method. Charged per client address
 * before anything is written (10 an hour, then 429), except from this machine (local
 * development, ../auth/throttle.ts). The client is not vetted: no administrator looked at it
 * (migration 0007), and it may not take a vetted client's name (RFC 7591 §5).
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
        '`none`), scope at most `read write`, never first-party, never vetted. The name of an ' +
        'administrator’s client (compared after NFKC and case folding) is refused. Errors are ' +
        '`invalid_redirect_uri` and `invalid_client_metadata` (RFC 7591 §3.2.2). 404 on every ' +
        'method while registration is off. At most 10 registrations an hour from one client ' +
        'address (local development, a loopback address, is not counted).',
      responses: { 201: { description: 'The registered client.', schema: registeredClient } },
      errors: ['not_found', 'invalid_redirect_uri', 'invalid_client_metadata', 'too_many_attempts'],
    }),
    registrationErrors,
    validate('json', clientRegistration),
    async (c) => {
      const body = c.req.valid('json')
      const db = database(c)
      // Charged before anything is written; 429 while the address (an IPv6 one by its /64) is
      // locked. From this machine, or without an address, there is nothing to count.
      const attempt = throttle.clientRegistrationAttempt(c.get('requester'))
      const { results } = await throttle.run(db, attempt, { names: vettedClientNames(db) })
      const key = nameKey(body.client_name)
      const taken = (results.names.results as { client_name: string }[]).some(
        (r) => nameKey(r.client_name) === key,
      )
      if (taken)
        throw new ApiError('invalid_client_metadata', 'The client metadata is invalid.', {
          issues: [
            {
              path: 'client_name',
              message: 'An app of this service has this name: choose another.',
            },
          ],
        })
      const { client } = await insertClient(db, {
        client_name: body.client_name,
        redirect_uris: body.redirect_uris,
        grant_types: body.grant_types,
        scope: body.scope,
        token_endpoint_auth_method: 'none',
        first_party: false,
        vetted: false,
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
    requires('self'),
    async (c) => c.json(await checkedBatch(c, (db, actor) => listAuthorizedClients(db, actor.id))),
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
    requires('self'),
    async (c) => {
      const done = await checkedBatch(c, (db, actor) =>
        consentWithdrawal(db, actor.id, c.req.param('client_id')),
      )
      if (!done) throw new ApiError('not_found', 'You have not authorized that app.')
      return c.body(null, 204)
    },
  )
