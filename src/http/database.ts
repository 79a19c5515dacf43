import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv } from './context'

/** Carries a D1 bookmark to the client and back; the name Cloudflare's own examples use. */
export const BOOKMARK_HEADER = 'x-d1-bookmark'

/**
 * A bookmark as D1 writes them: four groups of hex digits, e.g.
 * 00000085-0000024c-00004c6d-8e61….
 */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/

/**
 * D1 read replication through the Sessions API: all of a request's queries run in one D1 session,
 * so reads may be served by replicas without a client ever reading older data than it has seen.
 *
 * - A read (GET, HEAD) that sends back a bookmark in `x-d1-bookmark` continues it, so it may be
 *   served by a replica that has caught up with that point.
 * - Every other request starts on the primary: a read without a bookmark (a client that does not
 *   play along must still see its own login and every revocation — correct by default, replicas
 *   by opt-in), and every write, bookmark or not, so a revoked token cannot write by presenting an
 *   old bookmark that steers its Bearer check to a lagging replica.
 * - A successful response carries the session's latest bookmark, for the client's next request.
 *   Errors carry none: they wrote nothing the client will want to read back, and a bookmark is a
 *   position in the database's history that moves with every write, so it would make otherwise
 *   identical failures (an unknown user, a wrong password) differ.
 *
 * A malformed bookmark is treated as absent, not refused: it is a consistency hint, and handing an
 * arbitrary string to D1 would turn a client's mistake into our 500.
 *
 * The request's database is `c.var.db`, read through `database(c)`: `c.env.DB` stays the
 * binding itself, which is the primary. Database-wide jobs (the purge cron) use the binding too.
 *
 * Authentication never reads a replica: see `primaryDatabase`.
 */
const BEARER = /^bearer /i

export function openDatabase(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const binding = c.env.DB
    // A Bearer request reads and writes the primary, in the batch of its session check
    // (src/auth/batch.ts `checkedBatch`): no D1 session, no bookmark (docs/performance.md).
    if (BEARER.test(c.req.header('Authorization') ?? '')) {
      c.set('db', binding)
      return next()
    }
    const sent = c.req.header(BOOKMARK_HEADER)
    const reading = c.req.method === 'GET' || c.req.method === 'HEAD'
    const start = reading && sent !== undefined && BOOKMARK.test(sent) ? sent : 'first-primary'
    // Opened on first use: a request that never touches D1 (the OpenAPI document) needs none,
    // and sends no bookmark. The routes use `prepare` and `batch` alone.
    let session: D1DatabaseSession | undefined
    const open = () => (session ??= binding.withSession(start))
    c.set('db', {
      prepare: (query: string) => open().prepare(query),
      batch: (statements: D1PreparedStatement[]) => open().batch(statements),
    } as D1Database)
    await next()
    const bookmark = session?.getBookmark()
    if (bookmark && c.res.ok) c.res.headers.set(BOOKMARK_HEADER, bookmark)
  }
}

/**
 * The request's database (see `openDatabase`). A Bearer route on the hot path has none until its
 * token is checked: it reaches D1 through `checkedBatch` (src/auth/batch.ts), which hands it over.
 */
export function database(c: Context<AppEnv>): D1Database {
  const found = c.var.db
  if (!found) throw new Error('a Bearer route used D1 before checkedBatch() checked its token')
  return found
}

/**
 * Where authentication reads (the Bearer session check, the password check and its lock state):
 * the primary, always. A bookmark only promises data no older than the client's own writes; a
 * logout, a revocation, a disabled account or a lockout is someone else's write, and must count on
 * the very next request (docs/api.md §3, §5) even when that request's data comes from a replica.
 * A query on the binding itself, outside any session, goes to the primary.
 */
export const primaryDatabase = (c: Context<AppEnv>): D1Database => c.env.DB
