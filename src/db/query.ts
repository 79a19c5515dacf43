/**
 * Statements to send to D1 in one batch (one round trip, one transaction) and how to read their
 * results: what a route hands to `authorized` (src/auth/middleware.ts), which puts the Bearer
 * session check in front of them. `read` gets the results of these statements only, in order.
 */
export type Query<T> = { statements: D1PreparedStatement[]; read: (results: D1Result[]) => T }

/** Runs a query on its own, for callers outside a Bearer request (seeding, the CLI). */
export const run = async <T>(db: D1Database, query: Query<T>): Promise<T> =>
  query.read(await db.batch(query.statements))

/** The rows of result `i`. */
export const rows = <R>(results: D1Result[], i: number): R[] => (results[i]?.results ?? []) as R[]

/** A query of one statement whose rows are mapped with `map`. */
export const allRows = <R, T>(stmt: D1PreparedStatement, map: (row: R) => T): Query<T[]> => ({
  statements: [stmt],
  read: (results) => rows<R>(results, 0).map(map),
})

/** A query of one statement whose first row, if any, is mapped with `map`. */
export const firstRow = <R, T>(stmt: D1PreparedStatement, map: (row: R) => T): Query<T | null> => ({
  statements: [stmt],
  read: (results) => {
    const row = rows<R>(results, 0)[0]
    return row === undefined ? null : map(row)
  },
})

/**
 * SQL for a guard: an expression that raises an SQL error ("malformed JSON", from json() of a
 * string that is not JSON) unless `condition` holds when the statement runs. D1 runs a batch as
 * one transaction and an error rolls it back, so a guard at the head of a batch lets nothing
 * after it write unless its condition held (docs/architecture.md, "The batch and its guard").
 * `condition` must depend on the row, so that SQLite cannot evaluate it up front; `reason` is
 * what the error says, for the log.
 */
export const abortUnless = (condition: string, reason: string): string =>
  `json(CASE WHEN ${condition} THEN 'true' ELSE '${reason.replaceAll("'", "''")}' END)`

/** True when D1 answers at all: the health check. */
export const ping = async (db: D1Database): Promise<void> => {
  await db.prepare('SELECT 1').first()
}
