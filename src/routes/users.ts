import { Hono } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError } from '../errors'
import { audit } from '../db/audit'
import { revokeUserSessions } from '../db/sessions'
import { setPasswordHash } from '../db/users'
import { nowSeconds } from '../auth/crypto'
import { checkPassword } from '../auth/login'
import { bearer } from '../auth/middleware'
import { doc } from '../openapi'
import { hashPassword, passwordProblem } from '../auth/passwords'
import { passwordChange } from '../schemas/auth'
import { user } from '../schemas/responses'
import { validate } from '../schemas/validate'

export const userRoutes = new Hono<AppEnv>()
  .get('/me', doc({ tag: 'users', summary: 'The current user', auth: 'bearer', responses: { 200: { description: 'You.', schema: user } } }), bearer(), (c) => c.json(c.get('user')))
  /** Any valid token may change its own user's password, but only with the current password. */
  .post('/me/password', doc({ tag: 'users', summary: 'Change your password', auth: 'bearer', description: 'Ends all your sessions.', responses: { 204: { description: 'Changed; log in again.' } }, errors: ['too_many_attempts'] }), bearer(), validate('json', passwordChange), async (c) => {
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
