import { Hono } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError } from '../errors'
import { audit } from '../db/audit'
import { revokeUserSessions } from '../db/sessions'
import { setPasswordHash } from '../db/users'
import { nowSeconds } from '../auth/crypto'
import { checkPassword } from '../auth/login'
import { bearer } from '../auth/middleware'
import { hashPassword, passwordProblem } from '../auth/passwords'
import { passwordChange } from '../schemas/auth'
import { validate } from '../schemas/validate'

export const userRoutes = new Hono<AppEnv>()
  .get('/me', bearer(), (c) => c.json(c.get('user')))
  /** Any valid token may change its own user's password, but only with the current password. */
  .post('/me/password', bearer(), validate('json', passwordChange), async (c) => {
    const user = c.get('user')
    const { current_password, new_password } = c.req.valid('json')
    const problem = passwordProblem(new_password)
    if (problem) throw new ApiError('invalid_request', 'The new password is not acceptable.', { issues: [{ path: 'new_password', message: problem }] })
    if (!(await checkPassword(c, user.username, current_password))) {
      await audit(c, 'login_failure', { username: user.username, userId: user.id }, 'password change')
      throw new ApiError('invalid_request', 'The current password is incorrect.', { issues: [{ path: 'current_password', message: 'Incorrect.' }] })
    }
    const hash = await hashPassword(new_password, config(c.env).bcryptCost)
    await c.env.DB.batch([setPasswordHash(c.env.DB, user.id, hash), revokeUserSessions(c.env.DB, user.id, nowSeconds())])
    await audit(c, 'password_change', { username: user.username, userId: user.id })
    return c.body(null, 204)
  })
