#!/usr/bin/env node
// `npm run client -- <command>`: the OAuth client registry for operators, as scripts/user.mjs is
// for users. It applies the Worker's own rules and queries, imported from src/ rather than copied:
// the admin API's schema (src/http/schemas/clients.ts) and src/db/clients.ts, on a real D1 binding
// (scripts/d1.mjs): disabling ends the client's sessions in the same transaction, deleting takes
// its sessions, codes and consents with it.
import { parseArgs } from 'node:util'
import { Refused, runCli, UsageError } from './cli.mjs'
import { openD1 } from './d1.mjs'
import './src-modules.mjs'

const USAGE = `Usage: npm run client -- <command> [--remote | --persist-to DIR]

  add NAME [--redirect-uri URI…] [--grant TYPE…] [--scope "read write"]
      [--auth-method client_secret_basic|client_secret_post|none] [--first-party]
  list
  vet CLIENT_ID
  disable CLIENT_ID
  enable CLIENT_ID
  delete CLIENT_ID
  rotate-secret CLIENT_ID

add defaults as POST /admin/clients does: the code and refresh grants, scope "read write",
client_secret_basic (a confidential client, whose secret is printed this once). The code grant
needs a --redirect-uri, in canonical form (https://app.example/, not https://app.example); a
device or client_credentials client needs none. Machine scopes (users:read, audit:read) need
--grant client_credentials and a confidential client; introspect (a resource server that may call
/auth/introspect) needs a confidential client. vet marks a client that anyone registered
(RFC 7591; "unvetted" in the list) as checked by you, for good. The target is
the local D1 of \`npm run dev\` unless --remote (the deployed D1 of wrangler.toml; wrangler must be
logged in or CLOUDFLARE_API_TOKEN set) or --persist-to (another local state dir).`

const { clientCreate } = await import('../src/http/schemas/clients.ts')
const {
  clientDeletion,
  clientSecretRotation,
  findClient,
  insertClient,
  listClients,
  updateClient,
} = await import('../src/db/clients.ts')
const { run } = await import('../src/db/query.ts')

const COMMANDS = ['add', 'list', 'vet', 'disable', 'enable', 'delete', 'rotate-secret']

const explain = (error) =>
  error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('\n  ')

function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  for (const row of [header, ...rows])
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
}

async function main(onDispose) {
  const { values: opts, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      remote: { type: 'boolean', default: false },
      'persist-to': { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      grant: { type: 'string', multiple: true },
      scope: { type: 'string' },
      'auth-method': { type: 'string' },
      'first-party': { type: 'boolean' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (opts.help) return console.log(USAGE)
  const [command, subject, ...extra] = positionals
  if (!COMMANDS.includes(command))
    throw new UsageError(command ? `unknown command ${command}` : 'give a command')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`)
  if (command === 'list' && subject) throw new UsageError('list takes no argument')
  if (command !== 'list' && !subject)
    throw new UsageError(`${command} needs ${command === 'add' ? 'a name' : 'a client id'}`)
  const addOnly = ['redirect-uri', 'grant', 'scope', 'auth-method', 'first-party']
  if (command !== 'add' && addOnly.some((o) => opts[o] !== undefined))
    throw new UsageError(
      '--redirect-uri, --grant, --scope, --auth-method, --first-party are for add',
    )
  if (opts.remote && opts['persist-to'])
    throw new UsageError('--persist-to is for the local D1 only')

  let fields
  if (command === 'add') {
    const parsed = clientCreate.safeParse({
      client_name: subject,
      redirect_uris: opts['redirect-uri'] ?? [],
      grant_types: opts.grant,
      scope: opts.scope,
      token_endpoint_auth_method: opts['auth-method'],
      first_party: opts['first-party'],
    })
    if (!parsed.success) throw new Refused(`refused:\n  ${explain(parsed.error)}`)
    fields = parsed.data
  }

  const d1 = await openD1({ remote: opts.remote, persistTo: opts['persist-to'] })
  onDispose(d1.dispose)
  const { db } = d1
  const noSuch = () => new Refused(`no client ${subject}`)

  switch (command) {
    case 'add': {
      const { client, client_secret } = await insertClient(db, fields)
      console.log(
        `added ${client.client_name} (${client.client_type}, grants ${client.grant_types.join(' ')}` +
          `, scope ${client.scope || 'none'}): client_id ${client.client_id}`,
      )
      if (client_secret)
        console.log(`client_secret ${client_secret}\n(shown this once; it is stored as a hash)`)
      return
    }
    case 'list': {
      const rows = []
      for (let page; !page || page.length === 500; rows.push(...page))
        page = await run(db, listClients(db, { limit: 500, offset: rows.length }))
      table(
        rows.map((c) => [
          c.client_id,
          c.client_name,
          c.client_type,
          c.grant_types.join(' '),
          c.scope || '-',
          `${c.disabled ? 'disabled' : 'enabled'}${c.vetted ? '' : ', unvetted'}`,
        ]),
        ['CLIENT_ID', 'NAME', 'TYPE', 'GRANTS', 'SCOPE', 'STATUS'],
      )
      return
    }
    case 'vet': {
      const client = await updateClient(db, subject, { vetted: true })
      if (!client) throw noSuch()
      return console.log(`vetted ${client.client_id} (${client.client_name})`)
    }
    case 'disable':
    case 'enable': {
      const client = await updateClient(db, subject, { disabled: command === 'disable' })
      if (!client) throw noSuch()
      return console.log(
        client.disabled
          ? `disabled ${client.client_id}; its sessions have ended`
          : `enabled ${client.client_id}`,
      )
    }
    case 'delete': {
      if (!(await run(db, clientDeletion(db, subject)))) throw noSuch()
      return console.log(`deleted ${subject} with its sessions, codes and consents`)
    }
    case 'rotate-secret': {
      const rotated = await run(db, await clientSecretRotation(db, subject))
      if (rotated === null) throw noSuch()
      if (rotated === 'public') throw new Refused(`${subject} is a public client: it has no secret`)
      const { client_name } = (await findClient(db, subject)) ?? {}
      return console.log(
        `new client_secret for ${client_name ?? subject}: ${rotated.client_secret}\n` +
          '(shown this once; the old secret no longer works)',
      )
    }
  }
}

await runCli('client', USAGE, main)
