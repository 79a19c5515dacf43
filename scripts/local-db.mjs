// The local D1 that `wrangler dev` uses (.wrangler/state): migrate it and seed the demo users.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import bcrypt from 'bcryptjs'

const require = createRequire(import.meta.url)
const WRANGLER = join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js')

/**
 * Runs wrangler on this Node (the project's own, ≥ 22, when started through npm) and resolves to
 * its exit code. `capture` collects stdout instead, resolving to `{ code, stdout }`; stdin is then
 * not shared, so a caller that read the terminal keeps it.
 */
export function wrangler(args, { quiet = false, capture = false } = {}) {
  return new Promise((resolve, reject) => {
    // The app never reads request.cf, so don't make wrangler fetch one (it fails offline, noisily).
    const env = { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env }
    const stdio = capture ? ['ignore', 'pipe', 'inherit'] : quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit'
    const child = spawn(process.execPath, [WRANGLER, ...args], { env, stdio })
    let stdout = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk) => (stdout += chunk))
    child.on('error', reject)
    child.on('close', (exit, signal) => {
      const code = exit ?? (signal ? 1 : 0)
      resolve(capture ? { code, stdout } : code)
    })
  })
}

async function mustRun(args) {
  const code = await wrangler(args, { quiet: true })
  if (code !== 0) throw new Error(`wrangler ${args.join(' ')} exited with ${code}`)
}

/** Demo users of ../shared/API.md §2. Inserted only if absent, so reruns keep their changes. */
export const DEMO_USERS = [
  { username: 'alice', password: 'wonderland', name: 'Alice Sharpe', email: 'asharpe@example.com', role: 'user' },
  { username: 'admin', password: 'secret', name: 'Administrator', email: 'admin@example.com', role: 'admin' },
]

const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`

export async function setupLocalDatabase({ persistTo } = {}) {
  const persist = persistTo ? ['--persist-to', persistTo] : []
  await mustRun(['d1', 'migrations', 'apply', 'DB', '--local', ...persist])
  const now = new Date().toISOString()
  const rows = DEMO_USERS.map((u) =>
    [crypto.randomUUID(), u.username, bcrypt.hashSync(u.password, 10), u.name, u.email, u.role, 'read write', 0, now, now].map((v) => (typeof v === 'number' ? v : sqlString(v))).join(', '),
  )
  const sql = rows
    .map((values) => `INSERT INTO users (id, username, password_hash, name, email, role, scopes, disabled, created_at, updated_at) VALUES (${values}) ON CONFLICT (username) DO NOTHING;`)
    .join('\n')
  const dir = mkdtempSync(join(tmpdir(), 'todo-auth-seed-'))
  try {
    writeFileSync(join(dir, 'seed.sql'), sql)
    await mustRun(['d1', 'execute', 'DB', '--local', ...persist, '--file', join(dir, 'seed.sql')])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  console.log('dev: local D1 migrated; demo users alice/wonderland and admin/secret present')
}
