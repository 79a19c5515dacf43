#!/usr/bin/env node
// `npm run user -- <command>`: user accounts for operators. This is how a deployment gets its first
// admin. It applies the Worker's own rules, imported from src/ rather than copied: the zod schemas
// (username, password policy, roles, scopes), bcrypt at BCRYPT_COST from wrangler.toml, and the
// queries, including the last-admin guard and ending sessions on a new password or disabling.
import { userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import { Refused, runCli, UsageError } from './cli.mjs'
import { openD1 } from './d1.mjs'
import { promptHidden } from './prompt.mjs'
import './src-modules.mjs'
import { workerVars } from './worker-vars.mjs'

const USAGE = `Usage: npm run user -- <command> [--remote | --persist-to DIR]

  add NAME [--role user|admin] [--scopes read,write] [--name TEXT] [--email ADDRESS]
  list
  set-password NAME
  disable NAME
  enable NAME
  delete NAME

Passwords are read from the terminal without echo, or from stdin when it is not a terminal
(one line), never from an argument. The target is the local D1 of \`npm run dev\` unless
--remote (the deployed D1 of wrangler.toml, through a remote binding; wrangler must be logged in
or CLOUDFLARE_API_TOKEN set) or --persist-to (another local state dir, as for wrangler dev).`

const { config } = await import('../src/config.ts')
const { hashPassword } = await import('../src/domain/passwords.ts')
const { newPassword, userCreate } = await import('../src/http/schemas/users.ts')
const { listUsers, userByUsername } = await import('../src/db/users.ts')
const { run } = await import('../src/db/query.ts')
const { changeUser, createUser, removeUser } = await import('../src/db/accounts.ts')

const COMMANDS = ['add', 'list', 'set-password', 'disable', 'enable', 'delete']

function fail(message) {
  throw new Refused(message)
}

/** zod issues as "field: message" lines. */
const explain = (error) =>
  error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('\n  ')

async function readPassword() {
  let password
  if (process.stdin.isTTY) {
    password = await promptHidden('Password: ')
    if ((await promptHidden('Repeat it: ')) !== password) fail('the passwords do not match')
  } else {
    let input = ''
    for await (const chunk of process.stdin.setEncoding('utf8')) input += chunk
    password = input.replace(/\r?\n$/, '')
    if (/[\r\n]/.test(password)) fail('stdin must hold the password on one line')
  }
  const checked = newPassword.safeParse(password)
  if (!checked.success) fail(`password refused: ${checked.error.issues[0].message}`)
  return password
}

async function main(onDispose) {
  const { values: opts, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      remote: { type: 'boolean', default: false },
      'persist-to': { type: 'string' },
      role: { type: 'string' },
      scopes: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const [command, username, ...extra] = positionals
  if (opts.help) return console.log(USAGE)
  if (!COMMANDS.includes(command))
    throw new UsageError(command ? `unknown command ${command}` : 'give a command')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`)
  if (command !== 'list' && !username) throw new UsageError(`${command} needs a username`)
  if (command === 'list' && username) throw new UsageError('list takes no username')
  if (command !== 'add' && ['role', 'scopes', 'name', 'email'].some((o) => opts[o] !== undefined))
    throw new UsageError('--role, --scopes, --name and --email belong to add')
  if (opts.remote && opts['persist-to'])
    throw new UsageError('--persist-to is for the local D1 only')

  /** @type {D1Database} */
  let db
  // Opened once the arguments (and, for add, the password) passed: a refusal starts no workerd.
  const connect = async () => {
    const d1 = await openD1({ remote: opts.remote, persistTo: opts['persist-to'] })
    onDispose(d1.dispose)
    db = d1.db
  }
  // The production cost, parsed as the Worker parses it; wrangler is imported only when needed, it is large.
  const bcryptCost = async () => config(await workerVars({ remote: opts.remote })).bcryptCost
  const by = (what) => ({
    userAgent: 'todo-auth user CLI',
    detail: `by ${operator()} with the user CLI${what ? `: ${what}` : ''}`,
  })
  const existing = async () =>
    (await userByUsername(db, username).first()) ?? fail(`no user named ${username}`)
  /** The user an account change applied to; else the reason, and exit. */
  const applied = (outcome) => {
    if (outcome.ok) return outcome.user
    if (outcome.reason === 'taken') fail(`the username ${username} is taken`)
    fail(
      outcome.reason === 'last_admin'
        ? `${username} is the last enabled admin; make another admin first`
        : `no user named ${username}`,
    )
  }

  switch (command) {
    case 'add': {
      const fields = userCreate.omit({ password: true }).safeParse({
        username,
        role: opts.role,
        scopes: opts.scopes?.split(',').map((s) => s.trim()),
        name: opts.name,
        email: opts.email,
      })
      if (!fields.success) fail(`refused:\n  ${explain(fields.error)}`)
      const password = await readPassword()
      await connect()
      const user = applied(
        await createUser(
          db,
          { ...fields.data, passwordHash: await hashPassword(password, await bcryptCost()) },
          by(),
        ),
      )
      return console.log(
        `added ${user.username} (role ${user.role}, scopes ${user.scopes.join(' ') || 'none'}, id ${user.id})`,
      )
    }
    case 'list': {
      await connect()
      const rows = []
      for (let page; !page || page.length === 500; rows.push(...page))
        page = await run(db, listUsers(db, { limit: 500, offset: rows.length }))
      const table = rows.map((u) => [
        u.username,
        u.role,
        u.scopes.join(' ') || '-',
        u.disabled ? 'disabled' : 'enabled',
        u.name || '-',
        u.email || '-',
        u.id,
      ])
      const header = ['USERNAME', 'ROLE', 'SCOPES', 'STATUS', 'NAME', 'EMAIL', 'ID']
      const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)))
      for (const row of [header, ...table])
        console.log(
          row
            .map((cell, i) => cell.padEnd(widths[i]))
            .join('  ')
            .trimEnd(),
        )
      return
    }
    case 'set-password': {
      await connect()
      const { id } = await existing()
      const passwordHash = await hashPassword(await readPassword(), await bcryptCost())
      const user = applied(await changeUser(db, id, { passwordHash }, by('password')))
      return console.log(`set a new password for ${user.username}; their sessions have ended`)
    }
    case 'disable':
    case 'enable': {
      await connect()
      const user = applied(
        await changeUser(
          db,
          (await existing()).id,
          { disabled: command === 'disable' },
          by('disabled'),
        ),
      )
      return console.log(
        user.disabled
          ? `disabled ${user.username}; their sessions have ended`
          : `enabled ${user.username}`,
      )
    }
    case 'delete': {
      await connect()
      const user = applied(await removeUser(db, (await existing()).id, by()))
      return console.log(`deleted ${user.username} and their todos`)
    }
  }
}

/** Who ran the CLI, for the audit trail. */
function operator() {
  try {
    return `operator ${userInfo().username}`
  } catch {
    return 'an operator'
  }
}

const unmigrated = (err) =>
  /no such table/.test(err.message)
    ? '\n  The database has no schema yet: `npm run dev` migrates the local one;' +
      ' `npx wrangler d1 migrations apply DB --local|--remote` any.'
    : ''

await runCli('user', USAGE, main, unmigrated)
