import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { basic } from '../auth/middleware'

/** The chapter's HTTP Basic demo, checked against the users table. */
export const profileRoutes = new Hono<AppEnv>().get('/', basic(), (c) => {
  const { username } = c.get('user')
  return c.json({ message: `Hello, ${username}!`, username })
})
