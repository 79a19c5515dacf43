// The operator CLI (scripts/user.mjs) against a real local D1, run by Node as operators run it.
// The file works in its own wrangler state directory, so the dev database is never touched; the
// test reads and writes that state through a D1 binding of its own (scripts/d1.mjs), as the CLI
// does. Every CLI run starts a workerd (a second or two), so the steps build on each other in
// order, like an operator's session, rather than each starting from scratch.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import bcrypt from 'bcryptjs'
import { openD1 } from '../../scripts/d1.mjs'
import { wrangler } from '../../scripts/local-db.mjs'
import { runCli } from './helpers.mjs'

const STATE = mkdtempSync(join(tmpdir(), 'todo-auth-cli-'))
/** @type {Awaited<ReturnType<typeof openD1>>} */
let d1
/** @type {D1Database} */
let db

/** Runs `npm run user -- ...args` (minus npm) with `stdin` piped in; resolves to { code, stdout, stderr }. */
function user(args, stdin = '') {
  return runCli('scripts/user.mjs', args, { persistTo: STATE, stdin })
}

/** One batch for several reads: [user row, their audit events, their sessions' revoked_at]. */
async function stateOf(username) {
  const [users, events, sessions] = await db.batch([
    db.prepare('SELECT * FROM users WHERE username = ?1').bind(username),
    db
      .prepare('SELECT event, detail, user_agent FROM audit_events WHERE username = ?1 ORDER BY id')
      .bind(username),
    db
      .prepare(
        'SELECT s.revoked_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = ?1',
      )
      .bind(username),
  ])
  return {
    row: users.results[0] ?? null,
    events: events.results,
    revoked: sessions.results.map((s) => s.revoked_at !== null),
  }
}

/** A live session for the user, as a login would leave it. */
const addSession = (username) =>
  db
    .prepare(
      "INSERT INTO sessions (id, user_id, scope, created_at, expires_at) SELECT ?2, id, 'read write', 1, 4000000000 FROM users WHERE username = ?1",
    )
    .bind(username, crypto.randomUUID())

const ok = (res) => assert.equal(res.code, 0, res.stderr)

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

describe('npm run user', () => {
  it('adds the first admin with the password from stdin, hashed at the production cost', async () => {
    const name = 'Ro\'ot"; DROP TABLE users; -- ?1'
    const res = await user(
      [
        'add',
        'root',
        '--role',
        'admin',
        '--scopes',
        'write,read',
        '--name',
        name,
        '--email',
        'root@example.com',
      ],
      'first admin password\n',
    )
    ok(res)
    assert.match(res.stdout, /^added root \(role admin, scopes read write, id [0-9a-f-]{36}\)$/m)

    const { row, events } = await stateOf('root')
    assert.equal(row.name, name)
    assert.equal(row.scopes, 'read write')
    assert.equal(bcrypt.getRounds(row.password_hash), 10)
    assert.ok(bcrypt.compareSync('first admin password', row.password_hash))
    assert.deepEqual(events, [
      { event: 'user_created', detail: events[0].detail, user_agent: 'todo-auth user CLI' },
    ])
    assert.match(events[0].detail, /^by .+ with the user CLI$/)
  })

  it('applies the Worker’s rules to usernames, passwords, roles and scopes, and refuses taken names', async () => {
    const refused = [
      [['add', 'no spaces allowed'], /username: /],
      [['add', 'weakling'], /password refused: Password is too common/, 'password123\n'],
      [
        ['add', 'toolong'],
        /password refused: Password must be at most 72 bytes/,
        `${'x'.repeat(73)}\n`,
      ],
      [['add', 'twolines'], /one line/, 'long enough password\nand more\n'],
      [['add', 'bossy', '--role', 'owner'], /role: /],
      [['add', 'scoped', '--scopes', 'read,delete'], /scopes\.1: /],
      [['add', 'ROOT'], /the username ROOT is taken/, 'long enough password\n'],
    ]
    for (const [args, message, stdin] of refused) {
      const res = await user(args, stdin)
      assert.equal(res.code, 1, args.join(' '))
      assert.match(res.stderr, message)
    }
  })

  it('never takes a password as an argument', async () => {
    const res = await user(['add', 'argpass', '--password', 'long enough password'])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /Unknown option '--password'/)
  })

  it('lists users without their hashes', async () => {
    const res = await user(['list'])
    ok(res)
    assert.match(res.stdout, /^USERNAME +ROLE +SCOPES +STATUS +NAME +EMAIL +ID$/m)
    assert.match(res.stdout, /^root +admin +read write +enabled +Ro'ot/m)
    assert.doesNotMatch(res.stdout, /\$2[aby]\$/)
    assert.equal(res.stdout.trim().split('\n').length, 2)
  })

  it('sets a password and ends the user’s sessions', async () => {
    await addSession('root').run()
    ok(await user(['set-password', 'root'], 'second admin password\n'))
    const { row, events, revoked } = await stateOf('root')
    assert.ok(bcrypt.compareSync('second admin password', row.password_hash))
    assert.deepEqual(revoked, [true])
    assert.deepEqual(
      events.map((e) => e.event),
      ['user_created', 'user_updated'],
    )
    assert.match(events[1].detail, /: password$/)
    assert.doesNotMatch(JSON.stringify(events), /admin password/)
  })

  it('will not disable the last enabled admin, and disables and deletes otherwise', async () => {
    const refused = await user(['disable', 'root'])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /root is the last enabled admin/)

    ok(await user(['add', 'second', '--role', 'admin'], 'another admin password\n'))
    await db.batch([
      addSession('root'),
      db.prepare(
        "INSERT INTO todos (id, owner_id, list_id, title, created_at, updated_at) SELECT 'cli-todo', u.id, l.id, 'x', '', '' FROM users AS u JOIN lists AS l ON l.owner_id = u.id AND l.is_default = 1 WHERE u.username = 'root'",
      ),
    ])
    // Root's todo is in root's default list, which the users_default_list trigger gave root.
    const [planted] = await db.batch([db.prepare("SELECT id FROM todos WHERE id = 'cli-todo'")])
    assert.equal(planted.results.length, 1)
    ok(await user(['disable', 'root']))
    const root = await stateOf('root')
    assert.equal(root.row.disabled, 1)
    assert.deepEqual(root.revoked, [true, true])

    ok(await user(['delete', 'root']))
    const [users, todos, events] = await db.batch([
      db.prepare('SELECT username FROM users'),
      db.prepare("SELECT id FROM todos WHERE id = 'cli-todo'"),
      db.prepare("SELECT event, detail FROM audit_events WHERE username = 'root' ORDER BY id"),
    ])
    assert.deepEqual([users.results, todos.results], [[{ username: 'second' }], []])
    // The refused disable left no event; the others did, each saying what changed.
    assert.deepEqual(
      events.results.map((e) => `${e.event}${e.detail.replace(/^by .+ with the user CLI/, '')}`),
      ['user_created', 'user_updated: password', 'user_updated: disabled', 'user_deleted'],
    )
  })
})
