import { Hono } from 'hono'
import { checkedBatch } from '../auth/batch'
import { requires } from '../auth/guards'
import { listAudit } from '../db/audit'
import type { AppEnv } from '../http/context'
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
    requires('audit.read'),
    validate('query', auditQuery),
    async (c) => {
      const q = c.req.valid('query')
      return c.json(await checkedBatch(c, (db) => listAudit(db, q)))
    },
  )
