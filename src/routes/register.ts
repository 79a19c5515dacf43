import { Hono } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError } from '../errors'
import { doc } from '../openapi'
import { user } from '../schemas/responses'
import { registration } from '../schemas/users'
import { validate } from '../schemas/validate'
import { respondCreated } from './users'

/**
 * POST /auth/register: self-registration, only when ALLOW_SIGNUP is "true". Otherwise the path
 * answers 404 to every method, as if it did not exist (not even a 405 gives it away). New users
 * get role `user` and scopes `read write`: the schema has no field to ask for more.
 */
export const registerRoutes = new Hono<AppEnv>()
  .use('/register', async (c, next) => {
    if (!config(c.env).allowSignup) throw new ApiError('not_found', 'No such resource.')
    await next()
  })
  .post('/register', doc({ tag: 'auth', summary: 'Register (when ALLOW_SIGNUP is on)', description: 'Role `user`, scopes `read write`. 404 on every method while self-registration is off.', responses: { 201: { description: 'The new user.', schema: user, headers: { Location: "The new user's URL." } } }, errors: ['not_found', 'conflict'] }), validate('json', registration), (c) => respondCreated(c, c.req.valid('json'), 'self-registration'))
