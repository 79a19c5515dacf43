import { Hono } from 'hono'
import * as throttle from '../auth/throttle'
import { config } from '../config'
import { audit, requestAttribution } from '../db/audit'
import { userByUsername } from '../db/users'
import { notFound, usernameTaken } from '../domain/errors'
import type { AppEnv } from '../http/context'
import { database } from '../http/database'
import { doc } from '../http/openapi'
import { user } from '../http/schemas/responses'
import { registration } from '../http/schemas/users'
import { validate } from '../http/validate'
import { createAccount } from './accounts'

/**
 * POST /auth/register: self-registration, only when ALLOW_SIGNUP is "true". Otherwise the path
 * answers 404 to every method, as if it did not exist (not even a 405 gives it away). New users
 * get role `user` and scopes `read write`: the schema has no field to ask for more.
 *
 * Anyone may call it and each registration costs a bcrypt hash, so before hashing, in one batch,
 * it is charged to the client address (../auth/throttle.ts: 10 an hour, then 429) and the username
 * is looked up (a taken one is a 409 without a hash; the insert still settles a race).
 */
export const registerRoutes = new Hono<AppEnv>()
  .use('/register', async (c, next) => {
    if (!config(c.env).allowSignup) throw notFound()
    await next()
  })
  .post(
    '/register',
    doc({
      operationId: 'register',
      tag: 'auth',
      summary: 'Register (when ALLOW_SIGNUP is on)',
      description:
        'Role `user`, scopes `read write`. 404 on every method while self-registration is off. ' +
        'At most 10 registrations an hour from one client address (an IPv6 address by its /64). ' +
        'A taken username is a 409: the one answer that says a username exists.',
      responses: {
        201: {
          description: 'The new user.',
          schema: user,
          headers: { Location: "The new user's URL." },
        },
      },
      errors: ['not_found', 'conflict', 'too_many_attempts'],
    }),
    validate('json', registration),
    async (c) => {
      const body = c.req.valid('json')
      const db = database(c)
      const client = c.get('requester')
      const { results, charge } = await throttle.run(db, throttle.signupAttempt(client), {
        existing: userByUsername(db, body.username),
      })
      for (const lock of charge.locksStarted)
        await audit(db, client, 'lockout', { username: body.username }, lock)
      // The one answer that tells a taken username from a free one: see docs/security.md.
      if (results.existing.results.length > 0) throw usernameTaken()
      const by = requestAttribution(client, 'self-registration')
      // The registrant's own word for the email: it never links a provider's sign-in to it.
      const fields = { ...body, emailSelfSet: true }
      const created = await createAccount(db, config(c.env), fields, by)
      c.header('Location', `/users/${created.id}`)
      return c.json(created, 201)
    },
  )
