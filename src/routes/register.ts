import { Hono } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError } from '../errors'
import { registration } from '../schemas/users'
import { validate } from '../schemas/validate'
import { respondCreated } from './users'

/**
 * POST /auth/register: self-registration, only when ALLOW_SIGNUP is "true". Otherwise the route
 * answers as if it did not exist. New users get role `user` and scopes `read write` (the defaults).
 */
export const registerRoutes = new Hono<AppEnv>().post(
  '/register',
  async (c, next) => {
    if (!config(c.env).allowSignup) throw new ApiError('not_found', 'No such resource.')
    await next()
  },
  validate('json', registration),
  (c) => respondCreated(c, c.req.valid('json'), 'self-registration'),
)
