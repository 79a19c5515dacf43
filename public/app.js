// The todo-auth web client's session: plain DOM, no framework, no build step. This module signs
// in, keeps the tokens and sends API requests; the signed-in app (lists.js, teams.js) draws the
// lists and teams and learns of the session only through two events (below).
//
// A first-party public OAuth client ("todo-web", seeded by migrations/0003_clients.sql) of the
// server it is served by: it signs in with the authorization code flow and PKCE (RFC 7636, S256)
// on the server's own login page, so it never sees a password. Its redirect URI is the issuer's
// "/", i.e. this page.
//
// Tokens live in this module's variables only. Nothing goes to localStorage or a cookie, so a
// reload or a closed tab forgets them (the server's sign-in cookie, HttpOnly, may then let "Log
// in" through without the password). Only the PKCE verifier and state wait in sessionStorage
// across the round trip to the login page, and are removed as soon as the page comes back.

const $ = (id) => document.getElementById(id)
const view = {
  account: $('account'),
  accountName: $('account-name'),
  message: $('message'),
  status: $('status'),
  login: $('login-view'),
}

class ApiError extends Error {
  constructor(status, body) {
    // A refused field says what is wrong with it ("Must not be empty."): more use than "invalid".
    const issues = body?.issues?.map((issue) => issue.message).join(' ')
    super(issues || (body?.error_description ?? `The server answered ${status}.`))
    this.status = status
  }
}

const failure = async (res) => new ApiError(res.status, await res.json().catch(() => null))
const sessionEnded = () =>
  new ApiError(401, { error_description: 'Your session has ended. Please log in again.' })

/** @type {{ access: string, refresh: string, timer: number } | null} */
let tokens = null
/** The refresh in flight: whoever needs a new access token meanwhile waits for this one. */
let refreshing = null

/**
 * The last D1 bookmark the server gave (docs/performance.md), sent back with every request so
 * that, with read replicas, a list never shows data older than what this page just wrote.
 */
let bookmark = null
const withBookmark = (headers) => (bookmark ? { ...headers, 'x-d1-bookmark': bookmark } : headers)
const keepBookmark = (res) => {
  bookmark = res.headers.get('x-d1-bookmark') ?? bookmark
  return res
}

const CLIENT_ID = 'todo-web'
const PENDING = 'todo-auth:pending-login'

async function requestTokens(params) {
  const res = keepBookmark(
    await fetch('/auth/token', {
      method: 'POST',
      body: new URLSearchParams({ ...params, client_id: CLIENT_ID }),
    }),
  )
  if (!res.ok) throw await failure(res)
  keep(await res.json())
}

function keep({ access_token, refresh_token, expires_in }) {
  clearTimeout(tokens?.timer)
  // Refresh a minute before the access token expires (halfway, for short lifetimes), so requests
  // rarely meet a 401; a timer that fires late (a sleeping laptop) is covered by the 401 retry.
  const early = Math.min(60, expires_in / 2)
  const timer = setTimeout(
    () => refresh().catch((err) => say(err.message)),
    (expires_in - early) * 1000,
  )
  tokens = { access: access_token, refresh: refresh_token, timer }
}

function forget() {
  clearTimeout(tokens?.timer)
  tokens = null
}

/** Rotates the refresh token; if that fails the session is over and the user must log in again. */
function refresh() {
  if (!tokens) return Promise.reject(sessionEnded())
  refreshing ??= requestTokens({ grant_type: 'refresh_token', refresh_token: tokens.refresh })
    .catch(() => {
      forget()
      showLogin()
      const returned = new URLSearchParams(location.search)
      if (returned.has('code') || returned.has('error')) act(() => finishLogin(returned))
      throw sessionEnded()
    })
    .finally(() => {
      refreshing = null
    })
  return refreshing
}

/** A Bearer request; on a 401 it refreshes once (unless someone already did) and tries again. */
async function api(method, path, body) {
  const send = async (access) =>
    keepBookmark(
      await fetch(path, {
        method,
        headers: withBookmark({
          Authorization: `Bearer ${access}`,
          ...(body && { 'Content-Type': 'application/json' }),
        }),
        body: body && JSON.stringify(body),
      }),
    )
  await refreshing
  if (!tokens) throw sessionEnded()
  const used = tokens.access
  let res = await send(used)
  if (res.status === 401) {
    if (tokens?.access === used) await refresh()
    if (!tokens) throw sessionEnded()
    res = await send(tokens.access)
  }
  if (!res.ok) throw await failure(res)
  return res.status === 204 ? null : res.json()
}

function say(text) {
  view.message.textContent = text
}

/** Runs a user action, showing its error, if any, in the alert region. */
async function act(action) {
  try {
    say('')
    view.status.textContent = ''
    await action()
  } catch (err) {
    if (!(err instanceof ApiError)) console.error(err)
    say(err instanceof ApiError ? err.message : 'The server could not be reached.')
  }
}

// The signed-in app (public/lists.js) learns of the session through these two events only.
const announce = (name, detail) =>
  document.dispatchEvent(new CustomEvent(`todo-auth:${name}`, { detail }))

function showLogin() {
  announce('signed-out')
  view.account.hidden = true
  view.login.hidden = false
  $('login').focus()
}

const base64url = (bytes) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')
const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)))

/** RFC 8414 discovery: the issuer (for `iss`, RFC 9207) and the authorization endpoint. */
async function discover() {
  const res = await fetch('/.well-known/oauth-authorization-server')
  if (!res.ok) throw await failure(res)
  return res.json()
}

/** Off to the server's login page with a fresh PKCE verifier and state. */
async function startLogin() {
  const { issuer, authorization_endpoint } = await discover()
  const verifier = randomString()
  const state = randomString()
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }))
  const url = new URL(authorization_endpoint)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: `${issuer}/`,
    scope: 'read write',
    state,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
  })
  location.assign(url)
}

/**
 * Back from the login page: checks `state` and `iss`, trades the code for tokens. The query is
 * removed from the address bar first, so the code is neither bookmarked nor reused on reload.
 */
async function finishLogin(params) {
  history.replaceState(null, '', '/')
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null')
  sessionStorage.removeItem(PENDING)
  const { issuer } = await discover()
  if (!pending || params.get('state') !== pending.state || params.get('iss') !== issuer)
    throw new ApiError(400, { error_description: 'That sign-in did not come from here.' })
  if (params.has('error')) {
    throw new ApiError(400, {
      error_description: params.get('error_description') ?? 'Signing in did not work.',
    })
  }
  await requestTokens({
    grant_type: 'authorization_code',
    code: params.get('code'),
    redirect_uri: `${issuer}/`,
    code_verifier: pending.verifier,
  })
  const user = await api('GET', '/users/me')
  // The username is the identity; a display name alone could pass for someone else's.
  view.accountName.textContent = user.name ? `${user.name} (${user.username})` : user.username
  view.login.hidden = true
  view.account.hidden = false
  announce('signed-in', { api, user })
}

$('login').addEventListener('click', () => act(startLogin))

$('logout').addEventListener('click', () =>
  act(async () => {
    try {
      // Revokes the session (every token of it) and ends the server's sign-in cookie.
      await api('POST', '/auth/logout')
    } finally {
      // Forgotten even if the server could not be told: this tab holds no tokens afterwards.
      forget()
      showLogin()
      const returned = new URLSearchParams(location.search)
      if (returned.has('code') || returned.has('error')) act(() => finishLogin(returned))
    }
  }),
)

showLogin()
const returned = new URLSearchParams(location.search)
if (returned.has('code') || returned.has('error')) act(() => finishLogin(returned))
