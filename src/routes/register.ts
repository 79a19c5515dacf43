import { Hono } from 'hono'
import { config, type AppEnv } from '../env'
import { notFound, usernameTaken } from '../errors'
import { audit } from '../db/audit'
import { userByUsername } from '../db/users'
import { admit, charge, locksStarted, signupAttempt } from '../auth/throttle'
import { doc } from '../openapi'
import { user } from '../schemas/responses'
import { registration } from '../schemas/users'
import { validate } from '../schemas/validate'
import { respondCreated } from './users'

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
        'At most 10 registrations an hour from one client address.',
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
      const db = c.env.DB
      const attempt = signupAttempt(c)
      const [existing, ...charging] = await db.batch([
        userByUsername(db, body.username),
        ...(attempt ? charge(db, attempt) : []),
      ])
      if (attempt) {
        for (const lock of locksStarted(attempt, admit(attempt, charging)))
          await audit(c, 'lockout', { username: body.username }, lock)
      }
      if (existing?.results.length) throw usernameTaken()
      return respondCreated(c, body, 'self-registration')
    },
  )
