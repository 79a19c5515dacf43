import { Hono } from 'hono'
import type { AppEnv } from '../config'
import { listAudit } from '../db/audit'
import { allow, authorized } from '../auth/middleware'
import { doc } from '../http/openapi'
import { auditList } from '../http/schemas/responses'
import { auditQuery } from '../http/schemas/users'
import { validate } from '../http/validate'

export const adminRoutes = new Hono<AppEnv>()
  /** The security events, newest first; `username` narrows to one account. */
  .get(
    '/audit',
    doc({
      operationId: 'listAuditEvents',
      tag: 'users',
      summary: 'The audit trail, newest first',
      description: 'Admins only. `username` narrows it to one account (any case).',
      responses: { 200: { description: 'The events.', schema: auditList } },
    }),
    allow('audit.read'),
    validate('query', auditQuery),
    async (c) => {
      const q = c.req.valid('query')
      return c.json(await authorized(c, (db) => listAudit(db, q)))
    },
  )
