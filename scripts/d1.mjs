// A D1Database look-alike for Node scripts, backed by `wrangler d1 execute --json`, so that the
// query functions in src/db/ run unchanged against the local D1 (the one `npm run dev` uses) or,
// with `remote`, the deployed one. Enough of the API for them: prepare/bind/first/all/run/batch.
import { wrangler } from './local-db.mjs'

/**
 * `wrangler d1 execute` takes SQL text, not parameters, so bound values are written into the
 * statement as SQL literals here and nowhere else. Strings are quoted with every `'` doubled,
 * which is the whole of SQLite's string escaping; anything but null, finite numbers and strings
 * without NUL is refused rather than guessed at. One pass over the original text, so a value that
 * itself contains `?1` is never substituted again.
 */
export function renderSql(sql, params) {
  return sql.replace(/\?(\d+)/g, (_, n) => {
    const i = Number(n) - 1
    if (i >= params.length) throw new Error(`no value bound for ?${n}`)
    return literal(params[i])
  })
}

function literal(value) {
  if (value === null || value === undefined) return 'NULL'
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'string' && !value.includes('\0')) return `'${value.replaceAll("'", "''")}'`
  throw new Error(`cannot write ${typeof value} as an SQL literal`)
}

/**
 * @param {{ remote?: boolean, persistTo?: string }} target the deployed D1, or the local one
 *   (in wrangler's default state directory unless `persistTo` names another).
 */
export function wranglerD1({ remote = false, persistTo } = {}) {
  const where = remote
    ? ['--remote']
    : ['--local', ...(persistTo ? ['--persist-to', persistTo] : [])]

  /** Runs the statements in order; locally wrangler runs them as one D1 batch (one transaction). */
  async function execute(statements) {
    const sql = statements.map((s) => renderSql(s.sql, s.params)).join(';\n')
    const { code, stdout } = await wrangler(
      ['d1', 'execute', 'DB', ...where, '--json', '--command', sql],
      { capture: true },
    )
    let output
    try {
      output = JSON.parse(stdout)
    } catch {
      throw new Error(`wrangler d1 execute exited with ${code} and no JSON output`)
    }
    if (code !== 0 || !Array.isArray(output))
      throw new Error(`D1 refused the statement: ${output?.error?.text ?? `exit code ${code}`}`)
    return output.map((r) => ({ results: r.results ?? [], success: r.success, meta: r.meta ?? {} }))
  }

  const statement = (sql, params = []) => ({
    sql,
    params,
    bind: (...values) => statement(sql, values),
    all: async () => (await execute([statement(sql, params)]))[0],
    run: async () => (await execute([statement(sql, params)]))[0],
    first: async (column) => {
      const row = (await execute([statement(sql, params)]))[0].results[0] ?? null
      return column === undefined ? row : (row?.[column] ?? null)
    },
  })

  return { prepare: (sql) => statement(sql), batch: (statements) => execute(statements) }
}
