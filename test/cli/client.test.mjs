// The client registry CLI (scripts/client.mjs) against a real local D1, run by Node as operators
// run it, in its own wrangler state directory (as test/cli/user.test.mjs does for users). The
// steps build on each other in order, like an operator's session.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openD1 } from '../../scripts/d1.mjs'
import { wrangler } from '../../scripts/local-db.mjs'
import { runCli } from './helpers.mjs'

const STATE = mkdtempSync(join(tmpdir(), 'todo-auth-client-cli-'))
/** @type {Awaited<ReturnType<typeof openD1>>} */
let d1
/** @type {D1Database} */
let db

function client(args) {
  return runCli('scripts/client.mjs', args, { persistTo: STATE })
}

const ok = (res) => assert.equal(res.code, 0, res.stderr)
const sha256 = (s) => createHash('sha256').update(s).digest('hex')
const row = (id) => db.prepare('SELECT * FROM clients WHERE client_id = ?1').bind(id).first()

let serviceId
let secret

before(async () => {
  assert.equal(
    await wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', STATE], {
      quiet: true,
    }),
    0,
  )
  d1 = await openD1({ persistTo: STATE })
  db = d1.db
})
after(async () => {
  await d1?.dispose()
  rmSync(STATE, { recursive: true, force: true })
})

describe('npm run client', () => {
  it('registers a confidential service with machine scopes and shows its secret once', async () => {
    const res = await client([
      'add',
      'Reporting',
      '--redirect-uri',
      'https://reports.example/cb',
      '--grant',
      'client_credentials',
      '--scope',
      'audit:read users:read',
      '--auth-method',
      'client_secret_post',
    ])
    ok(res)
    serviceId = res.stdout.match(/client_id (\S+)/)[1]
    secret = res.stdout.match(/client_secret (\S+)/)[1]
    const stored = await row(serviceId)
    assert.equal(stored.client_type, 'confidential')
    assert.equal(stored.scope, 'users:read audit:read')
    assert.equal(stored.grant_types, '["client_credentials"]')
    // Only the digest is kept.
    assert.equal(stored.client_secret_hash, sha256(secret))
  })

  it('grants introspect to a confidential client whatever its grants (a resource server)', async () => {
    const res = await client([
      'add',
      'Todo API',
      '--redirect-uri',
      'https://rs.example/cb',
      '--scope',
      'introspect',
    ])
    ok(res)
    const stored = await row(res.stdout.match(/client_id (\S+)/)[1])
    assert.equal(stored.client_type, 'confidential')
    assert.equal(stored.scope, 'introspect')
    assert.equal(stored.grant_types, '["authorization_code","refresh_token"]')
  })

  it('applies the admin API’s rules', async () => {
    const refused = [
      [['add', 'No redirect'], /redirect_uris: /],
      [['add', 'Bad uri', '--redirect-uri', 'javascript:alert(1)'], /redirect_uris\.0: /],
      [['add', 'Bad scope', '--redirect-uri', 'https://a.example/cb', '--scope', 'root'], /scope/],
      [
        [
          'add',
          'Public service',
          '--redirect-uri',
          'https://a.example/cb',
          '--grant',
          'client_credentials',
          '--auth-method',
          'none',
        ],
        /client_credentials needs a confidential client/,
      ],
    ]
    for (const [args, message] of refused) {
      const res = await client(args)
      assert.equal(res.code, 1, args.join(' '))
      assert.match(res.stderr, message)
    }
  })

  it('registers a device client without a redirect URI, and refuses a non-canonical one', async () => {
    const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'
    const res = await client(['add', 'Kiosk', '--grant', DEVICE, '--auth-method', 'none'])
    ok(res)
    const id = res.stdout.match(/client_id (\S+)/)[1]
    assert.equal((await row(id)).redirect_uris, '[]')
    const bare = await client(['add', 'Web', '--redirect-uri', 'https://app.example'])
    assert.equal(bare.code, 1)
    assert.match(bare.stderr, /canonical form: https:\/\/app\.example\//)
  })

  it('vets a client that anyone registered', async () => {
    await db
      .prepare(
        `INSERT INTO clients (client_id, client_name, client_type, redirect_uris, grant_types,
           scope, token_endpoint_auth_method, vetted, created_at, updated_at)
         VALUES ('self-made', 'Self-made', 'public', '["https://self.example/cb"]',
           '["authorization_code"]', 'read', 'none', 0, 'now', 'now')`,
      )
      .run()
    assert.match((await client(['list'])).stdout, /^self-made\s+Self-made.*enabled, unvetted$/m)
    ok(await client(['vet', 'self-made']))
    assert.equal((await row('self-made')).vetted, 1)
  })

  it('lists clients', async () => {
    const res = await client(['list'])
    ok(res)
    assert.match(res.stdout, /^CLIENT_ID\s+NAME\s+TYPE\s+GRANTS\s+SCOPE\s+STATUS$/m)
    assert.match(res.stdout, new RegExp(`^${serviceId}\\s+Reporting\\s+confidential`, 'm'))
    // The migration's web client is there too.
    assert.match(res.stdout, /^todo-web\s+/m)
  })

  it('rotates a secret: the old one stops working', async () => {
    const res = await client(['rotate-secret', serviceId])
    ok(res)
    const next = res.stdout.match(/client_secret for Reporting: (\S+)/)[1]
    assert.notEqual(next, secret)
    assert.equal((await row(serviceId)).client_secret_hash, sha256(next))
    const pub = await client(['rotate-secret', 'todo-web'])
    assert.equal(pub.code, 1)
    assert.match(pub.stderr, /public client/)
  })

  it('disables a client, ending its sessions, and enables it again', async () => {
    await db
      .prepare(
        `INSERT INTO users (id, username, password_hash, name, email, role, scopes, created_at,
           updated_at) VALUES ('u1', 'carol', 'x', '', '', 'user', 'read', 'now', 'now')`,
      )
      .run()
    await db
      .prepare(
        `INSERT INTO sessions (id, user_id, scope, created_at, expires_at, client_id)
         VALUES ('s1', 'u1', 'read', 1, 4000000000, 'todo-web')`,
      )
      .run()
    ok(await client(['disable', 'todo-web']))
    assert.equal((await row('todo-web')).disabled, 1)
    const session = await db.prepare("SELECT revoked_at FROM sessions WHERE id = 's1'").first()
    assert.notEqual(session.revoked_at, null)
    ok(await client(['enable', 'todo-web']))
    assert.equal((await row('todo-web')).disabled, 0)
  })

  it('deletes a client, and says when there is none', async () => {
    ok(await client(['delete', serviceId]))
    assert.equal(await row(serviceId), null)
    const again = await client(['delete', serviceId])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /no client/)
  })

  it('explains its usage', async () => {
    const res = await client(['disable'])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /disable needs a client id/)
  })
})
