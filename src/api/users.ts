import { Hono } from 'hono'
import { checkedBatch, checkToken } from '../auth/batch'
import { actorOf, bearerUsername } from '../auth/bearer'
import { requires } from '../auth/guards'
import { checkPassword } from '../auth/login'
import { config } from '../config'
import { changeUser, userChange, userRemoval } from '../db/accounts'
import { requestAttribution } from '../db/audit'
import { listUsers, userById } from '../db/users'
import { ApiError, notFound } from '../domain/errors'
import { hashPassword } from '../domain/passwords'
import { mayAssign } from '../domain/policy'
import type { AppEnv } from '../http/context'
import { database, primaryDatabase } from '../http/database'
import { doc } from '../http/openapi'
import { passwordChange } from '../http/schemas/auth'
import { userList, user as userSchema } from '../http/schemas/responses'
import { userCreate, userListQuery, userPatch } from '../http/schemas/users'
import { validate } from '../http/validate'
import { applied, createAccount } from './accounts'

/** GET /users/me and the password change for everyone; the rest for admins (domain/policy.ts). */
export const userRoutes = new Hono<AppEnv>()
  .get(
    '/me',
    doc({
      operationId: 'getCurrentUser',
      tag: 'users',
      summary: 'The current user',
      responses: { 200: { description: 'You.', schema: userSchema } },
    }),
    requires('self'),
    async (c) => {
      await checkToken(c)
      return c.json(c.get('user'))
    },
  )
  /** Any live session may change its own user's password, but only with the current password. */
  .post(
    '/me/password',
    doc({
      operationId: 'changePassword',
      tag: 'users',
      summary: 'Change your password',
      description: 'Ends all your sessions.',
      responses: { 204: { description: 'Changed; log in again.' } },
      errors: ['too_many_attempts'],
    }),
    requires('self'),
    validate('json', passwordChange),
    async (c) => {
      // Checks a password: the session check first, on its own (docs/performance.md).
      await checkToken(c)
      const user = c.get('user')
      const { current_password, new_password } = c.req.valid('json')
      const credentials = { username: user.username, password: current_password }
      const cfg = config(c.env)
      if (!(await checkPassword(primaryDatabase(c), cfg, c.get('requester'), credentials))) {
        throw new ApiError('invalid_request', 'The current password is incorrect.', {
          issues: [{ path: 'current_password', message: 'Incorrect.' }],
        })
      }
      const passwordHash = await hashPassword(new_password, cfg.bcryptCost)
      applied(
        await changeUser(
          database(c),
          user.id,
          { passwordHash },
          requestAttribution(c.get('requester')),
          'password_change',
        ),
      )
      return c.body(null, 204)
    },
  )

  .post(
    '/',
    doc({
      operationId: 'createUser',
      tag: 'users',
      summary: 'Create a user',
      description: 'Admins only. Role `user` and scopes `read write` unless given.',
      responses: {
        201: {
          description: 'The new user.',
          schema: userSchema,
          headers: { Location: "The new user's URL." },
        },
      },
      errors: ['conflict'],
    }),
    requires('users.write'),
    validate('json', userCreate),
    async (c) => {
      await checkToken(c)
      const by = requestAttribution(c.get('requester'), `by ${c.get('user').username}`)
      const user = await createAccount(database(c), config(c.env), c.req.valid('json'), by)
      c.header('Location', `/users/${user.id}`)
      return c.json(user, 201)
    },
  )
  .get(
    '/',
    doc({
      operationId: 'listUsers',
      tag: 'users',
      summary: 'List users, oldest first',
      description: 'Admins only.',
      responses: { 200: { description: 'The users.', schema: userList } },
    }),
    requires('users.read'),
    validate('query', userListQuery),
    async (c) => {
      const page = c.req.valid('query')
      return c.json(await checkedBatch(c, (db) => listUsers(db, page)))
    },
  )
  .get(
    '/:id',
    doc({
      operationId: 'getUser',
      tag: 'users',
      summary: 'Get one user',
      description: 'Admins only.',
      responses: { 200: { description: 'The user.', schema: userSchema } },
    }),
    requires('users.read'),
    async (c) => {
      const user = await checkedBatch(c, (db) => userById(db, c.req.param('id')))
      if (!user) throw notFound('user')
      return c.json(user)
    },
  )
  .patch(
    '/:id',
    doc({
      operationId: 'updateUser',
      tag: 'users',
      summary: 'Change a user',
      description:
        'Admins only; nobody raises their own role or scopes, nor sets their own password here ' +
        '(that is `POST /users/me/password`, with the current one). A new password or disabling ' +
        'ends all their sessions. 409 when it would leave no enabled admin with the `write` scope.',
      responses: { 200: { description: 'The changed user.', schema: userSchema } },
      errors: ['forbidden', 'conflict'],
    }),
    requires('users.write'),
    validate('json', userPatch),
    async (c) => {
      const { password, ...fields } = c.req.valid('json')
      const id = c.req.param('id')
      const actor = actorOf(c)
      // A stolen admin token must not become a permanent takeover: one's own password changes
      // only with the current one.
      if (password !== undefined && id === actor.id)
        throw new ApiError(
          'forbidden',
          'Change your own password with POST /users/me/password, giving the current one.',
        )
      // Assigning a role or scopes is decided on the target's row, and a new password costs a
      // bcrypt hash: both read the row first, with the session check (two round trips).
      if (fields.role !== undefined || fields.scopes !== undefined || password !== undefined) {
        const target = await checkedBatch(c, (db) => userById(db, id))
        if (!target) throw notFound('user')
        if (!mayAssign(actorOf(c), target, fields))
          throw new ApiError('forbidden', 'Nobody may raise their own role or scopes.')
      }
      const passwordHash =
        password === undefined ? undefined : await hashPassword(password, config(c.env).bcryptCost)
      // The audit names the fields, never their values: one of them may be a password.
      const what = [...Object.keys(fields), ...(passwordHash ? ['password'] : [])].join(', ')
      const by = requestAttribution(c.get('requester'), `by ${bearerUsername(c)}: ${what}`)
      const change = { ...fields, passwordHash }
      return c.json(applied(await checkedBatch(c, (db) => userChange(db, id, change, by))))
    },
  )
  .delete(
    '/:id',
    doc({
      operationId: 'deleteUser',
      tag: 'users',
      summary: 'Delete a user and their todos',
      description: 'Admins only. 409 for the last enabled admin.',
      responses: { 204: { description: 'Deleted, with their todos and sessions.' } },
      errors: ['conflict'],
    }),
    requires('users.write'),
    async (c) => {
      const by = requestAttribution(c.get('requester'), `by ${bearerUsername(c)}`)
      applied(await checkedBatch(c, (db) => userRemoval(db, c.req.param('id'), by)))
      return c.body(null, 204)
    },
  )
