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
