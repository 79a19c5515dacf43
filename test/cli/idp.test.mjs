// The identity provider CLI (scripts/idp.mjs) against a real local D1 of its own, as operators
// run it. The steps build on each other in order, like an operator's session.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openD1 } from '../../scripts/d1.mjs'
import { wrangler } from '../../scripts/local-db.mjs'
import { runCli } from './helpers.mjs'

const STATE = mkdtempSync(join(tmpdir(), 'todo-auth-idp-cli-'))
const KEY = 'cli-test-only-key-0123456789abcdef0123456789'
let d1
let db

/** Runs `npm run idp -- ...args` (minus npm) with `stdin` piped in. */
function idp(args, stdin = '') {
  const env = { ...process.env, IDP_SECRET_KEY: KEY }
  return runCli('scripts/idp.mjs', args, { persistTo: STATE, stdin, env })
}

const ok = (res) => assert.equal(res.code, 0, res.stderr)
const row = (id) => db.prepare('SELECT * FROM identity_providers WHERE id = ?1').bind(id).first()

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

describe('npm run idp', () => {
  it('adds a provider with its secret from stdin, stored encrypted', async () => {
    const add = [
      'add',
      'corp',
      '--name',
      'Corp SSO',
      '--issuer',
      'https://sso.corp.example',
      '--client-id',
      'todo-auth',
      '--allow-signup',
      '--allowed-domains',
      'corp.example',
    ]
    const res = await idp(add, 'the-upstream-secret\n')
    ok(res)
    assert.match(res.stdout, /\/auth\/federate\/corp\/callback/)
    const stored = await row('corp')
    assert.equal(stored.issuer, 'https://sso.corp.example')
    assert.equal(stored.allow_signup, 1)
    assert.equal(stored.allowed_domains, '["corp.example"]')
    assert.doesNotMatch(stored.client_secret, /the-upstream-secret/)
    assert.equal((await idp(add, 'again\n')).code, 1, 'the id is taken')
  })

  it('refuses an http issuer off loopback, before asking for the secret', async () => {
    const res = await idp(
      ['add', 'plain', '--name', 'Plain', '--issuer', 'http://sso.example', '--client-id', 'x'],
      'secret\n',
    )
    assert.equal(res.code, 1)
    assert.match(res.stderr, /https/)
    assert.equal(await row('plain'), null)
  })

  it('accepts a loopback http issuer for the local D1, as npm run dev does', async () => {
    const res = await idp(
      ['add', 'local', '--name', 'Local', '--issuer', 'http://127.0.0.1:9999', '--client-id', 'x'],
      'secret\n',
    )
    ok(res)
    assert.equal((await row('local')).issuer, 'http://127.0.0.1:9999')
    ok(await idp(['delete', 'local']))
  })

  it('lists, disables, enables and deletes', async () => {
    const list = await idp(['list'])
    ok(list)
    assert.match(list.stdout, /^corp {2}enabled {2}https:\/\/sso\.corp\.example/m)
    ok(await idp(['disable', 'corp']))
    assert.equal((await row('corp')).enabled, 0)
    ok(await idp(['enable', 'corp']))
    assert.equal((await row('corp')).enabled, 1)
    ok(await idp(['delete', 'corp']))
    assert.equal(await row('corp'), null)
    assert.equal((await idp(['delete', 'corp'])).code, 1)
  })
})
