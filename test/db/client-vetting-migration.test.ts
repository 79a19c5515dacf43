import { env } from 'cloudflare:test'
import { expect, it } from 'vitest'

// Migration 0007 replayed on this file's own D1 (storage is isolated per test file):
// back to the clients table as 0002 left it, some clients of every shape, then 0007 as
// `wrangler d1 migrations apply` runs it on a database in production.

const run = async (queries: string[]) => {
  for (const sql of queries) await env.DB.prepare(sql).run()
}

it('starts unvetted every client that registration could have made, and no other', async () => {
  await run([
    // Migration 0009's triggers read the column.
    'DROP TRIGGER clients_metadata_document_unvetted',
    'DROP TRIGGER clients_metadata_document_unvetted_insert',
    'DROP INDEX clients_vetted_names',
    'ALTER TABLE clients DROP COLUMN vetted',
  ])
  const insert = (id: string, type: string, grants: string[], scope: string, firstParty = 0) =>
    env.DB.prepare(
      `INSERT INTO clients (client_id, client_secret_hash, client_name, client_type,
         redirect_uris, grant_types, scope, token_endpoint_auth_method, first_party, created_at,
         updated_at)
       VALUES (?1, ?2, ?1, ?3, '["https://app.example/cb"]', ?4, ?5, ?6, ?7, 'now', 'now')`,
    )
      .bind(
        id,
        type === 'public' ? null : 'f'.repeat(64),
        type,
        JSON.stringify(grants),
        scope,
        type === 'public' ? 'none' : 'client_secret_basic',
        firstParty,
      )
      .run()
  const CODE = ['authorization_code', 'refresh_token']
  const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'
  await insert('registered', 'public', CODE, 'read write')
  await insert('registered-reordered', 'public', ['refresh_token', 'authorization_code'], 'read')
  await insert('registered-code-only', 'public', ['authorization_code'], '')
  await insert('confidential', 'confidential', CODE, 'read write')
  await insert('first-party', 'public', CODE, 'read write', 1)
  await insert('device', 'public', [DEVICE, ...CODE], 'read write')
  await insert('password', 'public', ['password'], 'read')

  await run(env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0007'))!.queries)

  const { results } = await env.DB.prepare(
    'SELECT client_id, vetted FROM clients ORDER BY client_id',
  ).all<{ client_id: string; vetted: number }>()
  expect(Object.fromEntries(results.map((r) => [r.client_id, r.vetted]))).toEqual({
    confidential: 1,
    device: 1,
    'first-party': 1,
    password: 1,
    registered: 0,
    'registered-code-only': 0,
    'registered-reordered': 0,
    'todo-web': 1,
  })
  // A first-party client cannot be unvetted.
  await expect(
    env.DB.prepare("UPDATE clients SET vetted = 0 WHERE client_id = 'todo-web'").run(),
  ).rejects.toThrow(/CHECK/)
})
