// The local D1 that `wrangler dev` uses (.wrangler/state): migrate it and seed the demo users.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { withD1 } from './d1.mjs'
import './src-modules.mjs'

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
    const stdio = capture
      ? ['ignore', 'pipe', 'inherit']
      : quiet
        ? ['ignore', 'ignore', 'inherit']
        : 'inherit'
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

/** Demo users of docs/api.md §2. Inserted only if absent, so reruns keep their changes. */
export const DEMO_USERS = [
  {
    username: 'alice',
    password: 'wonderland',
    name: 'Alice Sharpe',
    email: 'asharpe@example.com',
    role: 'user',
  },
  {
    username: 'admin',
    password: 'secret',
    name: 'Administrator',
    email: 'admin@example.com',
    role: 'admin',
  },
]

/**
 * The todo CLI (scripts/todo.mjs) as a public native app (RFC 8252): the device flow, and the
 * code flow on a loopback redirect of any port (§7.3). Local only: a deployment registers its own
 * with `npm run client -- add`. Not first-party, so the person always sees what it asks for: any
 * program on the machine could claim a public client's id (RFC 8252 §8.6).
 */
export const TODO_CLI = {
  client_id: 'todo-cli',
  client_name: 'todo CLI',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: [
    'authorization_code',
    'refresh_token',
    'urn:ietf:params:oauth:grant-type:device_code',
  ],
  scope: 'read write',
  first_party: false,
}

/** Production's default cost: the demo users log in as slowly as real ones. */
const DEMO_BCRYPT_COST = 10

export async function setupLocalDatabase({ persistTo } = {}) {
  await mustRun([
    'd1',
    'migrations',
    'apply',
    'DB',
    '--local',
    ...(persistTo ? ['--persist-to', persistTo] : []),
  ])
  // The Worker's own insert (ON CONFLICT DO NOTHING) on a real binding: no SQL of our own.
  const [{ insertUser }, { hashPassword }] = await Promise.all([
    import('../src/db/users.ts'),
    import('../src/domain/passwords.ts'),
  ])
  const rows = await Promise.all(
    DEMO_USERS.map(async ({ password, ...u }) => ({
      ...u,
      passwordHash: await hashPassword(password, DEMO_BCRYPT_COST),
    })),
  )
  const { ensurePublicClient } = await import('../src/db/clients.ts')
  await withD1({ persistTo }, async (db) => {
    await db.batch(rows.map((u) => insertUser(db, crypto.randomUUID(), u)))
    await ensurePublicClient(db, TODO_CLI.client_id, TODO_CLI)
  })
  console.log(
    'dev: local D1 migrated; demo users alice/wonderland and admin/secret and the todo CLI ' +
      'client todo-cli present',
  )
}
