#!/usr/bin/env node
// `npm run idp -- <command>`: upstream OpenID Connect providers for operators, the CLI twin of
// /admin/identity-providers. It applies the Worker's own rules, imported from src/: the zod
// schemas, the issuer rule (https; loopback http only with ALLOW_INSECURE_IDP), the queries
// (disabling ends the provider's sign-ins and sessions) and the client secret's encryption.
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Refused, runCli, UsageError } from './cli.mjs'
import { openD1 } from './d1.mjs'
import { promptHidden } from './prompt.mjs'
import { workerVars } from './worker-vars.mjs'
import './src-modules.mjs'

const USAGE = `Usage: npm run idp -- <command> [--remote | --persist-to DIR]

  add ID --name TEXT --issuer URL --client-id ID [--scopes "openid email profile"]
         [--allow-signup] [--allowed-domains a.example,b.example] [--trusted-email] [--disabled]
  list
  set-secret ID
  disable ID
  enable ID
  delete ID

The client secret is read from the terminal without echo, or from stdin when it is not a
terminal (one line), never from an argument. It is encrypted with IDP_SECRET_KEY: the
environment variable if set (it must be the deployed Worker's secret for --remote), else the
one in .dev.vars (npm run dev writes it). Register {ISSUER}/auth/federate/ID/callback at the
provider as the redirect URI.`

const { config } = await import('../src/config.ts')
const { issuerProblem } = await import('../src/federation/oidc.ts')
const { encryptSecret } = await import('../src/federation/secret.ts')
const { providerCreate } = await import('../src/http/schemas/federation.ts')
const db_ = await import('../src/db/identity-providers.ts')

const COMMANDS = ['add', 'list', 'set-secret', 'disable', 'enable', 'delete']
const fail = (message) => {
  throw new Refused(message)
}

function secretKey() {
  if (process.env.IDP_SECRET_KEY) return process.env.IDP_SECRET_KEY
  const local = existsSync('.dev.vars') ? readFileSync('.dev.vars', 'utf8') : ''
  const found = local.match(/^IDP_SECRET_KEY\s*=\s*"?([^"\n]+)"?/m)
  return found?.[1] ?? fail('no IDP_SECRET_KEY: set the variable (or run npm run dev once)')
}

async function readSecret() {
  let secret
  if (process.stdin.isTTY) secret = await promptHidden('Client secret: ')
  else {
    let input = ''
    for await (const chunk of process.stdin.setEncoding('utf8')) input += chunk
    secret = input.replace(/\r?\n$/, '')
  }
  if (!secret || /[\r\n]/.test(secret)) fail('the client secret must be one non-empty line')
  return secret
}

async function main(onDispose) {
  const { values: opts, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      remote: { type: 'boolean', default: false },
      'persist-to': { type: 'string' },
      name: { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      scopes: { type: 'string' },
      'allow-signup': { type: 'boolean' },
      'allowed-domains': { type: 'string' },
      'trusted-email': { type: 'boolean' },
      disabled: { type: 'boolean' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const [command, id, ...extra] = positionals
  if (opts.help) return console.log(USAGE)
  if (!COMMANDS.includes(command))
    throw new UsageError(command ? `unknown command ${command}` : 'give a command')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`)
  if (command !== 'list' && !id) throw new UsageError(`${command} needs a provider id`)
  if (command === 'list' && id) throw new UsageError('list takes no provider id')
  if (opts.remote && opts['persist-to'])
    throw new UsageError('--persist-to is for the local D1 only')

  /** The Worker's vars where the command acts (scripts/worker-vars.mjs). */
  const vars = () => workerVars({ remote: opts.remote })
  let db
  const connect = async () => {
    const d1 = await openD1({ remote: opts.remote, persistTo: opts['persist-to'] })
    onDispose(d1.dispose)
    db = d1.db
  }
  const env = { IDP_SECRET_KEY: command === 'add' || command === 'set-secret' ? secretKey() : '' }

  switch (command) {
    case 'add': {
      const fields = providerCreate.omit({ client_secret: true }).safeParse({
        id,
        name: opts.name,
        issuer: opts.issuer,
        client_id: opts['client-id'],
        scopes: opts.scopes,
        allow_signup: opts['allow-signup'] ?? false,
        allowed_domains: opts['allowed-domains']?.split(',').map((d) => d.trim()) ?? [],
        trusted_email: opts['trusted-email'] ?? false,
        enabled: !opts.disabled,
      })
      if (!fields.success)
        fail(
          `refused:\n  ${fields.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`,
        )
      const problem = issuerProblem(config(await vars()), fields.data.issuer)
      if (problem) fail(`refused: issuer: ${problem}`)
      const secret = await readSecret()
      await connect()
      const client_secret = await encryptSecret(env, id, secret)
      const added = await db_.insertProvider(db, { ...fields.data, client_secret })
      if (!added) fail(`the provider id ${id} is taken`)
      return console.log(
        `added ${added.id} (${added.issuer}); register ` +
          `${(await vars()).ISSUER || '{ISSUER}'}/auth/federate/${added.id}/callback at the provider`,
      )
    }
    case 'list': {
      await connect()
      const rows = []
      for (let page; !page || page.length === 500; rows.push(...page))
        page = await db_.listProviders(db, { limit: 500, offset: rows.length })
      for (const p of rows)
        console.log(
          [p.id, p.enabled ? 'enabled' : 'disabled', p.issuer, p.client_id, p.name].join('  '),
        )
      return
    }
    case 'set-secret': {
      const secret = await readSecret()
      await connect()
      const client_secret = await encryptSecret(env, id, secret)
      if (!(await db_.updateProvider(db, id, { client_secret }))) fail(`no provider ${id}`)
      return console.log(`set a new client secret for ${id}`)
    }
    case 'disable':
    case 'enable': {
      await connect()
      const enabled = command === 'enable'
      if (!(await db_.updateProvider(db, id, { enabled }))) fail(`no provider ${id}`)
      return console.log(
        enabled ? `enabled ${id}` : `disabled ${id}; its sign-ins and sessions have ended`,
      )
    }
    case 'delete': {
      await connect()
      if (!(await db_.deleteProvider(db, id))) fail(`no provider ${id}`)
      return console.log(`deleted ${id} and its identities; its sessions have ended`)
    }
  }
}

await runCli('idp', USAGE, main)
