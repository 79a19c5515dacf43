import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'

// Replays the schema's history in this file's own D1 (storage is isolated per test file): back to
// 0001, todos written as they were before lists existed, then every later migration, as
// `wrangler d1 migrations apply` would run them on a database in production.

const migrations = env.TEST_MIGRATIONS
const run = async (queries: string[]) => {
  for (const sql of queries) await env.DB.prepare(sql).run()
}

async function backTo0001() {
  await run([
    'DROP TRIGGER IF EXISTS users_default_list',
    'DROP TRIGGER IF EXISTS clients_metadata_document_unvetted',
    'DROP TRIGGER IF EXISTS clients_metadata_document_unvetted_insert',
    ...[
      'client_assertions',
      'consent_hosts',
      'client_metadata',
      'federation_requests',
      'identities',
      'todos',
      'list_members',
      'team_members',
      'teams',
      'lists',
      'device_codes',
      'revoked_client_tokens',
      'consents',
      'authorization_codes',
      'signins',
      'passkeys',
      'webauthn_challenges',
      'refresh_tokens',
      'sessions',
      'clients',
      'identity_providers',
      'login_failures',
      'audit_events',
      'users',
    ].map((t) => `DROP TABLE IF EXISTS ${t}`),
  ])
  await run(migrations.find((m) => m.name.startsWith('0001'))!.queries)
}

const later = () => migrations.filter((m) => !m.name.startsWith('0001')).flatMap((m) => m.queries)

describe('the lists migration', () => {
  it('keeps every existing todo, each in its owner’s default list, in the same order', async () => {
    await backTo0001()
    const now = '2026-01-01T00:00:00.000Z'
    const users = ['u1', 'u2', 'u3']
    for (const id of users)
      await env.DB.prepare(
        `INSERT INTO users (id, username, password_hash, created_at, updated_at)
         VALUES (?1, ?1, 'x', ?2, ?2)`,
      )
        .bind(id, now)
        .run()
    const before: { id: string; owner_id: string; title: string }[] = []
    for (let i = 0; i < 30; i++) {
      const todo = { id: `t${i}`, owner_id: users[i % 2]!, title: `todo ${i}` }
      before.push(todo)
      await env.DB.prepare(
        `INSERT INTO todos (id, owner_id, title, description, completed, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'd', ?4, ?5, ?5)`,
      )
        .bind(todo.id, todo.owner_id, todo.title, i % 3 === 0 ? 1 : 0, now)
        .run()
    }
    const order = async () =>
      (
        await env.DB.prepare(
          'SELECT id FROM todos WHERE owner_id = ?1 ORDER BY created_at DESC, rowid DESC',
        )
          .bind('u1')
          .all<{ id: string }>()
      ).results.map((r) => r.id)
    const orderBefore = await order()
    const snapshot = async () =>
      (
        await env.DB.prepare(
          'SELECT id, owner_id, title, description, completed, created_at, updated_at FROM todos ORDER BY id',
        ).all()
      ).results

    const rowsBefore = await snapshot()
    await run(later())

    expect(await snapshot()).toEqual(rowsBefore)
    expect(await order()).toEqual(orderBefore)
    const { results: placed } = await env.DB.prepare(
      `SELECT t.id, t.owner_id, l.owner_id AS list_owner, l.is_default
       FROM todos AS t JOIN lists AS l ON l.id = t.list_id`,
    ).all<{ id: string; owner_id: string; list_owner: string; is_default: number }>()
    expect(placed).toHaveLength(before.length)
    for (const row of placed) {
      expect(row.list_owner).toBe(row.owner_id)
      expect(row.is_default).toBe(1)
    }
    const { results: defaults } = await env.DB.prepare(
      'SELECT owner_id, id FROM lists WHERE is_default = 1 ORDER BY owner_id',
    ).all<{ owner_id: string; id: string }>()
    expect(defaults.map((d) => d.owner_id)).toEqual(users)
    for (const d of defaults)
      expect(d.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('gives a user inserted afterwards a default list, however it is inserted', async () => {
    const id = crypto.randomUUID()
    await env.DB.prepare(
      `INSERT INTO users (id, username, password_hash, created_at, updated_at)
       VALUES (?1, ?1, 'x', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
    )
      .bind(id)
      .run()
    const row = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM lists WHERE owner_id = ?1 AND is_default = 1',
    )
      .bind(id)
      .first<{ n: number }>()
    expect(row?.n).toBe(1)
  })

  it('refuses a todo whose owner is not its list’s owner', async () => {
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()]
    for (const id of [a, b])
      await env.DB.prepare(
        `INSERT INTO users (id, username, password_hash, created_at, updated_at)
         VALUES (?1, ?1, 'x', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
      )
        .bind(id)
        .run()
    const insert = env.DB.prepare(
      `INSERT INTO todos (id, owner_id, list_id, title, created_at, updated_at)
       SELECT 'stray', ?1, id, 'x', 'now', 'now' FROM lists WHERE owner_id = ?2`,
    ).bind(a, b)
    await expect(insert.run()).rejects.toThrow(/FOREIGN KEY/)
  })
})
