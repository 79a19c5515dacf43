// The Worker's D1 binding, opened from a Node script through wrangler's getPlatformProxy(): a real
// binding (prepared statements, bound parameters, batches as one transaction), so the query
// functions of src/db/ run unchanged, against the local D1 that `npm run dev` uses or, with
// `remote`, the deployed one. Only wrangler's API is imported here: nothing of local-db.mjs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const CONFIG = join(ROOT, 'wrangler.toml')

/**
 * Opens the `DB` binding of wrangler.toml. Call `dispose()` when done: it stops the workerd
 * process behind the binding, without which Node never exits.
 *
 * - local (the default): the state `wrangler dev` reads, `.wrangler/state` beside wrangler.toml,
 *   or `persistTo`, which means what `wrangler dev --persist-to` means (relative to the cwd).
 * - `remote`: the deployed database named in wrangler.toml, through a remote binding (wrangler
 *   must be logged in, or CLOUDFLARE_API_TOKEN set). A remote binding is chosen per binding in the
 *   config (`remote = true`), and wrangler.toml must not say so, or `wrangler dev` would write to
 *   production; so the proxy is given a one-binding config of its own, in a temporary directory.
 *
 * @param {{ remote?: boolean, persistTo?: string }} [target]
 * @returns {Promise<{ db: D1Database, dispose: () => Promise<void> }>}
 */
export async function openD1({ remote = false, persistTo } = {}) {
  if (remote && persistTo) throw new Error('persistTo is for the local D1 only')
  const { getPlatformProxy, unstable_readConfig } = await import('wrangler')
  const { name, compatibility_date, d1_databases } = unstable_readConfig({ config: CONFIG })
  const binding = d1_databases.find((d) => d.binding === 'DB')
  if (!binding) throw new Error('wrangler.toml has no D1 binding named DB')
  const dir = mkdtempSync(join(tmpdir(), 'todo-auth-d1-'))
  const removeConfig = () => rmSync(dir, { recursive: true, force: true })
  const configPath = join(dir, 'wrangler.json')
  const { database_name, database_id, preview_database_id } = binding
  // Locally the state is keyed as `wrangler dev` keys it (the preview id if any); remotely the
  // proxy would use a preview id too, so it gets the production database's id alone.
  const db = remote
    ? { binding: 'DB', database_name, database_id, remote: true }
    : { binding: 'DB', database_name, database_id, preview_database_id }
  writeFileSync(configPath, JSON.stringify({ name, compatibility_date, d1_databases: [db] }))
  try {
    const proxy = await getPlatformProxy({
      configPath,
      // No .env/.dev.vars: the scripts need the DB binding only, never a secret.
      envFiles: [],
      persist: remote
        ? false
        : { path: join(resolve(persistTo ?? join(ROOT, '.wrangler/state')), 'v3') },
      remoteBindings: remote,
    })
    let disposed
    return {
      db: proxy.env.DB,
      dispose: () => {
        disposed ??= proxy.dispose().finally(removeConfig)
        return disposed
      },
    }
  } catch (err) {
    removeConfig()
    throw err
  }
}

/** Runs `use(db)` on the binding and disposes of it afterwards, whatever happens. */
export async function withD1(target, use) {
  const { db, dispose } = await openD1(target)
  try {
    return await use(db)
  } finally {
    await dispose()
  }
}
