import { Hono } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError } from '../errors'
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
  .post('/register', validate('json', registration), (c) => respondCreated(c, c.req.valid('json'), 'self-registration'))
