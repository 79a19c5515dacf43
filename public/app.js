// The todo-auth web client: plain DOM, no framework, no build step.
//
// Tokens live in this module's variables only. Nothing goes to localStorage, sessionStorage or a
// cookie, so a reload or a closed tab logs out, and no script can find a stored refresh token.

const $ = (id) => document.getElementById(id)
const view = {
  account: $('account'),
  accountName: $('account-name'),
  message: $('message'),
  login: $('login-view'),
  todos: $('todos-view'),
  list: $('todo-list'),
  empty: $('empty'),
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error_description ?? `The server answered ${status}.`)
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

async function requestTokens(params) {
  const res = keepBookmark(
    await fetch('/auth/token', { method: 'POST', body: new URLSearchParams(params) }),
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
  view.message.hidden = !text
}

/** Runs a user action, showing its error, if any, in the alert region. */
async function act(action) {
  try {
    say('')
    await action()
  } catch (err) {
    if (!(err instanceof ApiError)) console.error(err)
    say(err instanceof ApiError ? err.message : 'The server could not be reached.')
  }
}

// Lists and sharing (public/lists.js) learn of the session through these two events only.
const announce = (name, detail) =>
  document.dispatchEvent(new CustomEvent(`todo-auth:${name}`, { detail }))

function showLogin() {
  announce('signed-out')
  view.todos.hidden = true
  view.account.hidden = true
  view.login.hidden = false
  view.list.replaceChildren()
  $('username').focus()
}

function showTodos(user, todos) {
  view.accountName.textContent = user.name || user.username
  view.login.hidden = true
  view.account.hidden = false
  view.todos.hidden = false
  view.list.replaceChildren(...todos.map(todoItem))
  view.empty.hidden = todos.length > 0
  $('title').focus()
}

const todoPath = (todo) => `/api/todos/${encodeURIComponent(todo.id)}`

function todoItem(todo) {
  const item = document.createElement('li')
  const box = document.createElement('input')
  box.type = 'checkbox'
  box.id = `todo-${todo.id}`
  box.checked = todo.completed
  const label = document.createElement('label')
  label.htmlFor = box.id
  label.textContent = todo.title
  const remove = document.createElement('button')
  remove.type = 'button'
  remove.textContent = 'Delete'
  remove.setAttribute('aria-label', `Delete “${todo.title}”`)
  item.classList.toggle('done', todo.completed)
  item.append(box, label, remove)

  box.addEventListener('change', () =>
    act(async () => {
      try {
        const updated = await api('PATCH', todoPath(todo), { completed: box.checked })
        item.classList.toggle('done', updated.completed)
      } catch (err) {
        box.checked = !box.checked
        throw err
      }
    }),
  )
  remove.addEventListener('click', () =>
    act(async () => {
      await api('DELETE', todoPath(todo))
      item.remove()
      view.empty.hidden = view.list.children.length > 0
      $('title').focus()
    }),
  )
  return item
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  act(async () => {
    const password = $('password')
    await requestTokens({
      grant_type: 'password',
      username: $('username').value,
      password: password.value,
    })
    password.value = ''
    const [user, todos] = await Promise.all([api('GET', '/users/me'), api('GET', '/api/todos')])
    showTodos(user, todos)
    announce('signed-in', { api, user })
  })
})

$('add-form').addEventListener('submit', (event) => {
  event.preventDefault()
  act(async () => {
    const todo = await api('POST', '/api/todos', { title: $('title').value })
    view.list.prepend(todoItem(todo))
    view.empty.hidden = true
    event.target.reset()
  })
})

$('logout').addEventListener('click', () =>
  act(async () => {
    try {
      await api('POST', '/auth/logout')
    } finally {
      // Forgotten even if the server could not be told: this tab holds no tokens afterwards.
      forget()
      showLogin()
    }
  }),
)

showLogin()
