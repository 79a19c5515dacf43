import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { listAudit } from '../db/audit'
import { allow } from '../auth/middleware'
import { auditQuery } from '../schemas/users'
import { validate } from '../schemas/validate'

export const adminRoutes = new Hono<AppEnv>()
  /** The security events, newest first; `username` narrows to one account. */
  .get('/audit', allow('audit.read'), validate('query', auditQuery), async (c) => c.json(await listAudit(c.env.DB, c.req.valid('query'))))
