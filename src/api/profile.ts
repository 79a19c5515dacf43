import { Hono } from 'hono'
import { basic } from '../auth/basic'
import type { AppEnv } from '../http/context'
import { doc } from '../http/openapi'
import { greeting } from '../http/schemas/responses'

/** The chapter's HTTP Basic demo, checked against the users table. */
export const profileRoutes = new Hono<AppEnv>().get(
  '/',
  doc({
    operationId: 'getProfile',
    tag: 'users',
    summary: 'Greet the HTTP Basic user',
    responses: { 200: { description: 'A greeting.', schema: greeting } },
  }),
  basic(),
  (c) => {
    const { username } = c.get('user')
    return c.json({ message: `Hello, ${username}!`, username })
  },
)
