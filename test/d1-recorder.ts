/**
 * Wraps a D1 binding so that a test can see every round trip the Worker makes: each call of
 * first/all/run/raw on a statement and each batch is one trip to the database (a prepare or a
 * bind is not). Statements are passed through unchanged, so the Worker still talks to the real D1.
 */
export type D1Recorder = {
  db: D1Database
  /** One entry per round trip: the SQL of its statement(s). */
  trips: string[][]
  /** What each withSession call was given: a constraint or a bookmark. */
  sessions: (string | undefined)[]
}

const EXECUTE = new Set(['first', 'all', 'run', 'raw'])

export function recordD1(real: D1Database): D1Recorder {
  const trips: string[][] = []
  const sessions: (string | undefined)[] = []
  // A batch must receive the real statements: workerd checks their type.
  const unwrapped = new WeakMap<object, { stmt: D1PreparedStatement; sql: string }>()

  const wrapStatement = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        if (prop === 'bind')
          return (...values: unknown[]) => wrapStatement(target.bind(...values), sql)
        const value = Reflect.get(target, prop, target)
        if (typeof prop === 'string' && EXECUTE.has(prop)) {
          return (...args: unknown[]) => {
            trips.push([sql])
            return (value as (...a: unknown[]) => unknown).apply(target, args)
          }
        }
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    unwrapped.set(proxy, { stmt, sql })
    return proxy
  }

  const wrapDatabase = <T extends D1Database | D1DatabaseSession>(db: T): T =>
    new Proxy(db, {
      get(target, prop) {
        if (prop === 'prepare') return (sql: string) => wrapStatement(target.prepare(sql), sql)
        if (prop === 'batch') {
          return (statements: D1PreparedStatement[]) => {
            const real = statements.map((s) => {
              const found = unwrapped.get(s)
              if (!found)
                throw new Error('a batched statement was prepared outside the recorded binding')
              return found
            })
            trips.push(real.map((r) => r.sql))
            return target.batch(real.map((r) => r.stmt))
          }
        }
        if (prop === 'withSession') {
          return (constraintOrBookmark?: string) => {
            sessions.push(constraintOrBookmark)
            return wrapDatabase((target as D1Database).withSession(constraintOrBookmark))
          }
        }
        const value = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })

  return { db: wrapDatabase(real), trips, sessions }
}
