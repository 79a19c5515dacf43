#!/usr/bin/env node
// `npm run todo -- <command>`: the todo API from a terminal, signed in as a native app (RFC 8252)
// with the public client `todo-cli` (seeded by `npm run dev`). The protocol is oauth4webapi's,
// not ours: discovery (RFC 8414), the device flow (RFC 8628) or the code flow with PKCE on a
// loopback redirect (RFC 8252 §7.3), refresh by rotation, revocation on logout (RFC 7009).
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import * as oauth from 'oauth4webapi'

const USAGE = `Usage: npm run todo -- <command> [--server URL]

  login [--device | --browser]   sign in (device code, or the browser on a loopback redirect)
  list                           your todos
  add "title"                    a new todo
  done ID                        mark one done
  logout                         revoke this login and forget it

The server is --server, else $TODO_AUTH_SERVER, else the one you logged in to, else
http://127.0.0.1:8787 (npm run dev). Without --device or --browser, login opens the browser when
there is one to open (a desktop session), else uses the device flow. Tokens are kept in
$XDG_CONFIG_HOME/todo-auth/tokens.json (default ~/.config), readable by you only.`

const CLIENT = { client_id: 'todo-cli' }
const SCOPE = 'read write'
const DEFAULT_SERVER = 'http://127.0.0.1:8787'
const LOGIN_TIMEOUT_MS = 10 * 60_000

class UsageError extends Error {}
class Refused extends Error {}

const tokenFile = () =>
  join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'todo-auth', 'tokens.json')

function readTokens() {
  try {
    return JSON.parse(readFileSync(tokenFile(), 'utf8'))
  } catch {
    return null
  }
}

/** Written to a file only the user can read (0600, in a 0700 directory), replaced atomically. */
function saveTokens(server, t) {
  const file = tokenFile()
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const next = `${file}.${process.pid}.tmp`
  const saved = {
    server,
    client_id: CLIENT.client_id,
    access_token: t.access_token,
    refresh_token: t.refresh_token,
    expires_at: Math.floor(Date.now() / 1000) + (t.expires_in ?? 0),
    scope: t.scope,
  }
  writeFileSync(next, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 })
  renameSync(next, file)
  return saved
}

/** Plain http only for a loopback server (local development), as RFC 8252 §8.3 allows. */
function options(server) {
  const { protocol, hostname } = new URL(server)
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(hostname)
  if (protocol !== 'https:' && !loopback)
    throw new Refused(`refusing plain http to ${hostname}: use https`)
  return protocol === 'https:' ? {} : { [oauth.allowInsecureRequests]: true }
}

/** The server's RFC 8414 metadata, whose issuer must be the server asked. */
async function discover(server) {
  const issuer = new URL(server)
  const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...options(server) })
  return oauth.processDiscoveryResponse(issuer, res)
}

/** The device flow: show the code, poll until the person decides (RFC 8628 §3.4-3.5). */
async function deviceLogin(as, opts) {
  const started = await oauth.processDeviceAuthorizationResponse(
    as,
    CLIENT,
    await oauth.deviceAuthorizationRequest(as, CLIENT, oauth.None(), { scope: SCOPE }, opts),
  )
  console.log(
    `To sign in, open ${started.verification_uri} and enter the code ${started.user_code}`,
  )
  if (started.verification_uri_complete)
    console.log(`(or open ${started.verification_uri_complete})`)
  let interval = started.interval ?? 5
  const deadline = Date.now() + (started.expires_in ?? 600) * 1000
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, interval * 1000))
    try {
      return await oauth.processDeviceCodeResponse(
        as,
        CLIENT,
        await oauth.deviceCodeGrantRequest(as, CLIENT, oauth.None(), started.device_code, opts),
      )
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err
      if (err.error === 'authorization_pending') continue
      if (err.error === 'slow_down') {
        interval += 5
        continue
      }
      if (err.error === 'access_denied') throw new Refused('the sign-in was denied')
      if (err.error === 'expired_token') throw new Refused('the code expired; log in again')
      throw err
    }
  }
  throw new Refused('the code expired; log in again')
}

/** Opens `url` in the system browser ($BROWSER if set); the URL is printed either way. */
function openBrowser(url) {
  const command =
    process.env.BROWSER || { darwin: 'open', win32: 'explorer' }[process.platform] || 'xdg-open'
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true })
    child.on('error', () => {})
    child.unref()
  } catch {
    // Nothing to open it with: the printed URL is enough.
  }
}

const canOpenBrowser = () =>
  ['darwin', 'win32'].includes(process.platform) ||
  Boolean(process.env.BROWSER || process.env.DISPLAY || process.env.WAYLAND_DISPLAY)

/**
 * The code flow with PKCE on a loopback redirect (RFC 8252 §7.3): a listener on 127.0.0.1 on a
 * port the system picks, the system browser for the login and consent, one callback.
 */
async function browserLogin(as, opts) {
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  let settle
  const callback = new Promise((resolve, reject) => (settle = { resolve, reject }))
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== '/callback') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
    res.end('<!doctype html><title>todo CLI</title><p>You can close this tab and go back.</p>')
    settle.resolve(url)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const redirectUri = `http://127.0.0.1:${server.address().port}/callback`
  const timer = setTimeout(
    () => settle.reject(new Refused('no sign-in came back')),
    LOGIN_TIMEOUT_MS,
  )
  try {
    const authorize = new URL(as.authorization_endpoint)
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT.client_id,
      redirect_uri: redirectUri,
      scope: SCOPE,
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString()
    console.log(`Opening your browser to sign in. If it does not open, visit:\n${authorize}`)
    openBrowser(authorize.href)
    const params = oauth.validateAuthResponse(as, CLIENT, await callback, state)
    return await oauth.processAuthorizationCodeResponse(
      as,
      CLIENT,
      await oauth.authorizationCodeGrantRequest(
        as,
        CLIENT,
        oauth.None(),
        params,
        redirectUri,
        verifier,
        opts,
      ),
    )
  } finally {
    clearTimeout(timer)
    server.close()
  }
}

/** The saved login, refreshed by rotation when its access token has (nearly) expired. */
async function session({ force = false } = {}) {
  const saved = readTokens()
  if (!saved?.refresh_token) throw new Refused('not logged in: run npm run todo -- login')
  if (!force && saved.expires_at - 30 > Date.now() / 1000) return saved
  const opts = options(saved.server)
  const as = await discover(saved.server)
  try {
    const t = await oauth.processRefreshTokenResponse(
      as,
      CLIENT,
      await oauth.refreshTokenGrantRequest(as, CLIENT, oauth.None(), saved.refresh_token, opts),
    )
    return saveTokens(saved.server, t)
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant')
      throw new Refused('the login has ended: run npm run todo -- login')
    throw err
  }
}

/** A call to the todo API; once more with a refreshed token if the first is refused. */
async function api(path, init = {}) {
  let s = await session()
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(new URL(path, s.server), {
      ...init,
      headers: {
        ...init.headers,
        Authorization: `Bearer ${s.access_token}`,
        ...(init.body && { 'Content-Type': 'application/json' }),
      },
    })
    if (res.status === 401 && attempt === 0) {
      s = await session({ force: true })
      continue
    }
    const body = res.status === 204 ? null : await res.json()
    if (!res.ok) throw new Refused(`${body?.error_description ?? res.statusText} (${res.status})`)
    return body
  }
}

async function main() {
  const { values: opts, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      server: { type: 'string' },
      device: { type: 'boolean', default: false },
      browser: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (opts.help) return console.log(USAGE)
  const [command, arg, ...extra] = positionals
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`)
  const takesArg = { add: 'a title', done: 'a todo id' }
  if (!['login', 'list', 'add', 'done', 'logout'].includes(command))
    throw new UsageError(command ? `unknown command ${command}` : 'give a command')
  if (takesArg[command] && !arg) throw new UsageError(`${command} needs ${takesArg[command]}`)
  if (!takesArg[command] && arg !== undefined) throw new UsageError(`unexpected argument ${arg}`)
  if (command !== 'login' && (opts.device || opts.browser))
    throw new UsageError('--device and --browser belong to login')
  if (opts.device && opts.browser) throw new UsageError('choose --device or --browser')

  switch (command) {
    case 'login': {
      const server = (opts.server ?? process.env.TODO_AUTH_SERVER ?? DEFAULT_SERVER).replace(
        /\/+$/,
        '',
      )
      const as = await discover(server)
      const useBrowser = opts.browser || (!opts.device && canOpenBrowser())
      const t = await (useBrowser ? browserLogin : deviceLogin)(as, options(server))
      saveTokens(server, t)
      return console.log(`Logged in to ${server} (scope ${t.scope}).`)
    }
    case 'list': {
      const todos = await api('/api/todos?limit=100')
      if (todos.length === 0) return console.log('No todos.')
      for (const t of todos) console.log(`[${t.completed ? 'x' : ' '}] ${t.title}  (${t.id})`)
      return
    }
    case 'add': {
      const todo = await api('/api/todos', { method: 'POST', body: JSON.stringify({ title: arg }) })
      return console.log(`Added ${todo.title}  (${todo.id})`)
    }
    case 'done': {
      const path = `/api/todos/${encodeURIComponent(arg)}`
      const todo = await api(path, { method: 'PATCH', body: JSON.stringify({ completed: true }) })
      return console.log(`Done: ${todo.title}`)
    }
    case 'logout': {
      const saved = readTokens()
      if (!saved) return console.log('Not logged in.')
      // Revoking the refresh token ends the whole session, its access tokens included.
      const as = await discover(saved.server)
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(
          as,
          CLIENT,
          oauth.None(),
          saved.refresh_token,
          options(saved.server),
        ),
      )
      rmSync(tokenFile(), { force: true })
      return console.log('Logged out.')
    }
  }
}

try {
  await main()
} catch (err) {
  if (err instanceof UsageError || err?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    console.error(`todo: ${err.message}\n\n${USAGE}`)
    process.exitCode = 2
  } else {
    console.error(`todo: ${err instanceof Refused ? err.message : (err?.message ?? err)}`)
    process.exitCode = 1
  }
}
